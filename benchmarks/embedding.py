"""Node-embedding speed: graphscale's engine vs gensim / pecanpy pipelines, side by side in one run (issue 5).

Benches (``--benches``, all by default):

* ``ttq`` -- time to quality on BlogCatalog (``../shared/datasets/blogcatalog``): wall time of walks + training
  until Micro-F1 >= ``--target`` (0.40) at 50% training labels. Every pipeline has a ladder of budgets (number
  of walks per node); a bisection over the ladder finds the cheapest rung that reaches the target, every run is
  one ``ttq-run`` line, then one ``time-to-quality`` line per pipeline and a ``ratio`` line. Pipelines:
  ``gensim`` (vectorised numpy walks + gensim Word2Vec, DeepWalk's reference settings: walk length 40,
  window 10, dim 128, skip-gram with hierarchical softmax, 2 workers; rungs of (walks per node, epochs): 80 walks
  with 1, 2 and 5 epochs, the DeepWalk code's gensim default being 5), ``pecanpy+gensim`` (pecanpy's
  first-order walk kernel + the same Word2Vec, pecanpy's venv), and ``graphscale`` (its DeepWalk engine with
  the settings of the shipped ``embed-deepwalk-blogcatalog.yaml``, walks per node scaled by the ladder).
  Every embedding is scored by the same code, ``graphscale.embed.evaluate.node_classification`` (5 splits).
* ``node2vec`` -- node2vec walk generation (p = 0.25, q = 4, 10 walks of 80 nodes per node) on BlogCatalog:
  graphscale (alias tables / rejection sampling) vs pecanpy's PreComp, SparseOTF and DenseOTF (its numba
  kernel alone, ``walk_time_s``; ``api_time_s`` adds its mapping to string ids, what ``simulate_walks`` returns).
* ``scale`` -- a seeded Chung-Lu power-law graph, 1,000,000 nodes and 10,000,000 undirected edges, embedded
  with graphscale's DeepWalk in one process: time, samples/s, peak RSS.
* ``largevis`` -- LargeVis vs scikit-learn's Barnes-Hut t-SNE on 10,000 BlogCatalog embedding vectors (from the
  ``ttq`` run): time and kNN preservation (fraction of the 10 nearest neighbours kept in 2-D).

Every measurement runs in its own subprocess (peak RSS is per process); peers run in their own virtualenvs
(``bash benchmarks/setup_peers.sh gensim pecanpy``) and a failing peer is reported, never fatal. numba
compilation is excluded from the timings (``warmup_s``). Output: JSON lines (with the versions of the libraries
each worker used) on stdout, appended to the committed record ``benchmarks/records/embedding/speed.jsonl`` (with
cores, load and commit; ``run`` names the invocation) and, with ``--out``, to that file too.
``python benchmarks/report.py`` tables the records into RESULTS.md.

Usage:
    python benchmarks/embedding.py
    python benchmarks/embedding.py --benches node2vec --node2vec-walks 1 --no-records     # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from record_fields import LIBRARIES, repo_relative

WORKER = str(Path(__file__).resolve().parent / "embedding_workers.py")
BENCHES = ("ttq", "node2vec", "scale", "largevis")
GENSIM = {"walk_length": 40, "window": 10, "dim": 128, "hs": 1, "negative": 0, "workers": 2}
PEER_LADDER = ((80, 1), (80, 2), (80, 5))  # (walks per node, Word2Vec epochs); DeepWalk's code runs 5 epochs
GRAPHSCALE_LADDER = (0.5, 0.75, 1.0)  # multiples of the shipped config's walks per node
TARGET_TTQ_SPEEDUP, TARGET_WALK_SPEEDUP = 3.0, 1.5


class Runner:
    """Runs workers, stamps and writes every record."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(args.work) / "data"
        self.out = Path(args.out) if args.out else None
        self.stamp = {"machine": common.machine_info(), **common.git_state(("graphscale", "benchmarks"))}
        self.run = time.strftime("%Y-%m-%dT%H:%M:%S")

    def emit(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {**record, "run": self.run, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        common.emit(record)
        if not self.args.no_records:
            common.append_record("embedding", "speed", repo_relative(record))
        if self.out:
            with open(self.out, "a") as handle:
                handle.write(json.dumps(record) + "\n")
        return record

    def worker(self, python: Path | str, kind: str, base: dict[str, Any], out: str = "", **options: Any):
        args = [WORKER, kind, "--data", str(self.data), "--out", out, "--options", json.dumps(options)]
        return common.run_worker(python, args, base=base, num_threads=self.args.threads,
                                 timeout_s=self.args.timeout)


# -- data --------------------------------------------------------------------------------------------------
def prepare_blogcatalog(folder: Path, dense: bool) -> dict[str, Any]:
    """BlogCatalog's CSR (both directions), labels, and pecanpy's CSR / dense ``.npz`` files in ``folder``."""
    import numpy as np
    import scipy.sparse as sp

    from graphscale import datasets

    folder.mkdir(parents=True, exist_ok=True)
    dataset = datasets.load("blogcatalog")
    n = dataset.num_nodes
    src, dst = dataset.graph.src.long().numpy(), dataset.graph.dst.long().numpy()
    adj = sp.csr_matrix((np.ones(src.size, np.float32), (src, dst)), shape=(n, n))
    adj.sum_duplicates()
    adj.sort_indices()
    adj.data[:] = 1.0
    np.save(folder / "indptr.npy", adj.indptr.astype(np.int64))
    np.save(folder / "indices.npy", adj.indices.astype(np.int64))
    np.save(folder / "labels.npy", dataset.y.numpy().astype(np.int8))
    np.savez(folder / "pecanpy_csr.npz", data=adj.data, indptr=adj.indptr, indices=adj.indices)
    if dense and not (folder / "pecanpy_dense.npz").exists():
        np.savez(folder / "pecanpy_dense.npz", data=adj.toarray())
    return {"dataset": "blogcatalog", "num_nodes": n, "num_edges_directed": int(adj.nnz)}


def graphscale_settings() -> tuple[dict[str, Any], str]:
    """``graphscale embed``'s DeepWalk settings for BlogCatalog: the shipped config when there is one."""
    from graphscale.embed.config import find_shipped, load
    from graphscale.embed.run import _settings

    path = find_shipped("deepwalk", "blogcatalog")
    cfg = load(path)
    settings = {k: v for k, v in _settings(cfg).items() if v is not None and k not in ("device", "batch_size")}
    return {**settings, "dim": cfg.model.dim}, (path.name if path else "defaults")


# -- benches -----------------------------------------------------------------------------------------------
def run_pipeline(runner: Runner, impl: str, rung: Any) -> dict[str, Any]:
    """One pipeline at one ladder rung (walks per node; ``(walks, epochs)`` for the peers): train, then evaluate
    with graphscale's evaluation code."""
    args = runner.args
    walks, epochs = rung if isinstance(rung, tuple) else (rung, None)
    emb = str(Path(args.work) / f"emb-{impl.replace('+', '-')}-{walks}{f'x{epochs}' if epochs else ''}.npy")
    base = {"bench": "ttq-run", "impl": impl, "dataset": "blogcatalog", "num_walks": walks}
    if epochs:
        base["epochs"] = epochs
    if impl == "graphscale":
        settings, source = graphscale_settings()
        base["config"] = source
        record = runner.worker(sys.executable, "graphscale-deepwalk", base, emb,
                               **{**settings, "num_walks": walks, "seed": args.seed})
    else:
        venv = "gensim" if impl == "gensim" else "pecanpy"
        source = "numpy" if impl == "gensim" else "pecanpy"
        record = runner.worker(common.peer_python(venv), "gensim-deepwalk", base, emb,
                               **{**GENSIM, "walks": source, "num_walks": walks, "epochs": epochs, "seed": args.seed})
    if record.get("status") == "ok":
        scores = runner.worker(sys.executable, "evaluate", {}, embeddings=emb, ratio=0.5, repeats=args.repeats,
                               seed=args.seed)
        if scores.get("status") == "ok":  # (the versions stay the pipeline's, not the evaluator's)
            record.update({k: v for k, v in scores.items() if k not in ("status", "worker_wall_s", *LIBRARIES)})
        else:
            record["status"] = "error: evaluation failed: " + str(scores.get("status"))
    record["embeddings"] = emb
    return runner.emit(record)


def bench_ttq(runner: Runner) -> dict[str, Any]:
    """Bisection over each pipeline's ladder for the cheapest rung with Micro-F1 >= target."""
    args = runner.args
    best: dict[str, dict[str, Any]] = {}
    runner.all_runs = []
    for impl in args.impls:
        ladder = args.peer_ladder
        if impl == "graphscale":
            walks = graphscale_settings()[0]["num_walks"]
            ladder = tuple(sorted({max(1, round(m * walks)) for m in args.graphscale_ladder}))
        lo, hi, found, runs = 0, len(ladder) - 1, None, []
        while lo <= hi:
            mid = (lo + hi) // 2
            record = run_pipeline(runner, impl, ladder[mid])
            runs.append(record)
            runner.all_runs.append(record)
            if record.get("status") == "ok" and record.get("micro_f1", 0) >= args.target:
                found, hi = record, mid - 1
            elif record.get("status") == "ok":
                lo = mid + 1
            else:
                break
        summary = {"bench": "time-to-quality", "impl": impl, "dataset": "blogcatalog", "target_micro_f1": args.target}
        if found is not None:
            keys = ("num_walks", "epochs", "total_time_s", "walk_time_s", "train_time_s", "cpu_time_s", "micro_f1", "macro_f1",
                    "peak_rss_mb", "embeddings")
            summary.update({"status": "ok", **{k: found.get(k) for k in keys}})
            best[impl] = found
        else:
            failed = next((r["status"] for r in runs if r.get("status") != "ok"), None)
            summary["status"] = failed or f"target not reached (best Micro-F1 {max(r.get('micro_f1', 0) for r in runs)})"
        runner.emit(summary)
    peers = {k: v for k, v in best.items() if k != "graphscale"}
    if "graphscale" in best and peers:
        name, peer = min(peers.items(), key=lambda item: item[1]["total_time_s"])
        ours = best["graphscale"]
        speedup = peer["total_time_s"] / ours["total_time_s"]
        runner.emit({"bench": "time-to-quality", "impl": "ratio", "status": "ok", "best_peer": name,
                     "speedup": round(speedup, 2), "target_speedup": TARGET_TTQ_SPEEDUP,
                     "met": bool(speedup >= TARGET_TTQ_SPEEDUP and ours["micro_f1"] >= peer["micro_f1"])})
    return best


def bench_node2vec(runner: Runner) -> None:
    args = runner.args
    opts = {"p": 0.25, "q": 4.0, "num_walks": args.node2vec_walks, "walk_length": 80, "seed": args.seed}
    results = {}
    for impl in args.node2vec_impls:
        base = {"bench": "node2vec-walks", "impl": impl, "dataset": "blogcatalog", **opts}
        if impl.startswith("graphscale"):
            mode = impl.split("-", 1)[1] if "-" in impl else "auto"
            record = runner.worker(sys.executable, "graphscale-node2vec-walks", base, **opts, mode=mode)
        else:
            record = runner.worker(common.peer_python("pecanpy"), "pecanpy-walks", base, **opts,
                                   mode=impl.split("-", 1)[1])
        results[impl] = runner.emit(record)
    ok = {k: v for k, v in results.items() if v.get("status") == "ok"}
    ours = {k: v for k, v in ok.items() if k.startswith("graphscale")}
    peers = {k: v for k, v in ok.items() if not k.startswith("graphscale")}
    if ours and peers:
        mine = min(ours.items(), key=lambda kv: kv[1]["walk_time_s"])
        peer = min(peers.items(), key=lambda kv: kv[1]["walk_time_s"])
        speedup = peer[1]["walk_time_s"] / mine[1]["walk_time_s"]
        runner.emit({"bench": "node2vec-walks", "impl": "ratio", "status": "ok", "graphscale": mine[0],
                     "best_peer": peer[0], "speedup": round(speedup, 2), "target_speedup": TARGET_WALK_SPEEDUP,
                     "met": bool(speedup >= TARGET_WALK_SPEEDUP)})


def bench_scale(runner: Runner) -> None:
    args = runner.args
    settings, source = graphscale_settings()
    opts = {**settings, "num_nodes": args.scale_nodes, "num_edges": args.scale_edges, "num_walks": args.scale_walks,
            "seed": args.seed}
    base = {"bench": "scale", "impl": "graphscale", "graph": "chung-lu power law (exponent 2.5)", "config": source,
            **opts}
    runner.emit(runner.worker(sys.executable, "graphscale-scale", base, **opts))


def bench_largevis(runner: Runner, ttq: dict[str, dict[str, Any]]) -> None:
    args = runner.args
    ran = [r for r in getattr(runner, "all_runs", []) if r.get("status") == "ok"]
    ours = [r for r in ran if r["impl"] == "graphscale"] or ran
    source = ttq.get("graphscale") or (max(ours, key=lambda r: r.get("micro_f1", 0)) if ours else None)
    vectors = args.vectors or (source["embeddings"] if source else None)
    if not vectors or not Path(vectors).is_file():
        runner.emit({"bench": "layout", "impl": "largevis", "status": "error: no embedding vectors (run ttq or "
                     "pass --vectors)"})
        return
    for method in ("largevis", "tsne"):
        base = {"bench": "layout", "impl": method if method == "largevis" else "sklearn-tsne",
                "vectors": vectors, "num_points": args.layout_points}
        out = str(Path(args.work) / f"layout-{method}.npy")
        runner.emit(runner.worker(sys.executable, "layout", base, out, method=method, vectors=vectors,
                                  num_points=args.layout_points, perplexity=30.0, threads=args.threads))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def report(paths: list[str]) -> str:
    """Markdown tables of the JSON lines in ``paths`` (the last record per bench/impl/rung wins)."""
    records: dict[tuple, dict[str, Any]] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                key = (record.get("bench"), record.get("impl"), record.get("num_walks"), record.get("epochs"),
                       record.get("mode"))
                records[key] = record
    tables = {
        "ttq-run": ("impl", "num_walks", "epochs", "status", "total_time_s", "walk_time_s", "train_time_s", "cpu_time_s",
                    "micro_f1", "macro_f1", "peak_rss_mb"),
        "time-to-quality": ("impl", "status", "num_walks", "epochs", "total_time_s", "cpu_time_s", "micro_f1", "macro_f1",
                            "peak_rss_mb", "best_peer", "speedup", "met"),
        "node2vec-walks": ("impl", "status", "walk_time_s", "cpu_time_s", "prep_time_s", "kernel_time_s",
                           "api_time_s", "peak_rss_mb", "best_peer", "speedup", "met"),
        "scale": ("impl", "status", "num_nodes", "num_edges_directed", "num_samples", "total_time_s", "cpu_time_s",
                  "samples_per_s", "generate_time_s", "peak_rss_mb"),
        "layout": ("impl", "status", "num_points", "total_time_s", "cpu_time_s", "knn_preservation_10",
                   "peak_rss_mb"),
    }
    out = []
    for bench, columns in tables.items():
        rows = [r for r in records.values() if r.get("bench") == bench]
        if not rows:
            continue
        out += [f"**{bench}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benches", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--impls", default="graphscale,gensim,pecanpy+gensim", help="ttq pipelines")
    parser.add_argument("--node2vec-impls", default="graphscale-alias,graphscale-rejection,pecanpy-PreComp,"
                        "pecanpy-SparseOTF,pecanpy-DenseOTF")
    parser.add_argument("--target", type=float, default=0.40, help="Micro-F1 at 50%% labels to reach")
    parser.add_argument("--peer-ladder", default=",".join(f"{w}:{e}" for w, e in PEER_LADDER),
                        help="walks:epochs rungs tried for the gensim pipelines")
    parser.add_argument("--graphscale-ladder", default=",".join(map(str, GRAPHSCALE_LADDER)),
                        help="multiples of the shipped config's walks per node tried for graphscale")
    parser.add_argument("--repeats", type=int, default=5, help="evaluation splits")
    parser.add_argument("--node2vec-walks", type=int, default=10, help="walks per node in the node2vec bench")
    parser.add_argument("--scale-nodes", type=int, default=1_000_000)
    parser.add_argument("--scale-edges", type=int, default=10_000_000)
    parser.add_argument("--scale-walks", type=int, default=1, help="DeepWalk walks per node at scale")
    parser.add_argument("--layout-points", type=int, default=10_000)
    parser.add_argument("--vectors", help="vectors for the layout bench when ttq is not run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--work", default=str(common.OUT_DIR / "embedding"), help="data and embeddings folder")
    parser.add_argument("--out", help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="smoke runs: do not append to benchmarks/records/embedding/")
    parser.add_argument("--report", nargs="+", help="print markdown tables of these JSON-line files and exit")
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    args.impls = [name for name in args.impls.split(",") if name]
    args.node2vec_impls = [name for name in args.node2vec_impls.split(",") if name]
    args.peer_ladder = tuple(tuple(int(x) for x in v.split(":")) for v in args.peer_ladder.split(","))
    args.graphscale_ladder = tuple(float(v) for v in args.graphscale_ladder.split(","))
    benches = [name for name in args.benches.split(",") if name]
    os.environ.setdefault("GRAPHSCALE_DATA", str(common.REPO_ROOT.parent / "shared" / "datasets"))
    runner = Runner(args)
    meta = prepare_blogcatalog(runner.data, dense="pecanpy-DenseOTF" in args.node2vec_impls and "node2vec" in benches)
    runner.emit({"bench": "setup", "impl": "-", "status": "ok", **meta, **runner.stamp, "command": " ".join(sys.argv)})
    ttq = bench_ttq(runner) if "ttq" in benches else {}
    if "node2vec" in benches:
        bench_node2vec(runner)
    if "scale" in benches:
        bench_scale(runner)
    if "largevis" in benches:
        bench_largevis(runner, ttq)


if __name__ == "__main__":
    main()
