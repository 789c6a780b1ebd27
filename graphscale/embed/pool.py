"""Sample pools: online augmentation of walks into ``(center, context)`` pairs plus their negatives.

A pool is one episode of training samples (GraphVite's sample pool): ``center [S]``, ``context [S]`` (int32)
and ``negatives [S, K]`` (int32, drawn from the degree^0.75 alias table). Pools are filled by numba kernels
that release the GIL, so the next pool is filled on a background thread while the trainer consumes this one.

* Walk models (DeepWalk, node2vec): ``W`` walks of ``L`` nodes are generated inside the kernel, each into a
  thread-local buffer, and every pair ``(walk[i], walk[i + j])``, ``1 <= j <= window`` (the augmentation
  distance), is written straight into the pool: no walk corpus is ever materialised. Walks are taken in
  blocks of ``SHUFFLE_BLOCK``; pair ``k`` of the ``l``-th walk of a block of ``B`` walks goes to slot
  ``block start + k * B + l`` (:func:`slot_of`) - a pseudo-shuffle: neighbouring slots hold pairs of
  different walks, so consecutive SGD updates are decorrelated without a shuffle pass, while the writes of
  a block stay in cache. Pairs that touch a dead end (``-1``) get ``center = -1`` and are skipped.
* LINE: edges drawn with probability proportional to their weight (alias table over edges); order 1 and
  order 2 differ only in the trainer (context table = vertex table for order 1).

Sample ``i`` of pool ``b`` is a pure function of ``(seed, b, i)``: pools are reproducible, independent of
the thread count, and a resumed run regenerates exactly the pools it had not consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import prange

from ..sampling.alias import alias_draw
from ..sampling.rng import below, stream, uniform
from .walks import WalkPlan, walk_into

POOL_STREAM = 201
EDGE_STREAM = 202
SHUFFLE_BLOCK = 64   # walks interleaved per block of the pool (pseudo-shuffle with cache-local writes)


def pairs_per_walk(walk_length: int, window: int) -> int:
    """Number of ``(walk[i], walk[i + j])`` pairs, ``1 <= j <= window``, in a walk of ``walk_length`` nodes."""
    return sum(min(window, walk_length - 1 - i) for i in range(walk_length - 1))


def slot_of(walk: int, k: int, num_walks: int, per_walk: int) -> int:
    """Pool slot of pair ``k`` of walk ``walk`` in a pool of ``num_walks`` walks (see the module docstring)."""
    first = walk - walk % SHUFFLE_BLOCK
    width = min(SHUFFLE_BLOCK, num_walks - first)
    return first * per_walk + k * width + (walk - first)


@dataclass
class Pool:
    """One episode of samples; ``count`` of the ``center.shape[0]`` slots are filled."""

    center: np.ndarray
    context: np.ndarray
    negatives: np.ndarray
    count: int = 0
    index: int = -1

    @classmethod
    def empty(cls, size: int, num_negatives: int) -> Pool:
        return cls(np.empty(size, np.int32), np.empty(size, np.int32),
                   np.empty((size, max(num_negatives, 1)), np.int32))


@numba.njit(cache=True, nogil=True, inline="always")
def _negatives(state, negatives, slot, neg_prob, neg_alias, num_nodes):
    for k in range(negatives.shape[1]):
        state, x = alias_draw(state, neg_prob, neg_alias, 0, num_nodes)
        negatives[slot, k] = x
    return state


@numba.njit(cache=True, nogil=True, parallel=True)
def fill_walk_pool(center, context, negatives, starts, walk_length, window, mode, indptr, indices, weight,
                   row_prob, row_alias, row_weight, weighted, n2v_offset, n2v_prob, n2v_alias, inv_p, inv_q,
                   neg_prob, neg_alias, keep_prob, subsample, seed, pool_index):
    """Walk from every ``starts[w]`` and write its pairs and negatives; returns the number of slots filled.

    With ``subsample``, node ``v`` of a walk is kept with probability ``keep_prob[v]`` before the pairs are
    formed (word2vec's frequent-word subsampling); the pair slots the shortened walk leaves empty get
    ``center = -1``.
    """
    num_walks = starts.shape[0]
    num_nodes = indptr.shape[0] - 1
    per_walk = 0
    for i in range(walk_length - 1):
        per_walk += min(window, walk_length - 1 - i)
    num_blocks = (num_walks + SHUFFLE_BLOCK - 1) // SHUFFLE_BLOCK
    for block in prange(num_blocks):
        walk = np.empty(walk_length, dtype=np.int32)
        first = block * SHUFFLE_BLOCK
        width = min(SHUFFLE_BLOCK, num_walks - first)
        base = first * per_walk
        for w in range(first, first + width):
            state = stream(seed, POOL_STREAM + 1000 * pool_index, w)
            state = walk_into(walk, state, mode, indptr, indices, weight, row_prob, row_alias, row_weight,
                              weighted, n2v_offset, n2v_prob, n2v_alias, inv_p, inv_q, starts[w])
            kept = walk_length
            if subsample:
                kept = 0
                for i in range(walk_length):
                    v = walk[i]
                    if v >= 0:
                        state, u = uniform(state)
                        if u < keep_prob[v]:
                            walk[kept] = v
                            kept += 1
            k = 0
            for i in range(walk_length - 1):
                for j in range(1, min(window, walk_length - 1 - i) + 1):
                    slot = base + k * width + (w - first)
                    a = walk[i] if i + j < kept else -1
                    b = walk[i + j] if i + j < kept else -1
                    center[slot] = a if b >= 0 else -1
                    context[slot] = b
                    state = _negatives(state, negatives, slot, neg_prob, neg_alias, num_nodes)
                    k += 1
    return per_walk * num_walks


@numba.njit(cache=True, nogil=True, parallel=True)
def fill_edge_pool(center, context, negatives, count, src, dst, edge_prob, edge_alias, weighted, neg_prob,
                   neg_alias, num_nodes, seed, pool_index):
    """Draw ``count`` edges (weight-proportional when ``weighted``) with their negatives into the pool."""
    num_edges = src.shape[0]
    chunk = 4096
    for c in prange((count + chunk - 1) // chunk):
        state = stream(seed, EDGE_STREAM + 1000 * pool_index, c)
        for slot in range(c * chunk, min(count, (c + 1) * chunk)):
            if weighted:
                state, e = alias_draw(state, edge_prob, edge_alias, 0, num_edges)
            else:
                state, e = below(state, num_edges)
            center[slot] = src[e]
            context[slot] = dst[e]
            state = _negatives(state, negatives, slot, neg_prob, neg_alias, num_nodes)
    return count


def keep_probabilities(frequency: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's subsampling: keep a node of relative frequency ``f`` with ``min(1, (sqrt(f / t) + 1) t / f)``."""
    f = np.maximum(np.asarray(frequency, dtype=np.float64), 1e-300)
    return np.minimum(1.0, (np.sqrt(f / threshold) + 1.0) * threshold / f).astype(np.float32)


def fill_walks(pool: Pool, plan: WalkPlan, starts: np.ndarray, walk_length: int, window: int,
               neg_prob: np.ndarray, neg_alias: np.ndarray, seed: int, index: int,
               keep_prob: np.ndarray | None = None) -> Pool:
    """Fill ``pool`` with the pairs of one walk from each of ``starts`` (pool ``index`` of the run); with
    ``keep_prob`` (``[N]``, see :func:`keep_probabilities`) walks are subsampled before pairing."""
    keep = keep_prob if keep_prob is not None else np.ones(1, dtype=np.float32)
    pool.count = int(fill_walk_pool(pool.center, pool.context, pool.negatives, starts, walk_length, window,
                                    *plan.args(), neg_prob, neg_alias, keep, keep_prob is not None, seed, index))
    pool.index = index
    return pool


def fill_edges(pool: Pool, src: np.ndarray, dst: np.ndarray, edge_prob: np.ndarray, edge_alias: np.ndarray,
               weighted: bool, neg_prob: np.ndarray, neg_alias: np.ndarray, num_nodes: int, count: int, seed: int,
               index: int) -> Pool:
    """Fill the first ``count`` slots of ``pool`` with LINE edge samples (pool ``index`` of the run)."""
    pool.count = int(fill_edge_pool(pool.center, pool.context, pool.negatives, count, src, dst, edge_prob,
                                    edge_alias, weighted, neg_prob, neg_alias, num_nodes, seed, index))
    pool.index = index
    return pool
