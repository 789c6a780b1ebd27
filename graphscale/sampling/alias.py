"""Alias tables (Walker 1977, Vose 1991) in numba: O(n) build, O(1) draws.

A table over ``n`` outcomes is two arrays ``prob`` (float32 ``[n]``) and ``alias`` (int32 ``[n]``): draw a
slot ``k`` uniformly, keep it with probability ``prob[k]``, else take ``alias[k]``. Used for the negative
sampler (degree^0.75), weighted first-order walk steps (one table per CSR row, stored edge-aligned with
row-local aliases), LINE's and LargeVis's edge samplers and the random graph generators' weighted draws: the
one builder of the package (:func:`vose_into`).

Random numbers come from :mod:`graphscale.sampling.rng` (counter-based streams): a draw is a pure function
of the stream state, so results never depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .rng import GOLDEN, finalize, stream


@numba.njit(cache=True, nogil=True)
def vose_into(weights, prob, alias, scaled, small, large):
    """Build the table of ``weights`` (float64 ``[n]``, >= 0) into ``prob``/``alias`` (views of length ``n``).

    ``scaled`` (float64), ``small`` and ``large`` (int64) are scratch arrays of length >= ``n``. All-zero
    weights give the uniform table.
    """
    n = weights.shape[0]
    total = 0.0
    for i in range(n):
        total += weights[i]
    if total <= 0.0:
        for i in range(n):
            prob[i] = 1.0
            alias[i] = i
        return
    num_small = 0
    num_large = 0
    for i in range(n):
        scaled[i] = weights[i] * n / total
        alias[i] = i
        if scaled[i] < 1.0:
            small[num_small] = i
            num_small += 1
        else:
            large[num_large] = i
            num_large += 1
    while num_small > 0 and num_large > 0:
        num_small -= 1
        s = small[num_small]
        big = large[num_large - 1]
        prob[s] = scaled[s]
        alias[s] = big
        scaled[big] -= 1.0 - scaled[s]
        if scaled[big] < 1.0:
            num_large -= 1
            small[num_small] = big
            num_small += 1
    for i in range(num_large):
        prob[large[i]] = 1.0
    for i in range(num_small):  # only reached through rounding error
        prob[small[i]] = 1.0


@numba.njit(cache=True, nogil=True)
def build_alias_kernel(weights):
    n = weights.shape[0]
    prob = np.empty(n, dtype=np.float32)
    alias = np.empty(n, dtype=np.int32)
    vose_into(weights, prob, alias, np.empty(n, dtype=np.float64), np.empty(n, dtype=np.int64),
              np.empty(n, dtype=np.int64))
    return prob, alias


@numba.njit(cache=True, nogil=True, parallel=True)
def build_row_alias_kernel(indptr, weights):
    """One table per CSR row over its edges: ``prob[E]``, ``alias[E]`` (aliases are row-local offsets)."""
    num_rows = indptr.shape[0] - 1
    num_edges = weights.shape[0]
    prob = np.empty(num_edges, dtype=np.float32)
    alias = np.empty(num_edges, dtype=np.int32)
    scaled = np.empty(num_edges, dtype=np.float64)
    small = np.empty(num_edges, dtype=np.int64)
    large = np.empty(num_edges, dtype=np.int64)
    for row in prange(num_rows):
        lo, hi = indptr[row], indptr[row + 1]
        if hi > lo:
            vose_into(weights[lo:hi], prob[lo:hi], alias[lo:hi], scaled[lo:hi], small[lo:hi], large[lo:hi])
    return prob, alias


@numba.njit(cache=True, nogil=True, inline="always")
def alias_draw(state, prob, alias, offset, n):
    """One draw from the table stored at ``[offset, offset + n)``: ``(new state, outcome in [0, n))``.

    One 64-bit random number serves both steps: the high 32 bits pick the slot (``n < 2**32``), the low 32
    bits are the uniform compared with ``prob`` (a float32: 32 bits resolve it fully).
    """
    state = state + np.uint64(GOLDEN)
    bits = finalize(state)
    k = np.int64(((bits >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
    u = (bits & np.uint64(0xFFFFFFFF)) * (1.0 / 4294967296.0)   # float64 in [0, 1), exact
    if u >= prob[offset + k]:
        k = alias[offset + k]
    return state, k


def build_alias(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alias table of non-negative ``weights`` (float ``[n]``): ``(prob float32 [n], alias int32 [n])``."""
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    return build_alias_kernel(weights)


@numba.njit(cache=True, nogil=True, parallel=True)
def sample_alias_kernel(prob, alias, count, seed, stream_id):
    out = np.empty(count, dtype=np.int64)
    n = prob.shape[0]
    chunk = 4096
    for c in prange((count + chunk - 1) // chunk):
        state = stream(seed, stream_id, c)
        for i in range(c * chunk, min(count, (c + 1) * chunk)):
            state, k = alias_draw(state, prob, alias, 0, n)
            out[i] = k
    return out


def sample_alias(prob: np.ndarray, alias: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` independent draws (int64) from an alias table, in parallel; seeded, thread-count independent."""
    return sample_alias_kernel(prob, alias, int(count), int(seed), 11)


def negative_weights(degrees: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """Unigram^0.75 noise distribution of word2vec over node degrees (isolated nodes are never drawn)."""
    return np.power(np.asarray(degrees, dtype=np.float64), exponent)
