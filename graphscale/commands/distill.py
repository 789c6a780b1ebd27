"""``graphscale distill``: train a teacher GNN, distill it into a student, compare with the student alone.

The config is resolved like ``graphscale train``: ``--config FILE`` (or a shipped name such as
``distill-sage-mlp-cora``), else the shipped ``distill-<teacher>-<student>[-<method>]-<dataset>.yaml`` when the
flags name one, else the defaults; then the flags (``--dataset --teacher --student --student-hidden --method
--temperature --lambda --seeds --epochs --out --device``), then ``key=value`` overrides (``distill.temperature=2
student.lr=0.005``). With ``--json`` the last stdout line is one JSON object with ``teacher_acc``,
``student_acc``, ``mlp_acc`` (MLP students; ``baseline_acc`` always: the same student without a teacher) and the
inference times ``teacher_ms_per_10k`` (neighbourhood fetch + forward) and ``student_ms_per_10k``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_run_options, prepare_run


def shipped_distill(teacher: str, student: str, method: str | None, dataset: str) -> Path | None:
    """The shipped ``distill-<teacher>-<student>[-<method>]-<dataset>.yaml`` (no method part for kd), or None."""
    from ..config import config_dir, normalize_key

    parts = [teacher, student] + ([method] if method and normalize_key(method) != "kd" else []) + [dataset]
    path = config_dir() / ("distill-" + "-".join(normalize_key(p) for p in parts) + ".yaml")
    return path if path.is_file() else None


def resolve_config(args: argparse.Namespace) -> Any:
    from ..config import from_command
    from ..config.distill import DistillConfig
    from ..train.run import dataset_label

    path = Path(args.config) if args.config else None
    defaults = DistillConfig()
    if path is None and args.dataset:
        path = shipped_distill(args.teacher or defaults.model.name, args.student or defaults.student.name,
                               args.method, dataset_label(args.dataset))
    flags = (("--dataset", "data.dataset", args.dataset), ("--teacher", "model.name", args.teacher),
             ("--student", "student.name", args.student), ("--student-hidden", "student.hidden_dim",
                                                           args.student_hidden),
             ("--method", "distill.method", args.method), ("--temperature", "distill.temperature", args.temperature),
             ("--lambda", "distill.label_weight", args.label_weight), ("--seeds", "train.seeds", args.seeds),
             ("--epochs", "student.epochs", args.epochs), ("--out", "output.dir", args.out),
             ("--device", "train.device", args.device))
    return from_command(defaults, path, flags, args.overrides)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def cmd_distill(args: argparse.Namespace) -> int:
    from ..cli import json_line
    from ..train.distill_run import run_distill

    cfg = resolve_config(args)
    if prepare_run(args, cfg, "distill", "metrics.json only"):
        return 0
    summary = run_distill(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if args.json:
        print(json_line(summary))
        return 0
    print(f"{summary['dataset']}: {summary['teacher']} -> {summary['student']} ({summary['method']}, "
          f"{summary['seeds']} seeds, {summary['device']})")
    for role in ("teacher", "student", "baseline"):
        label = {"baseline": f"{summary['student']} alone"}.get(role, role)
        print(f"  {label:<16} test {_pct(summary[f'{role}_acc'])} ± {_pct(summary[f'{role}_acc_std'])}")
    if summary.get("teacher_ms_per_10k") is not None:
        print(f"  inference        teacher {summary['teacher_ms_per_10k']:.1f} ms / 10k nodes (with its "
              f"neighbourhood fetch), student {summary['student_ms_per_10k']:.2f} ms: "
              f"{summary['inference_speedup']:.1f}x")
    print(f"  output           {summary['output_dir']}/ (metrics.json, config.yaml, checkpoints)")
    return 0


def register(subparsers: Any) -> None:
    from ..config import shipped_configs

    distill = subparsers.add_parser(
        "distill", help="distill a trained GNN into an MLP (GLNN) or a smaller GNN (LSP, G-CRD)",
        description="Train a teacher GNN, distill it into a student and compare with the student trained alone. "
                    "Shipped configs: " + ", ".join(c for c in shipped_configs() if c.startswith("distill-")) + ".",
        epilog="Examples: graphscale distill --dataset cora --teacher sage --student mlp --json | graphscale "
               "distill --config distill-sage-mlp-citeseer | graphscale distill --dataset cora --student gcn "
               "--student-hidden 16 --method lsp")
    distill.add_argument("--dataset", help="node dataset name or folder (data.dataset)")
    distill.add_argument("--teacher", help="teacher model: gcn, sage, gat ... (model.name)")
    distill.add_argument("--student", help="student: mlp or a node model such as gcn (student.name)")
    distill.add_argument("--student-hidden", type=int, help="student hidden size (student.hidden_dim)")
    distill.add_argument("--method", help="kd (soft labels, GLNN), lsp or gcrd (representations) (distill.method)")
    distill.add_argument("--temperature", type=float, help="soft-label temperature T (distill.temperature)")
    distill.add_argument("--lambda", dest="label_weight", type=float,
                         help="weight of the label cross-entropy; 1 - lambda on the soft labels (distill.label_weight)")
    distill.add_argument("--seeds", type=int, help="runs, seeds seed .. seed + seeds - 1 (train.seeds)")
    distill.add_argument("--epochs", type=int, help="student epochs (student.epochs)")
    add_run_options(distill, "runs/distill-<dataset>-<teacher>-<student>", "cpu, cuda, cuda:N or auto (train.device)",
                    "distill.temperature=2")
    distill.set_defaults(handler=cmd_distill)
