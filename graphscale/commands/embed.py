"""``graphscale embed``: train DeepWalk / node2vec / LINE node embeddings, evaluate them, save them.

The config is resolved like ``graphscale train``: ``--config FILE``, else the shipped
``embed-<model>-<dataset>.yaml`` when there is one, else the defaults; then the flags, then ``key=value``
overrides (``model.window=10 train.lr=0.05``). ``--dataset`` takes a registry name, a folder with
``edges.csv`` [+ ``nodes.csv``] (the format of ``graphscale train``'s custom datasets) or an edge-list file
(``src dst [weight]`` per line; ``.adjlist`` and ``.mat`` files are read too). Labels, when present, drive
the node-classification evaluation.

Output folder (``output.dir``, default ``runs/embed-<dataset>-<model>``): ``embeddings.npy`` (+
``embeddings.nodes.txt``, the original node id of each row), ``metrics.json``, ``config.yaml``,
``f1_vs_ratio.png``, ``checkpoint.pt`` (tables + position, for ``--resume``). With ``--json`` the last stdout
line is one JSON object ending in ``micro_f1, macro_f1`` (at 50% labels), ``train_time_s, sample_time_s,
peak_rss_mb``.

``--entity-partitions P`` splits the vertex and context tables into ``P`` node partitions trained block by block
(GraphVite); launched by ``torchrun --nproc-per-node W`` (``P >= W``) the ranks train disjoint blocks at once,
each holding only its home partitions, and rank 0 evaluates and writes the folder
(:mod:`graphscale.embed.partitioned`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from . import add_run_options

SUMMARY_LAST = ("micro_f1", "macro_f1", "train_time_s", "sample_time_s", "peak_rss_mb")


def resolve_config(args: argparse.Namespace) -> Any:
    from ..config import from_command
    from ..embed.config import EmbedConfig, find_shipped

    path = Path(args.config) if args.config else None
    if path is None and args.dataset and args.model:
        path = find_shipped(args.model, Path(args.dataset).name if args.dataset else "")
    flags = (("--dataset", "data.dataset", args.dataset), ("--model", "model.name", args.model),
             ("--dim", "model.dim", args.dim), ("--p", "model.p", args.p), ("--q", "model.q", args.q),
             ("--out", "output.dir", args.out), ("--seed", "train.seed", args.seed),
             ("--threads", "train.threads", args.threads), ("--device", "train.device", args.device),
             ("--backend", "train.backend", args.backend),
             ("--entity-partitions", "train.partitions", args.entity_partitions),
             ("--tensorboard", "output.tensorboard", args.tensorboard))
    cfg = from_command(EmbedConfig(), path, flags, args.overrides)
    cfg.source = str(path) if path is not None else "defaults"
    return cfg


def _ordered(summary: dict[str, Any]) -> dict[str, Any]:
    head = {k: v for k, v in summary.items() if k not in SUMMARY_LAST}
    return {**head, **{k: summary.get(k) for k in SUMMARY_LAST}}


def cmd_embed(args: argparse.Namespace) -> int:
    from ..cli import json_line
    from ..config import dump
    from ..embed.run import run

    cfg = resolve_config(args)
    if args.print_config:
        print(dump(cfg, comments=True), end="")
        return 0
    start = time.perf_counter()
    summary = run(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if summary is None:  # rank > 0 of a torchrun group: rank 0 reports
        return 0
    summary = _ordered(summary)
    if args.json:
        print(json_line(summary))
        return 0

    def f1(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    print(f"{summary['dataset']} / {summary['model']} ({summary['num_nodes']} nodes, {summary['num_edges']} "
          f"edges, dim {summary['dim']}, {summary['num_samples'] / 1e6:.1f}M samples, walks: {summary['walk_mode']})")
    print(f"  Micro-F1 {f1(summary['micro_f1'])}   Macro-F1 {f1(summary['macro_f1'])}   (50% labels, "
          f"{summary.get('eval_repeats', 0)} splits)" if summary["micro_f1"] is not None else
          "  (no labels: node classification skipped)")
    if summary.get("link_auc") is not None:
        print(f"  link prediction AUC {summary['link_auc']:.4f}")
    print(f"  sampling {summary['sample_time_s']:.1f} s (overlapped)   training {summary['train_time_s']:.1f} s   "
          f"total {summary['total_time_s']:.1f} s   {summary['samples_per_s'] / 1e6:.2f}M samples/s   "
          f"peak RSS {summary['peak_rss_mb']:.0f} MB   (wall {time.perf_counter() - start:.1f} s)")
    print(f"  output   {summary['output_dir']}/ (embeddings.npy, metrics.json, config.yaml, f1_vs_ratio.png)")
    return 0


def register(subparsers: Any) -> None:
    embed = subparsers.add_parser(
        "embed", help="train DeepWalk / node2vec / LINE node embeddings and evaluate them",
        description="GraphVite-style node embeddings: numba random walks, online augmentation into sample pools, "
                    "parallel SGD; evaluated by multi-label node classification (DeepWalk protocol).",
        epilog="Examples: graphscale embed --dataset blogcatalog --model deepwalk --json | graphscale embed "
               "--dataset ppi --model node2vec --p 0.25 --q 0.25 | graphscale embed --dataset path/to/edges.txt "
               "--model line model.order=1")
    embed.add_argument("--dataset", help="registry name (blogcatalog, ppi, karate), a folder with edges.csv, or an "
                                         "edge-list file")
    embed.add_argument("--model", help="deepwalk, node2vec or line")
    embed.add_argument("--dim", type=int, help="embedding size (model.dim)")
    embed.add_argument("--p", type=float, help="node2vec return parameter (model.p)")
    embed.add_argument("--q", type=float, help="node2vec in-out parameter (model.q)")
    embed.add_argument("--seed", type=int, help="random seed (train.seed)")
    embed.add_argument("--threads", type=int, help="numba threads (train.threads)")
    embed.add_argument("--backend", choices=("numba", "torch"), help="trainer (train.backend)")
    embed.add_argument("--entity-partitions", type=int, metavar="P",
                       help="node partitions of the tables (train.partitions); under torchrun the ranks train "
                            "disjoint blocks")
    add_run_options(embed, "runs/embed-<dataset>-<model>", "torch backend device, e.g. cuda (train.device)",
                    "model.window=10")
    embed.set_defaults(handler=cmd_embed)
