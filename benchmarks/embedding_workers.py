"""Worker processes of ``benchmarks/embedding.py``: one measurement each, one JSON object as the last stdout line.

Peer workers run in the peers' own interpreters (``benchmarks/.peers/gensim``, ``benchmarks/.peers/pecanpy``) and
import only numpy, gensim and pecanpy; graphscale workers run in graphscale's interpreter. Data comes in as
``.npy`` files written by the orchestrator (``indptr.npy``, ``indices.npy``: the CSR of the undirected graph,
both directions stored); embeddings go out as ``.npy`` (row ``i`` = node ``i``).

    python benchmarks/embedding_workers.py KIND --data DIR --out FILE --options JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # stdlib only
from record_fields import loaded_versions  # stdlib only

TOKEN_WIDTH = 7  # zero-padded node ids in walk corpora ("0001234"): every id is one fixed-width token


# -- walk corpora for gensim --------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak RSS of this process image in MiB: ``VmHWM`` (reset by exec), not ``ru_maxrss``, which Linux carries
    over from the forking parent, so a worker would report at least the orchestrator's peak."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return common.peak_rss_mb()


def numpy_walks(indptr, indices, num_walks: int, walk_length: int, seed: int):
    """DeepWalk walks in vectorised numpy (every walk advances one step per iteration): ``[W, L]`` int64."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = indptr.size - 1
    current = rng.permutation(np.tile(np.arange(n, dtype=np.int64), num_walks))
    walks = np.empty((current.size, walk_length), dtype=np.int64)
    walks[:, 0] = current
    degree = np.diff(indptr).astype(np.int64)
    for step in range(1, walk_length):
        deg = degree[current]
        offset = (rng.random(current.size) * np.maximum(deg, 1)).astype(np.int64)
        current = np.where(deg > 0, indices[indptr[current] + np.minimum(offset, np.maximum(deg - 1, 0))], current)
        walks[:, step] = current
    return walks


def write_corpus(walks, path: Path) -> None:
    """Walks as a gensim ``corpus_file`` (one walk per line, zero-padded ids), built without a Python loop.

    Rows may end early: entries ``< 0`` (pecanpy's end marker, mapped by the caller) are written as spaces.
    """
    import numpy as np

    walks = np.asarray(walks, dtype=np.int64)
    rows, length = walks.shape
    text = np.full((rows, length, TOKEN_WIDTH + 1), ord(" "), dtype=np.uint8)
    for digit in range(TOKEN_WIDTH):
        text[:, :, TOKEN_WIDTH - 1 - digit] = (np.maximum(walks, 0) // 10**digit) % 10 + ord("0")
    text[walks < 0, :] = ord(" ")
    text = text.reshape(rows, length * (TOKEN_WIDTH + 1))
    text[:, -1] = ord("\n")
    path.write_bytes(text.tobytes())


def token(node: int) -> str:
    return f"{node:0{TOKEN_WIDTH}d}"


def train_word2vec(corpus: Path, num_nodes: int, opts: dict[str, Any]):
    """gensim skip-gram on a corpus file; the DeepWalk reference settings (hierarchical softmax) by default."""
    import numpy as np
    from gensim.models import Word2Vec

    model = Word2Vec(corpus_file=str(corpus), vector_size=opts.get("dim", 128), window=opts.get("window", 10),
                     min_count=0, sg=1, hs=opts.get("hs", 1), negative=opts.get("negative", 0),
                     workers=opts.get("workers", 2), epochs=opts.get("epochs", 5), seed=opts.get("seed", 0))
    vectors = np.zeros((num_nodes, model.wv.vector_size), dtype=np.float32)
    for node in range(num_nodes):
        key = token(node)
        if key in model.wv.key_to_index:
            vectors[node] = model.wv[key]
    return vectors


def pecanpy_graph(data: Path, mode: str, p: float, q: float, seed: int):
    from pecanpy import pecanpy as node2vec

    cls = getattr(node2vec, mode)
    graph = cls(p=p, q=q, workers=2, verbose=False, random_state=seed)
    if mode == "DenseOTF":
        graph.read_npz(str(data / "pecanpy_dense.npz"), weighted=False, implicit_ids=True)
    else:
        graph.read_npz(str(data / "pecanpy_csr.npz"), weighted=False, implicit_ids=True)
    return graph


def pecanpy_walk_matrix(graph, num_walks: int, walk_length: int, seed: int):
    """pecanpy's own ``simulate_walks`` minus the mapping to string ids: ``(prep_s, kernel_s, [W, L+2] uint32)``.

    pecanpy builds its step function as a fresh numba closure per call, so the kernel is compiled by a tiny
    untimed call with the same step function first (preprocessing, e.g. PreComp's tables, includes its own
    compilation: that is what every pecanpy run pays).
    """
    import numpy as np
    from pecanpy.pecanpy import ProgressBar

    start, cpu = time.perf_counter(), time.process_time()
    graph._preprocess_transition_probs()
    prep, cpu = time.perf_counter() - start, time.process_time() - cpu
    nodes = np.arange(graph.num_nodes, dtype=np.uint32)
    starts = np.concatenate([nodes] * num_walks)
    np.random.seed(seed)
    np.random.shuffle(starts)
    has_nbrs, move_forward = graph.get_has_nbrs(), graph.get_move_forward()
    with ProgressBar(total=8, disable=True) as bar:
        graph._random_walks(8, walk_length, seed, starts[:8], has_nbrs, move_forward, bar)
    start, cpu_start = time.perf_counter(), time.process_time()
    with ProgressBar(total=starts.size, disable=True) as bar:
        matrix = graph._random_walks(starts.size, walk_length, seed, starts, has_nbrs, move_forward, bar)
    graph.walk_cpu_s = cpu + time.process_time() - cpu_start  # CPU seconds of preprocessing + kernel
    return prep, time.perf_counter() - start, matrix


def pecanpy_to_walks(matrix, walk_length: int):
    """pecanpy's ``[W, L+1]`` matrix (walks of ``L`` nodes; last column: effective length) as ``[W, L]`` int64
    with ``-1`` padding."""
    import numpy as np

    walks = matrix[:, :walk_length].astype(np.int64)
    walks[np.arange(walk_length)[None, :] >= matrix[:, -1].astype(np.int64)[:, None]] = -1
    return walks


# -- peer workers --------------------------------------------------------------------------------------------
def work_gensim_deepwalk(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """DeepWalk with gensim Word2Vec: numpy walks (``walks == "numpy"``) or pecanpy walks (``"pecanpy"``)."""
    import numpy as np

    indptr, indices = np.load(data / "indptr.npy"), np.load(data / "indices.npy")
    n = indptr.size - 1
    corpus = out.with_suffix(".walks.txt")
    seed, num_walks, walk_length = opts.get("seed", 0), opts["num_walks"], opts.get("walk_length", 40)
    record: dict[str, Any] = {}
    if opts["walks"] == "pecanpy":
        graph = pecanpy_graph(data, opts.get("mode", "FirstOrderUnweighted"), 1.0, 1.0, seed)
        prep, kernel, matrix = pecanpy_walk_matrix(graph, num_walks, walk_length - 1, seed)  # L nodes
        start = time.perf_counter() - prep - kernel  # preprocessing + walks, not the kernel's compilation
        cpu = time.process_time() - graph.walk_cpu_s
        write_corpus(pecanpy_to_walks(matrix, walk_length), corpus)
    else:
        start, cpu = time.perf_counter(), time.process_time()
        write_corpus(numpy_walks(indptr, indices, num_walks, walk_length, seed), corpus)
    walk_time = time.perf_counter() - start
    vectors = train_word2vec(corpus, n, opts)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    corpus.unlink()
    np.save(out, vectors)
    record.update(walk_time_s=round(walk_time, 3), train_time_s=round(total - walk_time, 3),
                  total_time_s=round(total, 3), cpu_time_s=round(cpu, 3), peak_rss_mb=round(peak_rss_mb(), 1))
    return record


def work_pecanpy_walks(data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """node2vec walk generation with one pecanpy mode: the numba kernel alone and the public API (string ids)."""
    seed, num_walks, walk_length = opts.get("seed", 0), opts["num_walks"], opts["walk_length"]
    start = time.perf_counter()
    graph = pecanpy_graph(data, opts["mode"], opts["p"], opts["q"], seed)
    load = time.perf_counter() - start
    prep, kernel, matrix = pecanpy_walk_matrix(graph, num_walks, walk_length - 1, seed)  # walks of L nodes
    begin = time.perf_counter()
    walks = [graph._map_walk(row) for row in matrix]  # what simulate_walks adds: ids as lists of strings
    mapping = time.perf_counter() - begin
    compile_s = time.perf_counter() - start - load - prep - kernel - mapping
    return {"walk_time_s": round(prep + kernel, 3), "prep_time_s": round(prep, 3), "kernel_time_s": round(kernel, 3),
            "api_time_s": round(prep + kernel + mapping, 3), "cpu_time_s": round(graph.walk_cpu_s, 3), "warmup_s": round(compile_s, 3),
            "load_time_s": round(load, 3), "num_walks_total": len(walks),
            "steps": int(matrix[:, -1].astype("int64").sum()) - len(walks), "peak_rss_mb": round(peak_rss_mb(), 1)}


WORKERS = {"gensim-deepwalk": work_gensim_deepwalk, "pecanpy-walks": work_pecanpy_walks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="")
    parser.add_argument("--options", default="{}")
    args = parser.parse_args()
    opts = json.loads(args.options)
    if args.kind in WORKERS:
        record = WORKERS[args.kind](Path(args.data), Path(args.out), opts)
    else:
        import embedding_graphscale  # graphscale's interpreter only

        record = embedding_graphscale.WORKERS[args.kind](Path(args.data), Path(args.out), opts)
    common.emit({"status": "ok", **record, **loaded_versions()})


if __name__ == "__main__":
    main()
