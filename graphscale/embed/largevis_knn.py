"""Approximate k-nearest-neighbour graph of high-dimensional vectors, as in LargeVis (Tang et al., WWW 2016).

Two steps, both numba kernels parallel over trees / points:

1. **Random-projection trees.** Every tree splits the points recursively by the hyperplane halfway between
   two randomly drawn points of the node (normal ``x_a - x_b``) until a leaf holds at most ``leaf_size``
   points. The points sharing a leaf with ``i`` in any tree are ``i``'s first candidates; the ``k`` closest
   of them form the initial graph.
2. **Neighbour exploring.** "A neighbour of my neighbour is likely my neighbour": each round replaces the
   list of ``i`` by the ``k`` closest among its neighbours and their neighbours.

Distances are squared Euclidean, computed in float32 inputs with float64 accumulation. Tree ``t`` draws
from the random stream ``(seed, t)`` and exploring reads the previous round only, so the graph depends on
the seed, never on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ..errors import ShapeError
from ..sampling.rng import below, stream, uniform

TREE_STREAM = 11  # stream family of the random-projection trees
FILL_STREAM = 12  # stream family of the random fill for points left with too few candidates
BLOCKS_PER_THREAD = 4


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sq_dist(x, i, j):
    total = np.float32(0.0)
    for d in range(x.shape[1]):
        diff = x[i, d] - x[j, d]
        total += diff * diff
    return np.float64(total)


@numba.njit(cache=True, nogil=True)
def _heap_push(dist, idx, d, j):
    """Replace the root of the max-heap ``(dist, idx)`` by ``(d, j)`` and sift down (caller checked ``d``)."""
    size = dist.shape[0]
    pos = 0
    while True:
        left = 2 * pos + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and dist[left + 1] > dist[left]:
            child = left + 1
        if dist[child] <= d:
            break
        dist[pos] = dist[child]
        idx[pos] = idx[child]
        pos = child
    dist[pos] = d
    idx[pos] = j


@numba.njit(cache=True, nogil=True)
def _sort_row(dist, idx):
    order = np.argsort(dist, kind="mergesort")
    dist[:] = dist[order].copy()
    idx[:] = idx[order].copy()


@numba.njit(cache=True, nogil=True, parallel=True)
def _build_trees(x, num_trees, leaf_size, seed):
    """Leaf of every point in every tree: ``order[t]`` lists the points leaf by leaf; point ``i``'s leaf in
    tree ``t`` is ``order[t, lo[t, i]:hi[t, i]]``."""
    n, dim = x.shape
    order = np.empty((num_trees, n), dtype=np.int32)
    lo = np.empty((num_trees, n), dtype=np.int32)
    hi = np.empty((num_trees, n), dtype=np.int32)
    for t in prange(num_trees):
        state = stream(seed, TREE_STREAM, t)
        perm = order[t]
        for i in range(n):
            perm[i] = i
        stack_lo = np.empty(130, dtype=np.int64)  # smaller child on top: depth <= log2(N) + 1 entries
        stack_hi = np.empty_like(stack_lo)
        stack_lo[0] = 0
        stack_hi[0] = n
        top = 1
        normal = np.empty(dim, dtype=np.float64)
        while top > 0:
            top -= 1
            start = stack_lo[top]
            end = stack_hi[top]
            size = end - start
            if size <= leaf_size:
                for k in range(start, end):
                    lo[t, perm[k]] = start
                    hi[t, perm[k]] = end
                continue
            state, ra = below(state, size)
            state, rb = below(state, size - 1)
            if rb >= ra:
                rb += 1
            a = perm[start + ra]
            b = perm[start + rb]
            offset = 0.0
            for d in range(dim):
                normal[d] = np.float64(x[a, d]) - np.float64(x[b, d])
                offset += normal[d] * 0.5 * (np.float64(x[a, d]) + np.float64(x[b, d]))
            # Hoare-style partition: points with projection < offset to the left (ties go to a coin flip).
            left = start
            right = end - 1
            while left <= right:
                proj = 0.0
                p = perm[left]
                for d in range(dim):
                    proj += normal[d] * x[p, d]
                go_left = proj < offset
                if proj == offset:
                    state, coin = uniform(state)
                    go_left = coin < 0.5
                if go_left:
                    left += 1
                else:
                    perm[left] = perm[right]
                    perm[right] = p
                    right -= 1
            split = left
            if split == start or split == end:  # all projections equal (duplicates): halve at random order
                split = start + size // 2
            if split - start > end - split:  # the larger child waits below, the smaller is split next
                stack_lo[top], stack_hi[top] = start, split
                stack_lo[top + 1], stack_hi[top + 1] = split, end
            else:
                stack_lo[top], stack_hi[top] = split, end
                stack_lo[top + 1], stack_hi[top + 1] = start, split
            top += 2
    return order, lo, hi


@numba.njit(cache=True, nogil=True, parallel=True)
def _candidates_from_trees(x, k, order, lo, hi, num_blocks, seed):
    """Initial ``[N, k]`` neighbour lists (sorted, closest first) from the points sharing a leaf."""
    n = x.shape[0]
    num_trees = order.shape[0]
    idx = np.full((n, k), -1, dtype=np.int32)
    dist = np.full((n, k), np.inf, dtype=np.float32)
    block = (n + num_blocks - 1) // num_blocks
    for b in prange(num_blocks):
        marks = np.full(n, -1, dtype=np.int64)
        heap_d = np.empty(k, dtype=np.float64)
        heap_i = np.empty(k, dtype=np.int32)
        for i in range(b * block, min(n, (b + 1) * block)):
            heap_d[:] = np.inf
            heap_i[:] = -1
            marks[i] = i
            for t in range(num_trees):
                for pos in range(lo[t, i], hi[t, i]):
                    j = order[t, pos]
                    if marks[j] == i:
                        continue
                    marks[j] = i
                    d = _sq_dist(x, i, j)
                    if d < heap_d[0]:
                        _heap_push(heap_d, heap_i, d, j)
            if heap_i.min() < 0:  # small leaves everywhere: fill with random points, exploring fixes them
                state = stream(seed, FILL_STREAM, i)
                tries = 0
                while heap_i.min() < 0 and tries < 64 * k:
                    tries += 1
                    state, j = below(state, n)
                    if marks[j] == i:
                        continue
                    marks[j] = i
                    _heap_push(heap_d, heap_i, _sq_dist(x, i, j), j)
            _sort_row(heap_d, heap_i)
            idx[i] = heap_i
            dist[i] = heap_d.astype(np.float32)
    return idx, dist


@numba.njit(cache=True, nogil=True, parallel=True)
def _explore(x, idx, dist, num_blocks):
    """One round of neighbour exploring: ``k`` closest among neighbours and neighbours of neighbours."""
    n, k = idx.shape
    new_idx = np.empty_like(idx)
    new_dist = np.empty_like(dist)
    block = (n + num_blocks - 1) // num_blocks
    for b in prange(num_blocks):
        marks = np.full(n, -1, dtype=np.int64)
        heap_d = np.empty(k, dtype=np.float64)
        heap_i = np.empty(k, dtype=np.int32)
        for i in range(b * block, min(n, (b + 1) * block)):
            marks[i] = i
            # Start from the current list (a valid max-heap once reversed: it is sorted ascending).
            for s in range(k):
                heap_d[s] = dist[i, k - 1 - s]
                heap_i[s] = idx[i, k - 1 - s]
                if idx[i, k - 1 - s] >= 0:
                    marks[idx[i, k - 1 - s]] = i
            for s in range(k):
                j = idx[i, s]
                if j < 0:
                    continue
                for s2 in range(k):
                    m = idx[j, s2]
                    if m < 0 or marks[m] == i:
                        continue
                    marks[m] = i
                    d = _sq_dist(x, i, m)
                    if d < heap_d[0]:
                        _heap_push(heap_d, heap_i, d, m)
            _sort_row(heap_d, heap_i)
            new_idx[i] = heap_i
            new_dist[i] = heap_d.astype(np.float32)
    return new_idx, new_dist


def check_vectors(x, where: str, name: str = "x") -> np.ndarray:
    """``x`` as a C-contiguous float32 ``[N, D]`` array with finite values, or a ShapeError."""
    array = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if array.ndim != 2:
        raise ShapeError(f"{where}: expected {name} with 2 dims [N, D], got shape {tuple(array.shape)}. "
                         "Pass one row per point.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ShapeError(f"{where}: expected {name} of a real number dtype, got {array.dtype}. "
                         "Convert it with x.astype(np.float32).")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ShapeError(f"{where}: expected finite values in {name}, got NaN or inf in row {bad}. "
                         "Drop or repair those rows first.")
    return array


def _check_k(k: int, num_points: int, where: str) -> int:
    k = int(k)
    if not 1 <= k < num_points:
        raise ShapeError(f"{where}: expected 1 <= n_neighbors < number of points ({num_points}), got {k}. "
                         "Use fewer neighbours or more points.")
    return k


def default_num_trees(num_points: int) -> int:
    """LargeVis's defaults: 10 trees below 100k points, 20 below 1M, 50 above."""
    return 10 if num_points < 100_000 else (20 if num_points < 1_000_000 else 50)


def knn_graph(x, k: int, *, num_trees: int | None = None, leaf_size: int | None = None,
              explore_rounds: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Approximate ``k``-nearest-neighbour lists by random-projection trees + neighbour exploring.

    Args:
        x: The points, one per row.
        k: Neighbours per point (the point itself excluded).
        num_trees: Random-projection trees (default ``default_num_trees(N)``).
        leaf_size: Largest leaf (default ``max(k, 16)``): more trees or larger leaves raise the recall.
        explore_rounds: Rounds of neighbour exploring (0 keeps the tree candidates).
        seed: Random seed.

    Returns:
        ``(indices, sq_distances)``, each row sorted closest first.

    Shapes:
        x: ``[N, D]``; returns ``[N, k]`` int32 and ``[N, k]`` float32.

    Raises:
        ShapeError: If ``x`` is not a finite 2-D array or ``k`` is not in ``[1, N)``.
    """
    array = check_vectors(x, "knn_graph")
    k = _check_k(k, array.shape[0], "knn_graph")
    num_trees = default_num_trees(array.shape[0]) if num_trees is None else max(int(num_trees), 1)
    leaf_size = max(k, 16) if leaf_size is None else max(int(leaf_size), 2)
    num_blocks = max(1, min(array.shape[0], numba.get_num_threads() * BLOCKS_PER_THREAD))
    order, lo, hi = _build_trees(array, num_trees, leaf_size, int(seed))
    idx, dist = _candidates_from_trees(array, k, order, lo, hi, num_blocks, int(seed))
    del order, lo, hi
    for _ in range(max(int(explore_rounds), 0)):
        idx, dist = _explore(array, idx, dist, num_blocks)
    return idx, dist


def exact_knn(x, k: int, queries=None, *, block_bytes: int = 2**28) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours by blocked brute force (BLAS), the reference for ``knn_graph``.

    Args:
        x: The points.
        k: Neighbours per query; a query that is one of the points does not count itself.
        queries: Row ids of ``x`` to answer (default: all).
        block_bytes: Memory of one block of the distance matrix.

    Returns:
        ``(indices, sq_distances)`` sorted closest first.

    Shapes:
        x: ``[N, D]``; queries: ``[Q]``; returns ``[Q, k]`` int64 and ``[Q, k]`` float32.
    """
    array = check_vectors(x, "exact_knn")
    n = array.shape[0]
    k = _check_k(k, n, "exact_knn")
    rows = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    data = array.astype(np.float64)
    norms = np.einsum("ij,ij->i", data, data)
    step = max(1, int(block_bytes // (8 * n)))
    out_idx = np.empty((rows.size, k), dtype=np.int64)
    out_dist = np.empty((rows.size, k), dtype=np.float32)
    for start in range(0, rows.size, step):
        ids = rows[start:start + step]
        block = norms[ids, None] + norms[None, :] - 2.0 * (data[ids] @ data.T)  # [B, N]
        block[np.arange(ids.size), ids] = np.inf
        part = np.argpartition(block, k - 1, axis=1)[:, :k]
        part_d = np.take_along_axis(block, part, axis=1)
        order = np.argsort(part_d, axis=1, kind="stable")
        out_idx[start:start + ids.size] = np.take_along_axis(part, order, axis=1)
        out_dist[start:start + ids.size] = np.maximum(np.take_along_axis(part_d, order, axis=1), 0.0)
    return out_idx, out_dist


def knn_recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of the exact neighbours found in the approximate lists (rows matched by position)."""
    approx = np.asarray(approx)
    exact = np.asarray(exact)
    if approx.shape[0] != exact.shape[0] or approx.ndim != 2 or exact.ndim != 2:
        raise ShapeError(f"knn_recall: expected two [Q, k] arrays with the same rows, got {approx.shape} and "
                         f"{exact.shape}. Answer the same queries in both.")
    hits = sum(np.intersect1d(a, e).size for a, e in zip(approx, exact))
    return hits / max(exact.size, 1)


def sampled_knn_recall(x, indices: np.ndarray, num_queries: int = 1000, seed: int = 0) -> float:
    """Recall of ``indices`` (``[N, k]`` neighbour lists of ``x``) against exact kNN on a random sample of rows."""
    n, k = np.asarray(indices).shape
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(n, size=min(num_queries, n), replace=False))
    exact, _ = exact_knn(x, k, queries)
    return knn_recall(np.asarray(indices)[queries], exact)


def knn_preservation(high, low, k: int = 10, num_queries: int | None = None, seed: int = 0) -> float:
    """Mean fraction of each point's exact ``k`` nearest neighbours in ``high`` that stay among its ``k``
    nearest in ``low`` (1.0: every neighbourhood kept; random layouts score about ``k / N``).

    Shapes:
        high: ``[N, D]``; low: ``[N, d]`` (the layout); ``num_queries`` rows sampled (default all).
    """
    high = check_vectors(high, "knn_preservation", "high")
    low = check_vectors(low, "knn_preservation", "low")
    if high.shape[0] != low.shape[0]:
        raise ShapeError(f"knn_preservation: expected as many rows in low as in high ({high.shape[0]}), got "
                         f"{low.shape[0]}. Pass the layout of exactly these points.")
    queries = None
    if num_queries is not None and num_queries < high.shape[0]:
        queries = np.sort(np.random.default_rng(seed).choice(high.shape[0], size=num_queries, replace=False))
    return knn_recall(exact_knn(low, k, queries)[0], exact_knn(high, k, queries)[0])

