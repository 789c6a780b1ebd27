"""Link prediction accuracy (``graphscale link``): test AUC / AP / Hits@K / MRR of the shipped link configs, and
the validation sweeps that chose their settings.

One JSON line per measurement (bench ``link``, ``impl`` graphscale, ``status``), appended with cores, load and
commit to the committed records ``benchmarks/records/link/<mode>-<dataset>.jsonl``:

* ``accuracy``: one line per seed and a final line (``seed`` "mean") with the means and stds of the test and
  validation metrics of a shipped config, the epoch time and the peak RSS; reported seeds 0..9 (each run draws
  its own edge split from its seed), distinct from the tuning seeds. Runs checkpoint under ``--out`` and a
  repeated command resumes them.
* ``tune``: for each candidate (a list of ``key=value`` overrides) the mean VALIDATION AUC over tuning seeds
  100..102; the chosen candidate (highest mean validation AUC, ties to the earlier candidate) gets a line
  ``chosen``. Test metrics are not read.

Examples:
    python benchmarks/link_accuracy.py accuracy --config link-gae-cora
    python benchmarks/link_accuracy.py tune --config link-gae-cora --grid '[["train.loss=dense"], ["train.loss=sampled"]]'
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from graphscale import config as gconfig
from graphscale.config.link import LinkConfig
from graphscale.train.link import train_link
from graphscale.train.link_run import load_link_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from record_fields import loaded_versions, repo_relative

OUT = Path(__file__).resolve().parent / "out" / "link"


def load_cfg(name: str, overrides: list[str]) -> LinkConfig:
    return gconfig.load(name, overrides=overrides, cls=LinkConfig)


def writer(args: argparse.Namespace, name: str) -> Any:
    def write(line: dict[str, Any]) -> None:
        line = {"bench": "link", "impl": "graphscale", "run": args.run, **line, **loaded_versions()}
        if not args.no_records:
            common.append_record("link", name, repo_relative(line))
        print(json.dumps(line), flush=True)

    return write


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.mean(values), statistics.pstdev(values)) if values else (None, None)


def folder(cfg_name: str, overrides: list[str]) -> Path:
    key = hashlib.sha1(json.dumps([cfg_name, overrides]).encode()).hexdigest()[:10]
    return OUT / f"{Path(cfg_name).stem}-{key}"


def accuracy(args: argparse.Namespace) -> None:
    overrides = [*args.set, f"train.seed={args.first_seed}", f"train.seeds={args.seeds}"]
    cfg = load_cfg(args.config, overrides)
    dataset = load_link_dataset(cfg)
    write = writer(args, f"accuracy-{dataset.name}")
    base = {"mode": "accuracy", "config": args.config, "overrides": args.set, "dataset": dataset.name,
            "model": cfg.model.name, "decoder": cfg.model.decoder, "sampler": cfg.sampler.name,
            "loss": cfg.train.loss, "epochs": cfg.train.epochs}
    began = time.perf_counter()
    out = folder(args.config, overrides)
    summary = train_link(cfg, dataset, torch.device("cpu"), out_dir=out, resume=True, progress=False)
    metric_keys = [k for k in summary["runs"][0] if k.startswith(("test_", "val_")) and k != "val_loss"]
    for run in summary["runs"]:
        write({**base, "status": "ok", "seed": run["seed"], "best_epoch": run["best_epoch"],
               "epoch_time_s": run["epoch_time_s"], **{k: run[k] for k in metric_keys}})
    line = {**base, "status": "ok", "seed": "mean", "seeds": cfg.train.seeds, "first_seed": args.first_seed,
            "wall_s": time.perf_counter() - began, "peak_rss_mb": common.peak_rss_mb(),
            "epoch_time_s": summary["epoch_time_s"], "num_threads": torch.get_num_threads(),
            "paper_test_auc": cfg.expected.paper_test_auc, "paper_test_ap": cfg.expected.paper_test_ap,
            "target_auc": cfg.expected.target_auc, "target_ap": cfg.expected.target_ap}
    for key in metric_keys:
        line[key], line[f"{key}_std"] = mean_std([r[key] for r in summary["runs"]])
    write(line)


def tune(args: argparse.Namespace) -> None:
    grid = json.loads(args.grid)
    cfg = load_cfg(args.config, args.set)
    dataset = load_link_dataset(cfg)
    write = writer(args, f"tune-{dataset.name}")
    base = {"mode": "tune", "config": args.config, "overrides": args.set, "dataset": dataset.name, "status": "ok"}
    best: tuple[float, int] | None = None
    for index, candidate in enumerate(grid):
        overrides = [*args.set, *candidate, f"train.seed={args.first_seed}", f"train.seeds={args.seeds}"]
        trial = load_cfg(args.config, overrides)
        began = time.perf_counter()
        summary = train_link(trial, dataset, torch.device("cpu"), out_dir=folder(args.config, overrides),
                             resume=True, progress=False)
        runs = summary["runs"]
        val = statistics.mean(r["val_auc"] for r in runs)
        write({**base, "candidate": candidate, "index": index, "seeds": [r["seed"] for r in runs], "val_auc": val,
               "val_auc_std": statistics.pstdev(r["val_auc"] for r in runs),
               "val_ap": statistics.mean(r["val_ap"] for r in runs), "epoch_time_s": summary["epoch_time_s"],
               "wall_s": time.perf_counter() - began})
        if best is None or val > best[0]:
            best = (val, index)
    if best is not None:
        write({**base, "chosen": grid[best[1]], "index": best[1], "val_auc": best[0],
               "rule": "highest mean validation AUC, ties to the earlier candidate"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("accuracy", "tune"))
    parser.add_argument("--config", required=True, help="shipped link config name or YAML path")
    parser.add_argument("--set", nargs="*", default=[], help="key=value overrides applied to the config")
    parser.add_argument("--seeds", type=int, default=None, help="default: 10 (accuracy), 3 (tune)")
    parser.add_argument("--first-seed", type=int, default=None, help="default: 0 (accuracy), 100 (tune)")
    parser.add_argument("--grid", default="[[]]", help="tune: JSON list of override lists")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--no-records", action="store_true", help="print only; do not append to the records")
    args = parser.parse_args()
    tuning = args.mode == "tune"
    args.first_seed = (100 if tuning else 0) if args.first_seed is None else args.first_seed
    args.seeds = (3 if tuning else 10) if args.seeds is None else args.seeds
    args.run = time.strftime("%Y-%m-%dT%H:%M:%S")
    torch.set_num_threads(args.threads)
    {"accuracy": accuracy, "tune": tune}[args.mode](args)


if __name__ == "__main__":
    main()
