"""graphscale-side workers of ``benchmarks/embedding.py`` (run in graphscale's interpreter only).

Each worker excludes numba compilation from its timings by a small untimed call with the same settings first
(reported as ``warmup_s``), and returns one record (``embedding_workers.main`` prints it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import common
from embedding_workers import peak_rss_mb


def load_graph(data: Path):
    """The benchmark graph (both directions of every undirected edge) from the orchestrator's CSR files."""
    import numpy as np
    import torch

    from graphscale.graph import Graph

    indptr, indices = np.load(data / "indptr.npy"), np.load(data / "indices.npy")
    n = indptr.size - 1
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    return Graph(torch.from_numpy(src), torch.from_numpy(indices.astype(np.int64)), num_nodes=n)


def _tiny_graph():
    import torch

    from graphscale.graph import Graph

    ring = torch.arange(64)
    src, dst = torch.cat([ring, (ring + 1) % 64]), torch.cat([(ring + 1) % 64, ring])
    return Graph(src, dst, num_nodes=64)


def work_deepwalk(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """DeepWalk with graphscale's engine (walks -> pools -> numba SGD), timed from the graph to the table."""
    import numpy as np

    from graphscale.embed.trainer import train_embeddings

    settings = {k: v for k, v in opts.items() if k not in ("model", "dim")}
    model, dim = opts.get("model", "deepwalk"), opts.get("dim", 128)
    start = time.perf_counter()
    train_embeddings(_tiny_graph(), model, dim, **{**settings, "num_walks": 1, "num_samples": 2048})
    warmup = time.perf_counter() - start
    graph = load_graph(data)
    start, cpu = time.perf_counter(), time.process_time()
    result = train_embeddings(graph, model, dim, **settings)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    np.save(out, result.embeddings)
    return {"total_time_s": round(total, 3), "walk_time_s": round(result.sample_time_s, 3),
            "train_time_s": round(result.train_time_s, 3), "cpu_time_s": round(cpu, 3),
            "num_samples": int(result.num_samples),
            "samples_per_s": round(result.num_samples / total, 1), "warmup_s": round(warmup, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def work_node2vec_walks(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """graphscale's node2vec walk generation, end to end from the ``Graph`` (CSR, tables, walks); the preparation
    alone (CSR + alias tables) is timed once more separately as ``prep_time_s``."""
    from graphscale.embed.walks import node2vec_walks, walk_plan

    p, q, mode = opts["p"], opts["q"], opts.get("mode", "auto")
    budget = opts.get("alias_budget_mb", 1024.0)
    start = time.perf_counter()
    node2vec_walks(_tiny_graph(), 1, opts["walk_length"], p, q, seed=0, mode=mode)
    warmup = time.perf_counter() - start
    graph = load_graph(data)
    start = time.perf_counter()
    plan = walk_plan(graph, p, q, mode=mode, alias_budget_mb=budget)
    prep = time.perf_counter() - start
    mode_used = plan.mode_name
    del plan
    start, cpu = time.perf_counter(), time.process_time()
    walks = node2vec_walks(graph, opts["num_walks"], opts["walk_length"], p, q, seed=opts.get("seed", 0),
                           mode=mode, alias_budget_mb=budget)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"walk_time_s": round(total, 3), "cpu_time_s": round(cpu, 3), "prep_time_s": round(prep, 3), "warmup_s": round(warmup, 3),
            "mode_used": mode_used, "num_walks_total": int(walks.shape[0]),
            "steps": int((walks >= 0).sum() - walks.shape[0]), "peak_rss_mb": round(peak_rss_mb(), 1)}


def work_evaluate(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """Micro/Macro-F1 at ``ratio`` training labels (graphscale.embed.evaluate, the same code for every impl)."""
    import numpy as np

    from graphscale.embed.evaluate import node_classification

    embeddings = np.load(opts["embeddings"])
    labels = np.load(data / "labels.npy")
    result = node_classification(embeddings, labels, ratios=[opts.get("ratio", 0.5)],
                                 repeats=opts.get("repeats", 5), seed=opts.get("seed", 0))
    return {"micro_f1": round(result["micro_f1"][0], 4), "macro_f1": round(result["macro_f1"][0], 4),
            "micro_f1_std": round(result["micro_f1_std"][0], 4), "eval_repeats": opts.get("repeats", 5)}


def work_scale(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """A seeded power-law graph (Chung-Lu) of ``num_nodes`` nodes / ``num_edges`` undirected edges, embedded
    with DeepWalk in this one process."""
    import numpy as np

    from graphscale.datasets.generators import pairs_to_graph, power_law_graph
    from graphscale.embed.trainer import train_embeddings

    settings = {k: v for k, v in opts.items() if k not in ("num_nodes", "num_edges", "exponent", "dim")}
    start = time.perf_counter()
    train_embeddings(_tiny_graph(), "deepwalk", opts.get("dim", 128), **{**settings, "num_walks": 1,
                                                                          "num_samples": 2048})
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    u, v = power_law_graph(opts["num_nodes"], opts["num_edges"], exponent=opts.get("exponent", 2.5), seed=0)
    graph = pairs_to_graph(u, v, opts["num_nodes"])  # both directions of every pair
    generate = time.perf_counter() - start
    rss_graph = common.current_rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = train_embeddings(graph, "deepwalk", opts.get("dim", 128), **settings)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    finite = bool(np.isfinite(result.embeddings).all())
    return {"num_nodes": int(graph.num_nodes), "num_edges_directed": int(graph.num_edges),
            "total_time_s": round(total, 3), "walk_time_s": round(result.sample_time_s, 3),
            "train_time_s": round(result.train_time_s, 3), "cpu_time_s": round(cpu, 3),
            "num_samples": int(result.num_samples),
            "samples_per_s": round(result.num_samples / total, 1), "generate_time_s": round(generate, 3),
            "rss_after_graph_mb": round(rss_graph, 1), "embeddings_finite": finite, "warmup_s": round(warmup, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def work_layout(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """A 2-D layout of ``opts["vectors"]`` (first ``num_points`` rows) with LargeVis or scikit-learn's t-SNE,
    then its kNN preservation (untimed)."""
    import numpy as np

    from graphscale.embed.largevis_knn import knn_preservation

    vectors = np.ascontiguousarray(np.load(opts["vectors"])[: opts["num_points"]], dtype=np.float32)
    warmup = 0.0
    if opts["method"] == "largevis":
        from graphscale.embed.largevis import largevis

        start = time.perf_counter()
        largevis(vectors[:300], perplexity=10, num_samples=10_000)
        warmup = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        result = largevis(vectors, perplexity=opts.get("perplexity", 30.0), seed=0)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        coords, extra = result.coords, {"knn_time_s": round(result.times["knn"], 3),
                                        "layout_time_s": round(result.times["layout"], 3),
                                        "num_samples": result.num_samples}
    else:
        from sklearn.manifold import TSNE

        start, cpu = time.perf_counter(), time.process_time()
        coords = TSNE(n_components=2, perplexity=opts.get("perplexity", 30.0), init="pca", random_state=0,
                      n_jobs=opts.get("threads", 2)).fit_transform(vectors)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        extra = {}
    peak = peak_rss_mb()
    np.save(out, coords.astype(np.float32))
    k = opts.get("k", 10)
    return {"total_time_s": round(elapsed, 3), "cpu_time_s": round(cpu, 3), "num_points": int(vectors.shape[0]), "dim": int(vectors.shape[1]),
            f"knn_preservation_{k}": round(knn_preservation(vectors, coords, k), 4), "warmup_s": round(warmup, 3),
            "peak_rss_mb": round(peak, 1), **extra}


WORKERS = {"graphscale-deepwalk": work_deepwalk, "graphscale-node2vec-walks": work_node2vec_walks,
           "evaluate": work_evaluate, "graphscale-scale": work_scale, "layout": work_layout}
