r"""Node-embedding speed: graphscale's engine vs gensim / pecanpy pipelines, side by side in one run (issue 5).

Benches (``--benches``, all by default):

* ``ttq`` -- time to quality on BlogCatalog (``../shared/datasets/blogcatalog``): wall time of walks + training
  until Micro-F1 >= ``--target`` (0.40) at 50% training labels; each pipeline's fastest setting that reaches it is
  its figure. Every run is one ``ttq-run`` line (settings, times, Micro/Macro-F1), then one ``time-to-quality``
  line per pipeline names its winning setting (with the runs it took and what each family gave), and a ``ratio``
  line compares graphscale with the faster peer. Every embedding is scored by the same code,
  ``graphscale.embed.evaluate.node_classification`` (5 splits). Pipelines:

  - ``graphscale``: its DeepWalk engine with the settings of the shipped ``embed-deepwalk-blogcatalog.yaml``
    (tuned), walks per node scaled by ``--graphscale-ladder`` (0.5, 0.75, 1.0 x the config's 120), bisected.
  - ``gensim``: vectorised numpy walks of 40 nodes + gensim Word2Vec skip-gram (dim 128, 2 workers), and
    ``pecanpy+gensim``: pecanpy's first-order walk kernel + the same Word2Vec, in pecanpy's venv. Both get the
    search budget graphscale's config got: every family of (window, loss) -- window 5 and 10 (``--peer-windows``)
    x negative sampling (``ns``: negative=5, hs=0) and hierarchical softmax (``hs``: hs=1, negative=0;
    ``--peer-losses``) -- has a ladder of (walks per node, epochs) rungs, walks 10, 20, 40, 80 (``--peer-walks``)
    x epochs 1, 2, 5 (``--peer-epochs``), ordered by cost (walks x epochs; at equal products fewer walks
    first). Per family the search bisects that ladder for the cheapest rung reaching the target (about 4 runs
    of 12; ``--peer-search scan`` runs the rungs cheapest first up to the first that reaches it); families run
    cheapest per sample first (window 5 before 10, ns before hs). Once the pipeline has a run reaching the target,
    a family stops at any rung that missed the target in at least that time: its costlier rungs can only be
    slower (``--no-peer-prune`` runs them anyway). DeepWalk's reference setting (window 10, hs, 80 walks, 5
    epochs, the DeepWalk code's gensim default) is one rung of the window-10 hs family. The bisection assumes
    that quality grows along a family's ladder; a run that times out (``--timeout``) ends the search above it.
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
    python benchmarks/embedding.py                           # every bench, the full ttq search
    python benchmarks/embedding.py --benches ttq             # the full time-to-quality search alone (~1 h quiet)
    python benchmarks/embedding.py --benches ttq --impls gensim --peer-windows 10 --peer-losses hs \
        --peer-walks 80 --peer-epochs 1,2,5                  # only DeepWalk's reference settings, as before
    python benchmarks/embedding.py --benches ttq --impls gensim,pecanpy+gensim --peer-windows 5 \
        --peer-losses ns --peer-walks 1 --peer-epochs 1 --target 0.1 --no-records   # smoke run: one cheap rung
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
GENSIM = {"walk_length": 40, "dim": 128, "workers": 2}  # fixed: DeepWalk's walk length and dimension, 2 cores
# The peers' search space (the budget graphscale's config was tuned with): families of (window, loss), each with a
# ladder of (walks per node, Word2Vec epochs) rungs ordered by cost. DeepWalk's reference settings are window 10,
# hierarchical softmax, 80 walks, 5 epochs (its code's gensim default).
PEER_WINDOWS = (5, 10)
LOSSES = {"ns": {"hs": 0, "negative": 5}, "hs": {"hs": 1, "negative": 0}}  # negative sampling / hierarchical softmax
PEER_WALKS = (10, 20, 40, 80)
PEER_EPOCHS = (1, 2, 5)
SEARCHES = ("bisect", "scan")
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
def peer_ladder(walks: tuple[int, ...], epochs: tuple[int, ...]) -> list[tuple[int, int]]:
    """The (walks per node, epochs) rungs of one peer family, cheapest first: Word2Vec's work grows with
    walks x epochs; at equal products fewer walks come first (less walking and corpus writing)."""
    return sorted({(w, e) for w in walks for e in epochs}, key=lambda rung: (rung[0] * rung[1], rung[0]))


def peer_setting(window: int, loss: str, walks: int, epochs: int) -> dict[str, Any]:
    """The recorded settings of one peer rung (the fixed ones, ``GENSIM``, are in every line too)."""
    name = f"negative sampling ({LOSSES[loss]['negative']})" if loss == "ns" else "hierarchical softmax"
    return {"window": window, "loss": loss, **LOSSES[loss], "num_walks": walks, "epochs": epochs,
            "setting": f"window {window}, {name}, {walks} walks x {epochs} epochs"}


def run_pipeline(runner: Runner, impl: str, setting: dict[str, Any]) -> dict[str, Any]:
    """One pipeline at one setting (graphscale: ``num_walks``; the peers: ``peer_setting``): train, then evaluate
    with graphscale's evaluation code."""
    args = runner.args
    walks = setting["num_walks"]
    if impl == "graphscale":
        tag = str(walks)
    else:
        tag = f"w{setting['window']}-{setting['loss']}-{walks}x{setting['epochs']}"
    emb = str(Path(args.work) / f"emb-{impl.replace('+', '-')}-{tag}.npy")
    base = {"bench": "ttq-run", "impl": impl, "dataset": "blogcatalog"}
    if impl == "graphscale":
        settings, source = graphscale_settings()
        base.update(num_walks=walks, window=settings.get("window"), loss="ns", negative=settings.get("negatives"),
                    config=source, setting=f"{source}, {walks} walks")
        record = runner.worker(sys.executable, "graphscale-deepwalk", base, emb,
                               **{**settings, "num_walks": walks, "seed": args.seed})
    else:
        venv = "gensim" if impl == "gensim" else "pecanpy"
        source = "numpy" if impl == "gensim" else "pecanpy"
        base.update(setting, walk_length=GENSIM["walk_length"], dim=GENSIM["dim"])
        options = {k: setting[k] for k in ("window", "hs", "negative", "num_walks", "epochs")}
        record = runner.worker(common.peer_python(venv), "gensim-deepwalk", base, emb,
                               **{**GENSIM, **options, "walks": source, "seed": args.seed})
    if record.get("status") == "ok":
        scores = runner.worker(sys.executable, "evaluate", {}, embeddings=emb, ratio=0.5, repeats=args.repeats,
                               seed=args.seed)
        if scores.get("status") == "ok":  # (the versions stay the pipeline's, not the evaluator's)
            record.update({k: v for k, v in scores.items() if k not in ("status", "worker_wall_s", *LIBRARIES)})
        else:
            record["status"] = "error: evaluation failed: " + str(scores.get("status"))
    record["embeddings"] = emb
    return runner.emit(record)


def search_ladder(ladder: list[Any], run, target: float, mode: str = "bisect",
                  best_time=lambda: None) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str, str]:
    """The cheapest rung of ``ladder`` (ordered by cost) whose run reaches Micro-F1 >= ``target``.

    ``mode`` "bisect" assumes that reaching the target is monotone along the ladder and runs ~log2(len) rungs;
    "scan" runs the rungs cheapest first and stops at the first that reaches it. A rung that times out ends the
    search above it (every costlier rung would too). A rung that misses the target after ``best_time()`` seconds
    or more (the fastest run of this pipeline that reached it so far) ends the search above it too: those rungs
    can only be slower. Returns ``(cheapest record reaching the target or None, records run, note, failure)``:
    the note says why rungs were left out, the failure is the status of a run that failed otherwise (an error or
    "oom", which ends the search).
    """
    lo, hi, found, runs, note = 0, len(ladder) - 1, None, [], ""
    while lo <= hi:
        mid = (lo + hi) // 2 if mode == "bisect" else lo
        record = run(ladder[mid])
        runs.append(record)
        status = str(record.get("status"))
        if status == "ok" and record.get("micro_f1", 0) >= target:
            found, hi = record, mid - 1
        elif status == "ok":
            fastest = best_time()
            if fastest is not None and record["total_time_s"] >= fastest:
                note = (f"stopped above {record.get('setting')}: it missed the target in {record['total_time_s']} s, "
                        f"not faster than {fastest} s")
                break
            lo = mid + 1
        elif status.startswith("timeout"):
            note = f"rungs from {record.get('setting')} up left out: it timed out"
            hi = mid - 1
        else:
            return found, runs, note, status
    return found, runs, note, ""


def summary_fields(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("setting", "num_walks", "epochs", "window", "loss", "hs", "negative", "config", "total_time_s",
            "walk_time_s", "train_time_s", "cpu_time_s", "micro_f1", "macro_f1", "peak_rss_mb", "embeddings")
    return {k: record[k] for k in keys if k in record}


def bench_ttq(runner: Runner) -> dict[str, Any]:
    """Each pipeline's fastest setting with Micro-F1 >= target: graphscale by bisection over its ladder (multiples
    of the shipped config's walks), each peer by a search of every (window, loss) family's ladder of (walks,
    epochs) rungs (``search_ladder``); then one ``time-to-quality`` line per pipeline and the ``ratio`` line."""
    args = runner.args
    best: dict[str, dict[str, Any]] = {}
    runner.all_runs = []
    for impl in args.impls:
        start = time.perf_counter()
        summary = {"bench": "time-to-quality", "impl": impl, "dataset": "blogcatalog", "target_micro_f1": args.target}
        runs, failure, families = [], "", []

        def run(setting: dict[str, Any], impl: str = impl) -> dict[str, Any]:
            record = run_pipeline(runner, impl, setting)
            runs.append(record)
            runner.all_runs.append(record)
            return record

        if impl == "graphscale":
            walks = graphscale_settings()[0]["num_walks"]
            ladder = sorted({max(1, round(m * walks)) for m in args.graphscale_ladder})
            found, _, note, failure = search_ladder([{"num_walks": w} for w in ladder], run, args.target)
            hits = [found] if found else []
            if note:
                summary["note"] = note
        else:
            summary.update(search=args.peer_search, **GENSIM)
            hits = []

            def fastest() -> float | None:
                return min((h["total_time_s"] for h in hits), default=None) if args.peer_prune else None

            rungs = peer_ladder(args.peer_walks, args.peer_epochs)
            for window in args.peer_windows:
                for loss in args.peer_losses:
                    ladder = [peer_setting(window, loss, w, e) for w, e in rungs]
                    found, ran, note, failure = search_ladder(ladder, run, args.target, args.peer_search, fastest)
                    family = {"window": window, "loss": loss, "runs": len(ran),
                              "cheapest_reaching": f"{found['num_walks']}x{found['epochs']}" if found else None}
                    if found:
                        hits.append(found)
                        family.update(total_time_s=found["total_time_s"], micro_f1=found["micro_f1"])
                    if note or failure:
                        family["note"] = note or failure
                    families.append(family)
                    if failure:
                        break
                if failure:
                    break
        summary["runs"] = len(runs)
        summary["search_wall_s"] = round(time.perf_counter() - start, 1)
        if families:
            summary["families"] = families
        winner = min(hits, key=lambda r: r["total_time_s"]) if hits else None
        if winner is not None and not failure:
            summary.update({"status": "ok", **summary_fields(winner)})
            best[impl] = winner
        else:
            scores = [r.get("micro_f1", 0) for r in runs if r.get("status") == "ok"]
            summary["status"] = failure or f"target not reached (best Micro-F1 {max(scores, default=None)})"
        runner.emit(summary)
    peers = {k: v for k, v in best.items() if k != "graphscale"}
    if "graphscale" in best and peers:
        name, peer = min(peers.items(), key=lambda item: item[1]["total_time_s"])
        ours = best["graphscale"]
        speedup = peer["total_time_s"] / ours["total_time_s"]
        runner.emit({"bench": "time-to-quality", "impl": "ratio", "status": "ok", "best_peer": name,
                     "best_peer_setting": peer.get("setting"), "speedup": round(speedup, 2),
                     "target_speedup": TARGET_TTQ_SPEEDUP,
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
                       record.get("window"), record.get("loss"), record.get("mode"))
                records[key] = record
    tables = {
        "ttq-run": ("impl", "window", "loss", "num_walks", "epochs", "status", "total_time_s", "walk_time_s",
                    "train_time_s", "cpu_time_s", "micro_f1", "macro_f1", "peak_rss_mb"),
        "time-to-quality": ("impl", "status", "window", "loss", "num_walks", "epochs", "runs", "total_time_s",
                            "cpu_time_s", "micro_f1", "macro_f1", "peak_rss_mb", "best_peer", "best_peer_setting",
                            "speedup", "met"),
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
    parser.add_argument("--peer-windows", default=",".join(map(str, PEER_WINDOWS)),
                        help="Word2Vec windows searched for the gensim pipelines (one family per window and loss)")
    parser.add_argument("--peer-losses", default=",".join(LOSSES),
                        help="losses searched: ns (negative=5, hs=0), hs (hs=1, negative=0)")
    parser.add_argument("--peer-walks", default=",".join(map(str, PEER_WALKS)),
                        help="walks per node of the peers' rungs (every walks x epochs pair is a rung)")
    parser.add_argument("--peer-epochs", default=",".join(map(str, PEER_EPOCHS)), help="Word2Vec epochs of the rungs")
    parser.add_argument("--peer-search", choices=SEARCHES, default="bisect",
                        help="per family: bisect the cost-ordered rungs, or scan them cheapest first up to the "
                        "first that reaches the target")
    parser.add_argument("--no-peer-prune", dest="peer_prune", action="store_false",
                        help="run costlier rungs even after one missed the target in more time than the "
                        "pipeline's fastest run reaching it")
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
    args.peer_windows = tuple(int(v) for v in args.peer_windows.split(",") if v)
    args.peer_losses = tuple(v for v in args.peer_losses.split(",") if v)
    unknown = [v for v in args.peer_losses if v not in LOSSES]
    if unknown:
        parser.error(f"--peer-losses: unknown {unknown} (choose from {', '.join(LOSSES)})")
    args.peer_walks = tuple(int(v) for v in args.peer_walks.split(",") if v)
    args.peer_epochs = tuple(int(v) for v in args.peer_epochs.split(",") if v)
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
