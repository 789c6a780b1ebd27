"""PPRGo (Bojchevski et al., KDD 2020) against APPNP, and PPRGo end to end on synthetic-products.

Three modes, each printing one JSON line per measurement and appending it to
``benchmarks/records/pprgo/<file>.jsonl`` (with cores, load and commit):

* ``tune``: variants of a config (``key=value`` override sets, ``--variant`` repeatable) trained on the tuning
  seeds (default 100..102) and ranked by mean *validation* accuracy; test accuracy is not recorded here.
  File ``tune-<dataset>-<model>.jsonl``.
* ``final``: a config (a shipped YAML plus overrides) on the reported seeds 0..9: test and validation mean and
  std, per-seed test accuracy, and for PPRGo the phase times. File ``final-<dataset>.jsonl``; the APPNP rows of the
  comparison come from the same mode (``--config graphscale/configs/node-appnp-cora.yaml data.dataset=citeseer``).
* ``compare``: from the latest ``final`` records of PPRGo and APPNP per dataset, the distance in points (target:
  within 1). File ``compare.jsonl``.
* ``products``: ``graphscale train --config graphscale/configs/node-pprgo-synthetic-products.yaml --json`` in a
  subprocess (its own peak RSS): PPR, training, inference seconds and peak RSS from its summary, the load before
  and after. File ``products.jsonl``. The paper: MAG-Scholar (12.4M nodes) under 2 minutes on one machine.

Examples:
    python benchmarks/pprgo.py tune --config graphscale/configs/node-pprgo-cora.yaml \\
        --variant "model.alpha=0.1" --variant "model.alpha=0.2 model.K=10"
    python benchmarks/pprgo.py final --config graphscale/configs/node-pprgo-cora.yaml
    python benchmarks/pprgo.py final --config graphscale/configs/node-appnp-cora.yaml data.dataset=citeseer
    python benchmarks/pprgo.py compare --datasets cora citeseer
    nice -n 5 python benchmarks/pprgo.py products
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # stdlib only
from record_fields import loaded_versions, repo_relative

BENCH = "pprgo"
PRODUCTS_CONFIG = "graphscale/configs/node-pprgo-synthetic-products.yaml"
PHASES = ("ppr_s", "train_s", "inference_s", "end_to_end_s", "ppr_peak_rss_mb", "train_peak_rss_mb",
          "inference_peak_rss_mb", "ppr_roots", "ppr_neighbors", "select_val_acc", "epoch_time_s")


def train_summary(config: str, overrides: list[str], seed: int, seeds: int) -> dict[str, Any]:
    """``train_node`` summary of ``config`` + ``overrides`` on seeds ``seed .. seed+seeds-1`` (no output folder)."""
    import torch

    from graphscale import config as gconfig
    from graphscale.train.node import train_node
    from graphscale.train.run import load_dataset

    torch.set_num_threads(1)
    cfg = gconfig.load(config, [*overrides, f"train.seed={seed}", f"train.seeds={seeds}", "train.device=cpu"])
    dataset = load_dataset(cfg)
    began = time.perf_counter()
    summary = train_node(cfg, dataset, torch.device("cpu"), progress=False)
    summary["wall_s"] = time.perf_counter() - began
    summary["model"] = cfg.model.name
    summary["dataset"] = dataset.name
    summary["hparams"] = dict(cfg.model.hparams)
    summary["train_settings"] = {k: getattr(cfg.train, k) for k in ("epochs", "lr", "weight_decay", "patience",
                                                                    "weight_decay_first_layer_only")}
    return summary


def base_record(mode: str, config: str, overrides: list[str]) -> dict[str, Any]:
    return {"bench": BENCH, "impl": "graphscale", "mode": mode, "config": repo_relative(config),
            "overrides": overrides, **common.machine_info()}


def tune(args: argparse.Namespace) -> None:
    for variant in args.variant or [""]:
        overrides = [*args.overrides, *shlex.split(variant)]
        record = base_record("tune", args.config, overrides)
        try:
            summary = train_summary(args.config, overrides, args.seed, args.seeds)
        except Exception as err:  # noqa: BLE001  (a failed variant is a record, not the end of the sweep)
            record.update(status=common.failure_status(err), error=str(err)[:300])
        else:
            record.update(status="ok", dataset=summary["dataset"], model=summary["model"], variant=variant,
                          tuning_seeds=list(range(args.seed, args.seed + args.seeds)), val_acc=summary["val_acc"],
                          val_acc_std=summary["val_acc_std"], select_val_acc=summary.get("select_val_acc"),
                          epochs_run=summary["epochs_run"], wall_s=summary["wall_s"], hparams=summary["hparams"],
                          train_settings=summary["train_settings"])
        record.update(loaded_versions())
        common.emit(record)
        name = f"tune-{record.get('dataset', 'unknown')}-{record.get('model', 'unknown')}"
        common.append_record(BENCH, name, record)


def parallel_summary(args: argparse.Namespace) -> dict[str, Any]:
    """``train_summary`` over ``args.seeds`` seeds run by ``args.jobs`` worker processes (one seed each); the
    figures of a PPRGo run's phases come from the first seed's run (the one a single process would report)."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    def one(seed: int) -> dict[str, Any]:
        command = [sys.executable, __file__, "worker", "--config", args.config, "--seed", str(seed), "--seeds", "1",
                   *args.overrides]
        proc = subprocess.run(command, check=False, capture_output=True, text=True, cwd=common.REPO_ROOT)
        found = common.last_json(proc.stdout)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"seed {seed}: {common._tail(proc.stderr, 5)}")
        return found

    with ThreadPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(one, range(args.seed, args.seed + args.seeds)))
    runs = [run for part in parts for run in part["runs"]]
    merged = dict(parts[0])
    for key in ("test_acc", "val_acc"):
        values = [run[key] for run in runs]
        mean = sum(values) / len(values)
        merged[key], merged[f"{key}_std"] = mean, (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    merged["runs"], merged["wall_s"] = runs, sum(part["wall_s"] for part in parts)
    return json.loads(json.dumps(merged))


def worker(args: argparse.Namespace) -> None:
    """Print the ``train_summary`` of one seed range as one JSON line (for ``final --jobs``)."""
    import json

    from graphscale.train.plot import clean_json

    summary = train_summary(args.config, args.overrides, args.seed, args.seeds)
    summary.pop("curves", None)
    print(json.dumps(clean_json(summary), default=str))


def final(args: argparse.Namespace) -> None:
    record = base_record("final", args.config, args.overrides)
    summary = (parallel_summary(args) if args.jobs > 1
               else train_summary(args.config, args.overrides, args.seed, args.seeds))
    record.update(status="ok", dataset=summary["dataset"], model=summary["model"],
                  seeds=list(range(args.seed, args.seed + args.seeds)), test_acc=summary["test_acc"],
                  test_acc_std=summary["test_acc_std"], val_acc=summary["val_acc"],
                  val_acc_std=summary["val_acc_std"], per_seed_test_acc=[r["test_acc"] for r in summary["runs"]],
                  wall_s=summary["wall_s"], hparams=summary["hparams"], train_settings=summary["train_settings"],
                  **{key: summary.get(key) for key in PHASES if key in summary})
    record.update(loaded_versions())
    common.emit(record)
    common.append_record(BENCH, f"final-{summary['dataset']}", record)


def latest_final(path: Path, model: str) -> tuple[int, dict[str, Any]] | None:
    """``(line number, record)`` of the latest ``final`` record of ``model`` in ``path``."""
    import json

    lines = path.read_text().splitlines() if path.is_file() else []
    found = [(number, json.loads(text)) for number, text in enumerate(lines, 1) if text.strip()]
    found = [(n, line) for n, line in found
             if line.get("mode") == "final" and line.get("model") == model and line.get("status") == "ok"]
    return found[-1] if found else None


def compare(args: argparse.Namespace) -> None:
    """One line per dataset: the latest PPRGo and APPNP ``final`` records and their distance in points."""
    for dataset in args.datasets:
        path = common.RECORDS_DIR / BENCH / f"final-{dataset}.jsonl"
        pprgo, appnp = latest_final(path, "pprgo"), latest_final(path, "appnp")
        if pprgo is None or appnp is None:
            print(f"compare: {dataset}: expected final records of pprgo and appnp in {path.name}", file=sys.stderr)
            continue
        delta = 100 * (pprgo[1]["test_acc"] - appnp[1]["test_acc"])
        record = {"bench": BENCH, "impl": "graphscale", "mode": "compare", "status": "ok", "dataset": dataset,
                  "pprgo_test_acc": pprgo[1]["test_acc"], "pprgo_test_acc_std": pprgo[1]["test_acc_std"],
                  "appnp_test_acc": appnp[1]["test_acc"], "appnp_test_acc_std": appnp[1]["test_acc_std"],
                  "delta_vs_appnp_points": delta, "within_1_point": delta >= -1.0,
                  "pprgo_record": f"{path.name}:{pprgo[0]}", "appnp_record": f"{path.name}:{appnp[0]}",
                  "git_commit": pprgo[1].get("git_commit"), "git_dirty": pprgo[1].get("git_dirty")}
        common.emit(record)
        common.append_record(BENCH, "compare", record)


def products(args: argparse.Namespace) -> None:
    config = args.config or PRODUCTS_CONFIG
    out = Path(args.out or common.OUT_DIR / "pprgo-products")
    command = [sys.executable, "-m", "graphscale", "train", "--config", config, "--json", "--out", str(out),
               "--device", "cpu", "--no-progress", *(["--overwrite"] if out.exists() else []), *args.overrides]
    record = base_record("products", config, args.overrides)
    record["load_1m_before"] = round(os.getloadavg()[0], 2)
    began = time.perf_counter()
    proc = subprocess.run(command, check=False, cwd=common.REPO_ROOT, capture_output=True, text=True)
    record["command_wall_s"] = time.perf_counter() - began
    record["load_1m_after"] = round(os.getloadavg()[0], 2)
    summary = common.last_json(proc.stdout) if proc.returncode == 0 else None
    if summary is None:
        record.update(status="error", returncode=proc.returncode, error=common._tail(proc.stderr, 5))
    else:
        record.update(status="ok", dataset=summary["dataset"], model=summary["model"],
                      num_nodes=summary["num_nodes"], num_edges=summary["num_edges"], test_acc=summary["test_acc"],
                      val_acc=summary["val_acc"], peak_rss_mb=summary["peak_rss_mb"],
                      train_time_s=summary["train_time_s"], epochs_run=summary["epochs_run"],
                      paper_seconds=120.0, paper_dataset="MAG-Scholar (12.4M nodes, 173M edges)",
                      **{key: summary.get(key) for key in PHASES if key in summary})
    common.emit(repo_relative(record))
    common.append_record(BENCH, "products", repo_relative(record))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("tune", "final", "products", "compare", "worker"))
    parser.add_argument("--config", default=None, help="YAML config (tune/final: required).")
    parser.add_argument("--variant", action="append", help="tune: one set of key=value overrides (repeatable).")
    parser.add_argument("--seed", type=int, default=None, help="First seed (tune: 100, final: 0).")
    parser.add_argument("--seeds", type=int, default=None, help="Number of seeds (tune: 3, final: 10).")
    parser.add_argument("--out", default=None, help="products: output folder of the run.")
    parser.add_argument("--jobs", type=int, default=1, help="final: seeds run by this many worker processes.")
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer"], help="compare: datasets.")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run.")
    args = parser.parse_intermixed_args(argv)
    if args.mode in ("tune", "final", "worker") and args.config is None:
        parser.error(f"{args.mode}: --config is required")
    args.seed = args.seed if args.seed is not None else (100 if args.mode == "tune" else 0)
    args.seeds = args.seeds if args.seeds is not None else (3 if args.mode == "tune" else 10)
    {"tune": tune, "final": final, "products": products, "compare": compare, "worker": worker}[args.mode](args)


if __name__ == "__main__":
    main()
