"""RevGNN (Li et al., ICML 2021): peak RSS of a deep reversible GNN against a shallow one on synthetic-arxiv.

One worker process per depth (``--layers``, default 3 and 112), back to back in one run, each loading the seeded
``synthetic-arxiv`` graph (169,343 nodes, 2,332,486 edges, 128 features) and training the ``revgnn`` node model
full batch (Adam lr 0.005, cross-entropy on the training nodes) for ``--epochs`` timed epochs after
``--warmup``; every worker reports its whole-process peak RSS, the median epoch time and, with ``--evaluate``,
the validation and test accuracy after the last epoch. A final "ratio" line gives deep / shallow peak RSS (target <= 1.3).

Records: ``benchmarks/records/revgnn/synthetic-arxiv.jsonl``.

Example:
    python benchmarks/revgnn.py --layers 3 112 --hidden-dim 64 --epochs 1 --warmup 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from egc import run_workers
from record_fields import repo_relative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 112])
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--num-groups", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--mmap-threshold", type=int, default=1 << 20, help="MALLOC_MMAP_THRESHOLD_ of the workers "
                        "(bytes; 0 keeps glibc's dynamic default; see egc.run_workers)")
    parser.add_argument("--evaluate", action="store_true", help="validation / test accuracy after the last epoch")
    parser.add_argument("--no-records", action="store_true")
    args = parser.parse_args()
    jobs = [(f"revgnn-L{layers}", "revgnn", {"hidden_dim": args.hidden_dim, "num_layers": layers,
                                             "num_groups": args.num_groups, "dropout": args.dropout})
            for layers in args.layers]
    records = run_workers("revgnn-memory", jobs, args, extra=["--evaluate"] if args.evaluate else [])
    for record in records:
        record["num_layers"] = record.get("hparams", {}).get("num_layers")
    ok = [r for r in records if r.get("status") == "ok"]
    if len(ok) >= 2:
        shallow, deep = min(ok, key=lambda r: r["num_layers"]), max(ok, key=lambda r: r["num_layers"])
        ratio = {"bench": "revgnn-memory", "record": "ratio", "impl": "ratio", "dataset": "synthetic-arxiv",
                 "shallow_layers": shallow["num_layers"], "deep_layers": deep["num_layers"],
                 "hidden_dim": args.hidden_dim, "peak_rss_ratio": round(deep["peak_rss_mb"] / shallow["peak_rss_mb"], 3),
                 "train_rss_ratio": round(deep["train_rss_mb"] / max(shallow["train_rss_mb"], 1e-9), 3),
                 "epoch_time_ratio": round(deep["epoch_time_s"] / shallow["epoch_time_s"], 3),
                 "target_peak_rss_ratio": 1.3}
        records.append(ratio)
        common.emit(ratio)
    if not args.no_records:
        for record in records:
            common.append_record("revgnn", "synthetic-arxiv", repo_relative(record))


if __name__ == "__main__":
    main()
