"""Distillation (GLNN, LSP, G-CRD): accuracy of teacher, distilled student and the student alone, the validation
sweep that chose the shipped student settings, and the inference speed of teacher and MLP student.

One JSON line per measurement (bench ``distill``, ``impl`` graphscale, ``status``), appended with cores, load and
commit to the committed records ``benchmarks/records/distill/<name>.jsonl``:

* ``accuracy``: one line per seed and a final line (``seed`` "mean") with the means and stds of ``teacher_acc``,
  ``student_acc`` and ``baseline_acc`` (the same student without a teacher) for a shipped config; the reported
  seeds are 0..9, distinct from the tuning seeds.
* ``tune``: for each candidate (a list of ``key=value`` overrides of the student / distill sections) the mean
  VALIDATION accuracy of the distilled student over tuning seeds 100..104 (teachers trained once per seed); the
  chosen candidate (highest mean validation accuracy, ties to the earlier candidate) gets a line ``chosen``.
* ``speed``: milliseconds to predict 10,000 random nodes with the teacher (its full L-hop in-neighbourhood sampled
  into blocks + feature gather + forward) and with the MLP student (feature gather + forward), timed back to back
  in one process (median of ``--repeats``), on a dataset such as synthetic-arxiv. The timing does not depend on
  the weights, so the models keep their initial weights (training a teacher there is not needed to time it).

Examples:
    python benchmarks/distill.py accuracy --config distill-sage-mlp-cora --seeds 10
    python benchmarks/distill.py tune --config distill-sage-mlp-cora \\
        --grid '[["distill.temperature=1"], ["distill.temperature=2"]]'
    python benchmarks/distill.py speed --config distill-sage-mlp-cora --dataset synthetic-arxiv
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numba
import torch

from graphscale import config as gconfig
from graphscale.compress.distill import inference_nodes, inference_times
from graphscale.config.distill import DistillConfig
from graphscale.train.distill import (
    build_student,
    prepared,
    student_run,
    teacher_config,
    teacher_outputs,
)
from graphscale.train.distill_run import teacher_fanouts
from graphscale.train.node import build_model, train_node
from graphscale.train.run import load_dataset
from graphscale.train.runtime import fingerprint

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from record_fields import loaded_versions, repo_relative


def load_cfg(name: str, overrides: list[str]) -> DistillConfig:
    return gconfig.load(name, overrides=overrides, cls=DistillConfig)


def writer(args: argparse.Namespace, name: str) -> Any:
    def write(line: dict[str, Any]) -> None:
        line = {"bench": "distill", "impl": "graphscale", "run": args.run, **line, **loaded_versions()}
        if not args.no_records:
            common.append_record("distill", name, repo_relative(line))
        print(json.dumps(line), flush=True)

    return write


def cached_teachers(args: argparse.Namespace, cfg: DistillConfig, data: Any) -> tuple[dict[str, Any], list[Any]]:
    """Train the teachers of ``cfg`` (or read them back: ``--teacher-cache`` keeps their checkpoints under a folder
    named by the teacher's config, so the configs sharing a teacher on a dataset train it once) and their outputs."""
    import hashlib

    teacher_cfg = teacher_config(cfg)
    key = hashlib.sha1(json.dumps(fingerprint(teacher_cfg), sort_keys=True, default=str).encode()).hexdigest()[:12]
    folder = Path(args.teacher_cache) / f"{data.name}-{key}"
    summary = train_node(teacher_cfg, data, torch.device("cpu"), out_dir=folder, resume=True, progress=False)
    return summary, teacher_outputs(cfg, data, folder, torch.device("cpu"))


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.mean(values), statistics.pstdev(values)) if values else (None, None)


def accuracy(args: argparse.Namespace) -> None:
    overrides = [*args.set, f"train.seed={args.first_seed}", f"train.seeds={args.seeds}",
                 "distill.inference_repeats=0"]
    cfg = load_cfg(args.config, overrides)
    dataset = load_dataset(cfg)
    write = writer(args, f"accuracy-{dataset.name}")
    base = {"mode": "accuracy", "config": args.config, "overrides": args.set, "dataset": dataset.name,
            "teacher": cfg.model.name, "student": cfg.student.name, "student_hidden": cfg.student.hidden_dim,
            "method": cfg.distill.method}
    began = time.perf_counter()
    data = prepared(dataset, cfg)
    teacher, teachers = cached_teachers(args, cfg, data)
    result = {"teacher": teacher}
    for role, given in (("student", teachers), ("baseline", None)):
        result[role] = {"runs": [student_run(cfg, data, torch.device("cpu"), None if given is None else given[run],
                                             run)[0] for run in range(cfg.train.seeds)]}
    per_role = {role: result[role]["runs"] for role in ("teacher", "student", "baseline")}
    for i in range(cfg.train.seeds):
        write({**base, "status": "ok", "seed": args.first_seed + i,
               **{f"{role}_acc": runs[i]["test_acc"] for role, runs in per_role.items()},
               **{f"{role}_val_acc": runs[i]["val_acc"] for role, runs in per_role.items()}})
    summary = {**base, "status": "ok", "seed": "mean", "seeds": cfg.train.seeds, "first_seed": args.first_seed,
               "wall_s": time.perf_counter() - began, "peak_rss_mb": common.peak_rss_mb(),
               "paper_teacher_acc": cfg.expected.paper_teacher_acc,
               "paper_student_acc": cfg.expected.paper_student_acc,
               "paper_baseline_acc": cfg.expected.paper_baseline_acc}
    for role, runs in per_role.items():
        summary[f"{role}_acc"], summary[f"{role}_acc_std"] = mean_std([r["test_acc"] for r in runs])
        summary[f"{role}_val_acc"] = mean_std([r["val_acc"] for r in runs])[0]
    summary["gap"] = summary["teacher_acc"] - summary["student_acc"]
    write(summary)


def tune(args: argparse.Namespace) -> None:
    grid = json.loads(args.grid)
    cfg = load_cfg(args.config, [*args.set, f"train.seed={args.first_seed}", f"train.seeds={args.seeds}"])
    data = prepared(load_dataset(cfg), cfg)
    write = writer(args, f"tune-{data.name}")
    base = {"mode": "tune", "config": args.config, "overrides": args.set, "dataset": data.name, "status": "ok"}
    device = torch.device("cpu")
    teacher, teachers = cached_teachers(args, cfg, data)
    write({**base, "candidate": "teacher",
           "seeds": list(range(args.first_seed, args.first_seed + args.seeds)), "val_acc": teacher["val_acc"]})
    best: tuple[float, int] | None = None
    for index, candidate in enumerate(grid):
        trial = load_cfg(args.config, [*args.set, *candidate, f"train.seed={args.first_seed}",
                                       f"train.seeds={args.seeds}"])
        runs = [student_run(trial, data, device, teachers[run], run)[0] for run in range(args.seeds)]
        val = statistics.mean(r["val_acc"] for r in runs)
        write({**base, "candidate": candidate,
               "index": index, "seeds": [r["seed"] for r in runs], "val_acc": val,
               "val_acc_std": statistics.pstdev(r["val_acc"] for r in runs)})
        if best is None or val > best[0]:
            best = (val, index)
    if best is not None:
        write({**base, "chosen": grid[best[1]],
               "index": best[1], "val_acc": best[0], "rule": "highest mean validation accuracy, ties to the "
                                                              "earlier candidate"})


def speed(args: argparse.Namespace) -> None:
    cfg = load_cfg(args.config, [*args.set, f"data.dataset={args.dataset}"])
    data = prepared(load_dataset(cfg), cfg)
    write = writer(args, f"speed-{data.name}")
    torch.manual_seed(0)
    teacher = build_model(teacher_config(cfg), data.num_features, data.num_classes)
    student = build_student(cfg, data.num_features, data.num_classes)
    fanouts = teacher_fanouts(cfg, teacher)
    nodes = inference_nodes(data.num_nodes, args.nodes, seed=0)
    torch.set_num_threads(args.threads)
    timing = inference_times(teacher, student, data.graph, data.x.float(), nodes, fanouts, repeats=args.repeats)
    write({"mode": "speed", "config": args.config, "dataset": data.name, "status": "ok", "teacher": cfg.model.name,
           "teacher_hparams": cfg.model.hparams, "student": cfg.student.name, "student_hidden": cfg.student.hidden_dim,
           "student_layers": cfg.student.num_layers, "num_nodes": data.num_nodes,
           "num_edges": data.graph.num_edges, "threads": torch.get_num_threads(),
           "numba_threads": numba.get_num_threads(), **timing,
           "peak_rss_mb": common.peak_rss_mb()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("accuracy", "tune", "speed"))
    parser.add_argument("--config", required=True, help="shipped distill config name or YAML path")
    parser.add_argument("--set", nargs="*", default=[], help="key=value overrides applied to the config")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=None, help="default: 0 (accuracy), 100 (tune)")
    parser.add_argument("--grid", default="[[]]", help="tune: JSON list of override lists")
    parser.add_argument("--dataset", default="synthetic-arxiv", help="speed: the dataset")
    parser.add_argument("--nodes", type=int, default=10_000, help="speed: nodes predicted")
    parser.add_argument("--repeats", type=int, default=5, help="speed: timed repetitions (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--teacher-cache", default=str(Path(__file__).resolve().parent / "out" / "distill-teachers"),
                        help="folder keeping the trained teachers (by teacher config), shared by tune and accuracy")
    parser.add_argument("--no-records", action="store_true", help="print only; do not append to the records")
    args = parser.parse_args()
    if args.first_seed is None:
        args.first_seed = 100 if args.mode == "tune" else 0
    if args.mode == "tune" and args.seeds == 10:
        args.seeds = 5
    args.run = time.strftime("%Y-%m-%dT%H:%M:%S")
    torch.set_num_threads(args.threads)
    {"accuracy": accuracy, "tune": tune, "speed": speed}[args.mode](args)


if __name__ == "__main__":
    main()
