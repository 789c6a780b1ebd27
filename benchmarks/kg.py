"""Knowledge-graph embedding speed: graphscale vs PyKEEN 1.11 on FB15k-237, side by side in one run (issue 6).

Benches:

* ``train`` -- training throughput (positive triples per second, best of ``--repeats`` passes over
  ``--num-triples`` random training triples, after an untimed warm-up that loads numba's cache) of TransE
  (dim 200, L1, margin loss) and RotatE (dim 2 x 100, NSSA loss), batch 1024, 64 negatives per positive, Adam.
  graphscale runs twice: ``mode=shared`` (its fast mode: the negatives of a batch are shared per side) and
  ``mode=per-positive`` (own negatives per triple, what PyKEEN's basic sampler does).
* ``eval`` -- wall time of the full filtered evaluation of the test set (20,466 triples, head and tail
  ranking against all 14,541 entities, filtering train + valid + test): graphscale's ``evaluate`` vs PyKEEN's
  ``RankBasedEvaluator(filtered=True)``, same model shapes. Query batches: 1024 for graphscale (it holds
  ``batch x N`` scores), 32 for PyKEEN (its distance interactions hold ``batch x N x dim``; 1024 needs > 12 GB).

Measurements are interleaved (graphscale, PyKEEN, graphscale ...) so that load from other processes on a
shared machine hits both alike; each runs in a fresh subprocess with ``--threads`` threads. A failing peer
is reported as a status line. One JSON line per measurement (bench, impl, model, mode, status,
triples_per_s or eval_time_s, the library versions), plus ``ratio`` lines, each appended to the committed record
``benchmarks/records/kg_speed/<dataset>.jsonl`` (with cores, load and commit; ``run`` names the invocation) and,
with ``--out``, to that file too. ``python benchmarks/report.py`` tables the records into RESULTS.md.

Usage:
    bash benchmarks/setup_peers.sh pykeen
    python benchmarks/kg.py
    python benchmarks/kg.py --benches train --models rotate --num-triples 10240 --no-records   # quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from record_fields import repo_relative

WORKER = str(Path(__file__).resolve().parent / "kg_workers.py")
MODELS = {"transe": 200, "rotate": 100}
TARGET_SPEEDUP = 10.0


def prepare(folder: Path, dataset: str) -> dict[str, Any]:
    """FB15k-237 as id triples (``.npy``) read by both libraries' workers."""
    import numpy as np

    from graphscale.kge.triples import load_kg

    data = load_kg(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        np.save(folder / f"{split}.npy", data.split(split).numpy())
    meta = {"num_entities": data.num_entities, "num_relations": data.num_relations, "dataset": dataset}
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benches", default="train,eval")
    parser.add_argument("--models", default="transe,rotate")
    parser.add_argument("--impls", default="graphscale,pykeen")
    parser.add_argument("--dataset", default="fb15k-237")
    parser.add_argument("--num-triples", type=int, default=40960, help="training triples per timed pass")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per measurement (best is kept)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of every measurement")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--negatives", type=int, default=64)
    parser.add_argument("--eval-batch-size", type=int, default=1024,
                        help="graphscale queries per batch (holds batch x N scores)")
    parser.add_argument("--peer-eval-batch-size", type=int, default=32,
                        help="PyKEEN queries per batch (its RotatE/TransE scoring holds batch x N x dim)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--out", help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="smoke runs: do not append to benchmarks/records/kg_speed/")
    args = parser.parse_args()
    benches, models = args.benches.split(","), args.models.split(",")
    impls = args.impls.split(",")
    stamp = {"machine": common.machine_info(), **common.git_state(("graphscale", "benchmarks"))}
    run = time.strftime("%Y-%m-%dT%H:%M:%S")
    results: list[dict[str, Any]] = []

    def emit(record: dict[str, Any]) -> None:
        record = {**record, "run": run, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        results.append(record)
        common.emit(record)
        if not args.no_records:
            common.append_record("kg_speed", args.dataset, repo_relative(record))
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as handle:
                handle.write(json.dumps(record) + "\n")

    with tempfile.TemporaryDirectory(prefix="kg-bench-") as work:
        data = Path(work) / "data"
        try:
            meta = prepare(data, args.dataset)
        except Exception as err:  # noqa: BLE001  (graphscale's DatasetError: the data is missing or bad)  # no data: one status line, no traceback
            print(json.dumps({"bench": "setup", "impl": "-", "status": f"error: {err}"}), flush=True)
            return 1
        emit({"bench": "setup", "impl": "-", "status": "ok", **meta, **stamp, "threads": args.threads})
        plan = []
        for model in models:
            for bench in benches:
                if bench == "train":
                    for impl, mode in (("graphscale", "shared"), ("pykeen", "per-positive"),
                                       ("graphscale", "per-positive")):
                        if impl in impls:
                            plan.append((bench, impl, model, mode))
                elif bench == "eval":
                    plan += [(bench, impl, model, "filtered") for impl in ("graphscale", "pykeen") if impl in impls]
        for _ in range(args.rounds):
            for bench, impl, model, mode in plan:
                options = {"model": model, "dim": MODELS[model], "batch_size": args.batch_size,
                           "negatives": args.negatives, "mode": mode, "threads": args.threads,
                           "num_triples": args.num_triples, "repeats": args.repeats,
                           "eval_batch_size": args.eval_batch_size if impl == "graphscale"
                           else args.peer_eval_batch_size}
                python = sys.executable if impl == "graphscale" else common.peer_python(impl)
                base = {"bench": bench, "impl": impl, "model": model, "mode": mode, "dim": MODELS[model],
                        "batch_size": args.batch_size, "negatives": args.negatives, "dataset": args.dataset}
                record = common.run_worker(python, [WORKER, bench, "--impl", impl, "--data", str(data),
                                                    "--options", json.dumps(options)],
                                           base=base, num_threads=args.threads, timeout_s=args.timeout)
                emit(record)
    # ratios: graphscale (each mode) over PyKEEN, medians over rounds
    for model in models:
        for bench, key, better in (("train", "triples_per_s", "higher"), ("eval", "eval_time_s", "lower")):
            peer = [r[key] for r in results if r.get("bench") == bench and r.get("impl") == "pykeen"
                    and r.get("model") == model and r.get("status") == "ok"]
            for mode in ("shared", "per-positive", "filtered"):
                ours = [r[key] for r in results if r.get("bench") == bench and r.get("impl") == "graphscale"
                        and r.get("model") == model and r.get("mode") == mode and r.get("status") == "ok"]
                if not ours or not peer:
                    continue
                a, b = statistics.median(ours), statistics.median(peer)
                speedup = a / b if better == "higher" else b / a
                emit({"bench": f"{bench}-ratio", "impl": "graphscale/pykeen", "model": model, "mode": mode,
                      "status": "ok", "speedup": round(speedup, 2), "target": TARGET_SPEEDUP if bench == "train"
                      else None, "meets_target": bool(speedup >= TARGET_SPEEDUP) if bench == "train" else None})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
