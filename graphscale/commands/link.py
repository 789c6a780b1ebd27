"""``graphscale link``: link prediction with GAE / VGAE (Kipf & Welling 2016) or SAGE / GCN encoders.

The config is resolved like ``graphscale distill``: ``--config FILE`` (or a shipped name such as
``link-gae-cora``), else the shipped ``link-<model>[-neighbor]-<dataset>.yaml`` when the flags name one, else the
defaults; then the flags (``--dataset --model --decoder --sampler --fanouts --batch-size --neg-per-pos --loss
--epochs --seeds --out --device``), then ``key=value`` overrides (``train.lr=0.005 model.hidden_dim=64``). With
``--json`` the last stdout line is one JSON object ending in ``test_auc, test_ap, test_mrr, epoch_time_s,
peak_rss_mb`` (means over the seeds; stds and per-seed lists beside them).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_run_options, prepare_run


def shipped_link(model: str, sampler: str | None, dataset: str) -> Path | None:
    """The shipped ``link-<model>[-<sampler>]-<dataset>.yaml``, or None."""
    from ..config.shipped import find_shipped

    return find_shipped("link", model, dataset, sampler)


def _fanouts(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers such as 15,10, got {text!r}") from None


def resolve_config(args: argparse.Namespace) -> Any:
    from ..config import from_command
    from ..config.link import LinkConfig
    from ..train.run import dataset_label

    path = Path(args.config) if args.config else None
    defaults = LinkConfig()
    if path is None and args.dataset:
        path = shipped_link(args.model or defaults.model.name, args.sampler, dataset_label(args.dataset))
    flags = (("--dataset", "data.dataset", args.dataset), ("--model", "model.name", args.model),
             ("--decoder", "model.decoder", args.decoder), ("--sampler", "sampler.name", args.sampler),
             ("--fanouts", "sampler.fanouts", args.fanouts), ("--batch-size", "sampler.batch_size", args.batch_size),
             ("--neg-per-pos", "train.neg_per_pos", args.neg_per_pos), ("--loss", "train.loss", args.loss),
             ("--epochs", "train.epochs", args.epochs), ("--seeds", "train.seeds", args.seeds),
             ("--out", "output.dir", args.out), ("--device", "train.device", args.device))
    return from_command(defaults, path, flags, args.overrides)


def cmd_link(args: argparse.Namespace) -> int:
    from ..cli import json_line
    from ..train.link_run import run_link

    cfg = resolve_config(args)
    if prepare_run(args, cfg, "link", "metrics.json and history.json"):
        return 0
    summary = run_link(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if args.json:
        print(json_line(summary))
        return 0
    print(f"{summary['dataset']}: {summary['model']} ({summary['decoder']} decoder, sampler {summary['sampler']}, "
          f"{summary['seeds']} seeds, {summary['device']})")
    for part in ("test", "val"):
        print(f"  {part:<5} AUC {summary[f'{part}_auc']:.4f} ± {summary[f'{part}_auc_std']:.4f}  AP "
              f"{summary[f'{part}_ap']:.4f} ± {summary[f'{part}_ap_std']:.4f}  MRR {summary[f'{part}_mrr']:.4f}")
    print(f"  epoch {summary['epoch_time_s']:.3f} s, peak RSS {summary['peak_rss_mb']:.0f} MiB")
    print(f"  output {summary['output_dir']}/ (metrics.json, config.yaml, history.json, checkpoints)")
    return 0


def register(subparsers: Any) -> None:
    from ..config import shipped_configs

    link = subparsers.add_parser(
        "link", help="link prediction: GAE / VGAE, SAGE / GCN encoders, full batch or link-level neighbour sampling",
        description="Split the edges (85/5/10 with held-out negatives), train an encoder + decoder on the training "
                    "edges, report AUC, AP, Hits@K and MRR of the held-out edges. Shipped configs: "
                    + ", ".join(c for c in shipped_configs() if c.startswith("link-")) + ".",
        epilog="Examples: graphscale link --dataset cora --model gae --json | graphscale link --config "
               "link-sage-neighbor-github | graphscale link --dataset citeseer --model vgae train.epochs=300")
    link.add_argument("--dataset", help="node dataset name or folder (data.dataset)")
    link.add_argument("--model", help="gae, vgae, sage or gcn (model.name)")
    link.add_argument("--decoder", help="dot or mlp (model.decoder)")
    link.add_argument("--sampler", help="none (full batch) or neighbor (sampler.name)")
    link.add_argument("--fanouts", type=_fanouts, help="neighbours per hop, e.g. 15,10 (sampler.fanouts)")
    link.add_argument("--batch-size", type=int, help="seed edges per batch (sampler.batch_size)")
    link.add_argument("--neg-per-pos", type=int, help="negatives per positive (train.neg_per_pos)")
    link.add_argument("--loss", help="sampled or dense (train.loss)")
    link.add_argument("--epochs", type=int, help="training epochs (train.epochs)")
    link.add_argument("--seeds", type=int, help="runs, seeds seed .. seed + seeds - 1 (train.seeds)")
    add_run_options(link, "runs/link-<dataset>-<model>", "cpu, cuda, cuda:N or auto (train.device)", "train.lr=0.005")
    link.set_defaults(handler=cmd_link)
