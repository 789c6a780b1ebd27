r"""LargeVis: 2-D (or 3-D) layouts of high-dimensional vectors (Tang, Liu, Zhang, Mei; WWW 2016, arXiv:1602.00370).

Three steps:

1. An approximate kNN graph (``largevis_knn.knn_graph``: random-projection trees + neighbour exploring).
2. Edge weights as in t-SNE: ``p_{j|i} = exp(-d_ij^2 / 2 sigma_i^2) / sum_k exp(-d_ik^2 / 2 sigma_i^2)`` over the
   ``k`` neighbours, ``sigma_i`` found by bisection so that the perplexity ``2^{H(P_i)}`` equals ``perplexity``;
   then ``w_ij = (p_{j|i} + p_{i|j}) / 2N`` on the symmetrised graph.
3. The layout maximises the likelihood of the weighted graph,

   .. math::
       O = \sum_{(i,j) \in E} w_{ij} \log f(\lVert y_i - y_j \rVert)
           + \sum_{(i,j) \in \bar E} \gamma \log\bigl(1 - f(\lVert y_i - y_j \rVert)\bigr),
       \qquad f(x) = \frac{1}{1 + x^2},

   by asynchronous SGD: an edge is drawn with probability proportional to its weight (alias table) and
   treated as weight 1, ``num_negatives`` negative nodes are drawn from ``degree^{0.75}``; every coordinate of
   every gradient is clipped to ``[-5, 5]`` and the learning rate decays linearly from ``learning_rate``
   (to ``1e-4`` of it). Workers update the shared layout without locks (HOGWILD!), like the reference code.

Reproducibility: the kNN graph and the weights depend on the seed only; the layout is bit-for-bit
repeatable with one numba thread (``numba.set_num_threads(1)``) and statistically the same otherwise
(lock-free updates race, as in the reference implementation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import prange

from ..errors import ShapeError
from ..sampling.alias import build_alias, negative_weights
from ..sampling.rng import stream, uniform
from .largevis_knn import check_vectors, knn_graph

LAYOUT_STREAM = 13  # stream family of the layout workers
GRADIENT_CLIP = 5.0
MIN_LR_FRACTION = 1e-4


@dataclass
class LargeVisResult:
    """What ``largevis`` returns: the layout plus the graph it was fitted to and the time of each step.

    Attributes:
        coords: ``[N, out_dim]`` float32 layout.
        knn_indices: ``[N, k]`` int32 approximate neighbour lists (closest first).
        knn_sq_distances: ``[N, k]`` float32 squared distances of ``knn_indices``.
        num_edges: Directed edges of the symmetrised weighted graph.
        num_samples: Edge samples drawn by the layout SGD.
        times: Seconds of ``knn``, ``weights`` and ``layout``.
    """

    coords: np.ndarray
    knn_indices: np.ndarray
    knn_sq_distances: np.ndarray
    num_edges: int
    num_samples: int
    times: dict[str, float] = field(default_factory=dict)


# -- edge weights ----------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True, parallel=True)
def _conditional_probabilities(sq_dist, perplexity, max_iter, tol):
    """``p_{j|i}`` over each row's neighbours with the entropy ``log(perplexity)`` (bisection on the
    precision ``beta = 1 / 2 sigma_i^2``)."""
    n, k = sq_dist.shape
    probs = np.empty((n, k), dtype=np.float64)
    target = np.log(perplexity)
    for i in prange(n):
        d0 = sq_dist[i, 0]
        beta = 1.0
        lo = 0.0
        hi = np.inf
        for _ in range(max_iter):
            total = 0.0
            weighted = 0.0
            for s in range(k):
                d = sq_dist[i, s] - d0  # shifting by the smallest distance leaves p unchanged, avoids underflow
                p = np.exp(-beta * d)
                probs[i, s] = p
                total += p
                weighted += d * p
            entropy = np.log(total) + beta * weighted / total
            if abs(entropy - target) < tol:
                break
            if entropy > target:  # too flat: raise the precision
                lo = beta
                beta = beta * 2.0 if hi == np.inf else 0.5 * (beta + hi)
            else:
                hi = beta
                beta = 0.5 * (beta + lo)
        total = 0.0
        for s in range(k):
            total += probs[i, s]
        for s in range(k):
            probs[i, s] /= total
    return probs


def edge_weights(knn_indices: np.ndarray, knn_sq_distances: np.ndarray, perplexity: float,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The symmetric weighted graph ``w_ij = (p_{j|i} + p_{i|j}) / 2N`` of a kNN graph, both directions stored.

    Returns:
        ``(src, dst, weight)``: int32, int32, float64, sorted by ``src`` then ``dst``.

    Shapes:
        knn_indices, knn_sq_distances: ``[N, k]``; returns three ``[E]`` arrays.
    """
    import scipy.sparse as sp

    n, k = knn_indices.shape
    if not 1.0 <= perplexity <= k:
        raise ShapeError(f"largevis: expected 1 <= perplexity <= n_neighbors ({k}), got {perplexity}. "
                         "Lower the perplexity or raise n_neighbors (about 3 * perplexity).")
    probs = _conditional_probabilities(np.ascontiguousarray(knn_sq_distances, dtype=np.float64),
                                       float(perplexity), 200, 1e-5)
    valid = knn_indices >= 0
    rows = np.repeat(np.arange(n, dtype=np.int64), k)[valid.ravel()]
    cond = sp.csr_matrix((probs[valid], (rows, knn_indices[valid].astype(np.int64))), shape=(n, n))
    sym = ((cond + cond.T) / (2.0 * n)).tocoo()
    order = np.lexsort((sym.col, sym.row))
    return sym.row[order].astype(np.int32), sym.col[order].astype(np.int32), sym.data[order].astype(np.float64)


# -- layout ----------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True, inline="always")
def _draw(state, prob, alias):
    state, u = uniform(state)
    n = prob.shape[0]
    scaled = u * n
    slot = np.int64(scaled)
    if slot >= n:
        slot = n - 1
    return state, (slot if scaled - slot < prob[slot] else alias[slot])


@numba.njit(cache=True, nogil=True)
def pair_gradient(coords, i, j, positive, gamma, out):
    """LargeVis's clipped gradient of ``log f`` (positive) or ``gamma log(1 - f)`` (negative) w.r.t. ``y_i``,
    with ``f = 1 / (1 + ||y_i - y_j||^2)``; the gradient w.r.t. ``y_j`` is its negative. Written into ``out``.

    The negative term uses ``2 gamma / ((1 + d^2)(0.1 + d^2))`` (the reference code's ``0.1`` keeps it finite
    at ``d = 0``), the exact derivative of ``gamma log(d^2 / (1 + d^2))`` up to that constant.
    """
    dim = coords.shape[1]
    sq = 0.0
    for c in range(dim):
        diff = coords[i, c] - coords[j, c]
        sq += diff * diff
    if positive:
        scale = -2.0 / (1.0 + sq)
    else:
        scale = 2.0 * gamma / ((1.0 + sq) * (0.1 + sq))
    for c in range(dim):
        g = scale * (coords[i, c] - coords[j, c])
        out[c] = min(max(g, -GRADIENT_CLIP), GRADIENT_CLIP)


@numba.njit(cache=True, nogil=True, parallel=True)
def _layout_round(coords, src, dst, edge_prob, edge_alias, neg_prob, neg_alias, num_negatives, gamma,
                  learning_rate, done, count, total, num_workers, seed, round_id):
    """Draw ``count`` edge samples (split over ``num_workers`` lock-free workers), samples ``done..done+count``
    of ``total`` for the learning-rate schedule."""
    dim = coords.shape[1]
    per_worker = (count + num_workers - 1) // num_workers
    for w in prange(num_workers):
        state = stream(seed, LAYOUT_STREAM + round_id * 65536, w)
        grad = np.empty(dim, dtype=np.float64)
        step_i = np.empty(dim, dtype=np.float64)
        begin = w * per_worker
        end = min(count, begin + per_worker)
        for s in range(begin, end):
            progress = (done + (s - begin) * num_workers + w) / total
            lr = learning_rate * max(1.0 - progress, MIN_LR_FRACTION)
            state, e = _draw(state, edge_prob, edge_alias)
            i = src[e]
            step_i[:] = 0.0
            for p in range(num_negatives + 1):
                if p == 0:
                    j = dst[e]
                else:
                    state, j = _draw(state, neg_prob, neg_alias)
                    if j == i:
                        continue
                pair_gradient(coords, i, j, p == 0, gamma, grad)
                for c in range(dim):
                    step_i[c] += lr * grad[c]
                    coords[j, c] -= lr * grad[c]
            for c in range(dim):
                coords[i, c] += step_i[c]


def default_num_samples(num_points: int) -> int:
    """Edge samples of the layout SGD when not given: ``num_points * 3000``, at least 5M, at most 2e9."""
    return int(min(max(num_points * 3000, 5_000_000), 2_000_000_000))


def layout(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, num_nodes: int, *, out_dim: int = 2,
           num_samples: int | None = None, num_negatives: int = 5, gamma: float = 7.0,
           learning_rate: float = 1.0, seed: int = 0, rounds: int = 50,
           progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Fit the LargeVis layout of a weighted graph (both directions of every edge present).

    Args:
        src, dst, weight: The graph's edges and their weights (``edge_weights`` output).
        num_nodes: Points ``N``.
        out_dim: Layout dimensions (2 or 3 for plots).
        num_samples: Edge samples (default ``default_num_samples(N)``).
        num_negatives: Negative nodes per edge sample (paper: 5).
        gamma: Weight of the negative term (paper: 7).
        learning_rate: Initial learning rate (paper: 1), decayed linearly.
        seed: Random seed (initial layout and sampling).
        rounds: Kernel calls the samples are split into (one ``progress(samples_done)`` call after each).

    Returns:
        ``[N, out_dim]`` float32 layout.
    """
    if src.size == 0:
        raise ShapeError("largevis.layout: expected a graph with edges, got none. Pass at least two points.")
    num_samples = default_num_samples(num_nodes) if num_samples is None else int(num_samples)
    rng = np.random.default_rng(seed)
    coords = ((rng.random((num_nodes, out_dim)) - 0.5) * 1e-4 / out_dim).astype(np.float64)
    edge_prob, edge_alias = build_alias(weight)
    degree = np.bincount(src, weights=weight, minlength=num_nodes)
    neg_prob, neg_alias = build_alias(negative_weights(degree) + 1e-12)
    workers = max(1, numba.get_num_threads())
    rounds = max(1, min(int(rounds), num_samples))
    done = 0
    for r in range(rounds):
        count = num_samples * (r + 1) // rounds - done
        _layout_round(coords, src, dst, edge_prob, edge_alias, neg_prob, neg_alias, int(num_negatives),
                      float(gamma), float(learning_rate), done, count, num_samples, workers, int(seed), r)
        done += count
        if progress is not None:
            progress(done)
    return coords.astype(np.float32)


def largevis(x, *, out_dim: int = 2, perplexity: float = 30.0, n_neighbors: int | None = None,
             num_trees: int | None = None, leaf_size: int | None = None, explore_rounds: int = 1,
             num_samples: int | None = None, num_negatives: int = 5, gamma: float = 7.0,
             learning_rate: float = 1.0, seed: int = 0,
             progress: Callable[[str, int, int], None] | None = None) -> LargeVisResult:
    """LargeVis layout of the rows of ``x`` (see the module docstring for the method).

    Args:
        x: High-dimensional points (e.g. node embeddings), one per row.
        out_dim: Layout dimensions.
        perplexity: Effective neighbours of the conditional distributions (paper: 50; t-SNE's usual 30).
        n_neighbors: ``k`` of the kNN graph (default ``min(3 * perplexity, N - 1)``).
        num_trees, leaf_size, explore_rounds: kNN graph settings (``knn_graph``).
        num_samples, num_negatives, gamma, learning_rate: Layout SGD settings (``layout``).
        seed: Random seed.
        progress: Called as ``progress(step, done, total)`` with step ``"layout"`` during the SGD.

    Returns:
        A ``LargeVisResult`` with the ``[N, out_dim]`` layout in ``coords``.

    Shapes:
        x: ``[N, D]``; ``coords``: ``[N, out_dim]`` float32.

    Raises:
        ShapeError: If ``x`` is not a finite ``[N, D]`` array with ``N >= 3``, or the settings do not fit it.
    """
    array = check_vectors(x, "largevis")
    n = array.shape[0]
    if n < 3:
        raise ShapeError(f"largevis: expected at least 3 points, got {n}. A layout needs neighbours to keep.")
    if int(out_dim) < 1:
        raise ShapeError(f"largevis: expected out_dim >= 1, got {out_dim}. Use 2 for a scatter plot.")
    k = int(min(round(3 * perplexity), n - 1)) if n_neighbors is None else int(n_neighbors)
    perplexity = float(min(perplexity, k))
    times: dict[str, float] = {}
    start = time.perf_counter()
    knn_idx, knn_dist = knn_graph(array, k, num_trees=num_trees, leaf_size=leaf_size,
                                  explore_rounds=explore_rounds, seed=seed)
    times["knn"] = time.perf_counter() - start
    start = time.perf_counter()
    src, dst, weight = edge_weights(knn_idx, knn_dist, perplexity)
    times["weights"] = time.perf_counter() - start
    total = default_num_samples(n) if num_samples is None else int(num_samples)
    report = None if progress is None else (lambda done: progress("layout", done, total))
    start = time.perf_counter()
    coords = layout(src, dst, weight, n, out_dim=int(out_dim), num_samples=total, num_negatives=num_negatives,
                    gamma=gamma, learning_rate=learning_rate, seed=seed, progress=report)
    times["layout"] = time.perf_counter() - start
    return LargeVisResult(coords, knn_idx, knn_dist, int(src.size), total, times)
