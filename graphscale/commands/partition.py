"""``graphscale partition``: cut a node dataset into part folders for distributed training.

    graphscale partition --dataset synthetic-products --parts 4 --out parts/products4 [--method metis|random]
    graphscale partition --dataset github --feature-svd 128 --parts 2 --out parts/github2

Writes ``manifest.json``, the partition book (``node_part.npy``, ``node_local.npy``) and ``part<k>/`` folders
(:mod:`graphscale.distributed.partition`). The folder is checked before anything is loaded: one holding an
earlier partitioning is refused unless ``--overwrite`` (the earlier files are kept until the new ones are
written). With ``--json`` the last stdout line is one JSON object: the manifest's facts and statistics.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

BOOK = ("manifest.json", "node_part.npy", "node_local.npy")


def artifacts(out: Path, num_parts: int) -> list[str]:
    """The names a partitioning into ``num_parts`` writes, plus the part folders an earlier one left."""
    earlier = [p.name for p in out.glob("part*") if p.is_dir()] if out.is_dir() else []
    return list(dict.fromkeys([*BOOK, *(f"part{k}" for k in range(num_parts)), *sorted(earlier)]))


def cmd_partition(args: argparse.Namespace) -> int:
    from .. import datasets
    from ..cli import json_line
    from ..datasets.base import NodeDataset
    from ..distributed.partition import write_partitions
    from ..errors import ConfigError
    from ..train.metrics import peak_rss_mb
    from ..train.runtime import output_folder

    start = time.perf_counter()
    out = Path(args.out)
    with output_folder(out, artifacts(out, args.parts), overwrite=args.overwrite):
        dataset = datasets.load(args.dataset, root=args.root)
        if not isinstance(dataset, NodeDataset):
            raise ConfigError(f"partition --dataset: expected a node dataset, got {type(dataset).__name__} "
                              f"{args.dataset!r}. Partition node-classification graphs.")
        if args.feature_svd is not None:
            from ..train.run import reduce_features

            dataset = reduce_features(dataset, args.feature_svd)
        manifest = write_partitions(dataset, out, args.parts, args.method, seed=args.seed)
    summary: dict[str, Any] = {k: v for k, v in manifest.items() if k != "files"}
    summary.update(output_dir=str(out), time_s=round(time.perf_counter() - start, 2), peak_rss_mb=peak_rss_mb())
    if args.json:
        print(json_line(summary))
        return 0
    print(f"{manifest['dataset']}: {manifest['num_nodes']} nodes, {manifest['num_edges']} edges -> "
          f"{manifest['num_parts']} parts ({manifest['method']}), edge cut {manifest['edge_cut_fraction']:.1%}, "
          f"halo {manifest['halo_fraction']:.1%} of the nodes")
    for k, part in enumerate(manifest["parts"]):
        print(f"  part{k}: {part['nodes']} nodes ({part['train_nodes']} training), {part['edges']} in-edges, "
              f"halo {part['halo']}")
    print(f"  output {out}/ ({summary['time_s']:.1f} s, peak RSS {summary['peak_rss_mb']:.0f} MB)")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "partition", help="cut a node dataset into part folders for distributed training",
        description="One folder per part (owned nodes' in-edges, features, labels, halo ids), a partition book "
                    "(global id <-> part, local id) and a manifest with every file's sha256.",
        epilog="Example: graphscale partition --dataset synthetic-products --parts 4 --out parts/products4")
    parser.add_argument("--dataset", required=True, help="registry name or a folder with edges.csv")
    parser.add_argument("--root", help="dataset root folder (default: GRAPHSCALE_DATA)")
    parser.add_argument("--parts", type=int, required=True, help="number of parts (one per rank)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--method", choices=("metis", "random"), default="metis",
                        help="metis (edge cut minimised; nodes and training nodes balanced) or random")
    parser.add_argument("--seed", type=int, default=0, help="METIS / permutation seed")
    parser.add_argument("--feature-svd", type=int, metavar="K", help="store the features reduced to their top-K "
                                                                      "singular directions (data.feature_svd)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier partitioning in --out")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    parser.set_defaults(handler=cmd_partition)
