"""``graphscale kg``: train and evaluate a knowledge-graph embedding (TransE, DistMult, ComplEx, SimplE, RotatE) or
R-GCN link prediction (``--model rgcn``: R-GCN encoder, DistMult decoder).

The config is resolved like ``graphscale train``: ``--config FILE``, else the shipped
``kg-<model>-<dataset>.yaml`` when ``--dataset`` and ``--model`` name one, else the defaults; then the
flags (``--dataset --model --dim --negatives --epochs --entity-partitions --out --device``), then ``key=value``
overrides. Under ``torchrun`` the entity partitions are trained by all ranks at once
(:mod:`graphscale.kge.distributed`); rank 0 writes the folder and prints the summary.
With ``--json`` the last stdout line is one JSON object ending in ``mrr, mr, hits_at_1, hits_at_3,
hits_at_10`` (filtered, test), ``train_time_s, triples_per_s, peak_rss_mb``; it is strict JSON (a non-finite
number is written as ``null``, never ``NaN`` / ``Infinity``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_run_options

SUMMARY_LAST = ("mrr", "mr", "hits_at_1", "hits_at_3", "hits_at_10", "train_time_s", "triples_per_s", "peak_rss_mb")


def resolve_config(args: argparse.Namespace) -> Any:
    from ..config import find_shipped, from_command
    from ..kge.config import KGConfig
    from ..kge.run import dataset_label

    path = Path(args.config) if args.config else None
    if path is None and args.dataset and args.model:
        path = find_shipped("kg", args.model, dataset_label(args.dataset))
    flags = (("--dataset", "data.dataset", args.dataset), ("--model", "model.name", args.model),
             ("--dim", "model.dim", args.dim), ("--negatives", "train.negatives", args.negatives),
             ("--epochs", "train.epochs", args.epochs), ("--out", "output.dir", args.out),
             ("--tensorboard", "output.tensorboard", args.tensorboard),
             ("--device", "train.device", args.device),
             ("--entity-partitions", "train.partitions", args.entity_partitions))
    return from_command(KGConfig(), path, flags, args.overrides)


def _ordered(summary: dict[str, Any]) -> dict[str, Any]:
    head = {k: v for k, v in summary.items() if k not in SUMMARY_LAST}
    return {**head, **{k: summary[k] for k in SUMMARY_LAST if k in summary}}


def cmd_kg(args: argparse.Namespace) -> int:
    from ..cli import json_line
    from ..config import dump
    from ..kge.run import run

    cfg = resolve_config(args)
    if args.print_config:
        print(dump(cfg, comments=True), end="")
        return 0
    result = run(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if result is None:  # a rank other than 0 of a torchrun group: rank 0 reports
        return 0
    summary = _ordered(result)
    if args.json:
        print(json_line(summary))
        return 0
    print(f"{summary['dataset']} / {summary['model']} (dim {summary['dim']}, {summary['negatives']} "
          f"{summary['negative_mode']} negatives, {summary['epochs_done']}/{summary['epochs']} epochs, "
          f"{summary['device']})")
    skipped = summary.get("skipped_valid", 0), summary.get("skipped_test", 0)
    if any(skipped):
        print(f"  unseen in train  dropped {skipped[0]} valid and {skipped[1]} test triples (data.unseen=skip)")
    kept = summary.get("unseen_kept_valid", 0), summary.get("unseen_kept_test", 0)
    if any(kept):
        print(f"  unseen in train  {kept[0]} valid and {kept[1]} test triples scored with untrained ids "
              "(data.unseen=keep)")
    if "mrr" in summary:
        print(f"  test (filtered)  MRR {summary['mrr']:.4f}  MR {summary['mr']:.1f}  Hits@1 "
              f"{summary['hits_at_1']:.4f}  Hits@3 {summary['hits_at_3']:.4f}  Hits@10 {summary['hits_at_10']:.4f}")
    elif "valid_mrr" in summary:
        print(f"  valid (filtered) MRR {summary['valid_mrr']:.4f}  Hits@10 {summary['valid_hits_at_10']:.4f}  "
              "(evaluate.test=false: test not read)")
    else:
        print(f"  {summary['note']}")
    print(f"  training         {summary['train_time_s']:.1f} s, {summary['triples_per_s']:.0f} triples/s, peak RSS "
          f"{summary['peak_rss_mb']:.0f} MB")
    print(f"  output           {summary['output_dir']}/ (metrics.json, config.yaml, embeddings/)")
    return 0


def register(subparsers: Any) -> None:
    from ..config import shipped_configs

    kg = subparsers.add_parser(
        "kg", help="train and evaluate a knowledge-graph embedding (TransE ... RotatE, R-GCN)",
        description="Knowledge-graph embeddings with filtered link-prediction evaluation. Shipped configs: "
                    + ", ".join(c for c in shipped_configs() if c.startswith("kg-")) + ".",
        epilog="Examples: graphscale kg --dataset fb15k-237 --model rotate --json | graphscale kg --dataset "
               "wn18rr --model rotate --dim 200 train.epochs=50 | graphscale kg --dataset path/to/my_kg "
               "--model complex")
    kg.add_argument("--dataset", help="fb15k-237, wn18rr, or a folder with train/valid/test triple files")
    kg.add_argument("--model", help="transe, distmult, complex, simple, rotate or rgcn (R-GCN encoder + DistMult)")
    kg.add_argument("--dim", type=int, help="embedding size per component (model.dim)")
    kg.add_argument("--negatives", type=int, help="negatives per positive (train.negatives)")
    kg.add_argument("--epochs", type=int, help="training epochs (train.epochs)")
    kg.add_argument("--entity-partitions", type=int, metavar="P",
                    help="entity partitions (train.partitions); under torchrun the ranks train disjoint buckets")
    add_run_options(kg, "runs/kg-<dataset>-<model>", "cpu, cuda, cuda:N or auto (train.device)", "train.lr=0.001")
    kg.set_defaults(handler=cmd_kg)
