"""numba kernels of the random graph generators: splitmix64 streams, alias tables, edge sampling, de-duplication.

Random numbers come from splitmix64 streams (Steele et al., OOPSLA 2014), one per fixed-size chunk of
``EDGES_PER_STREAM`` edges, started from ``(seed, chunk)`` inside the ``prange`` body, so results do not
depend on the number of threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from ..sampling.alias import vose_into

EDGES_PER_STREAM = 65536


@numba.njit(cache=True, nogil=True, inline="always")
def _stream(seed, chunk):
    """Initial splitmix64 state of random stream ``chunk`` of ``seed``."""
    return np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(chunk) * np.uint64(0xD1B54A32D192ED03)


@numba.njit(cache=True, nogil=True, inline="always")
def _uniform(state):
    """splitmix64 step: ``(new state, uniform float64 in [0, 1))`` (Steele et al., OOPSLA 2014)."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _grow(arr, size):
    out = np.empty(max(2 * arr.shape[0], size), dtype=arr.dtype)
    out[:arr.shape[0]] = arr
    return out


@numba.njit(cache=True, nogil=True)
def _sbm_kernel(offsets, probs, seed, capacity):
    state = _stream(seed, 0)
    num_blocks = offsets.shape[0] - 1
    u = np.empty(capacity, dtype=np.int32)
    v = np.empty(capacity, dtype=np.int32)
    count = 0
    for r in range(num_blocks):
        for s in range(r, num_blocks):
            p = probs[r, s]
            if p <= 0.0:
                continue
            n_r, n_s = offsets[r + 1] - offsets[r], offsets[s + 1] - offsets[s]
            log_q = math.log(1.0 - p) if p < 1.0 else -np.inf
            if r == s:  # strict lower triangle of a square block: rows w < v
                row, col = 1, -1
                while row < n_r:
                    state, r01 = _uniform(state)
                    skip = 0 if p >= 1.0 else int(math.log(1.0 - r01) / log_q)
                    col += 1 + skip
                    while col >= row and row < n_r:
                        col -= row
                        row += 1
                    if row < n_r:
                        if count == u.shape[0]:
                            u, v = _grow(u, count + 1), _grow(v, count + 1)
                        u[count], v[count] = offsets[r] + col, offsets[r] + row
                        count += 1
            else:
                total = n_r * n_s
                idx = -1
                while True:
                    state, r01 = _uniform(state)
                    skip = 0 if p >= 1.0 else int(math.log(1.0 - r01) / log_q)
                    idx += 1 + skip
                    if idx >= total:
                        break
                    if count == u.shape[0]:
                        u, v = _grow(u, count + 1), _grow(v, count + 1)
                    u[count], v[count] = offsets[r] + idx // n_s, offsets[s] + idx % n_s
                    count += 1
    return u[:count], v[:count]


@numba.njit(cache=True, nogil=True)
def _build_alias(weights, ptr):
    """Alias table of every segment ``ptr[k]..ptr[k+1]-1`` of ``weights``, aliases as global indices."""
    n = weights.shape[0]
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n).astype(np.int32)
    scaled = np.empty(n, dtype=np.float64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    for k in range(ptr.shape[0] - 1):
        lo, hi = ptr[k], ptr[k + 1]
        if hi > lo:
            vose_into(weights[lo:hi], prob[lo:hi], alias[lo:hi], scaled[lo:hi], small[lo:hi], large[lo:hi])
            alias[lo:hi] += lo
    return prob, alias


@numba.njit(cache=True, nogil=True, inline="always")
def _draw(prob, alias, lo, hi, r01):
    """One index of segment ``[lo, hi)`` from its alias table, using one uniform for slot and coin."""
    scaled = r01 * (hi - lo)
    slot = min(int(scaled), hi - lo - 1)
    i = lo + slot
    return i if scaled - slot < prob[i] else alias[i]


@numba.njit(cache=True, nogil=True, parallel=True)
def _weighted_pairs(all_prob, all_alias, prob, alias, block_of, block_ptr, mix_prob, mix_alias, num_edges, seed):
    """Draw ``num_edges`` endpoint pairs: ``u`` ~ weights; the block of ``v`` from row ``block_of[u]`` of the
    mixing matrix (flattened ``[K * K]`` alias tables); ``v`` ~ weights inside that block."""
    u = np.empty(num_edges, dtype=np.int32)
    v = np.empty(num_edges, dtype=np.int32)
    n = all_prob.shape[0]
    num_blocks = block_ptr.shape[0] - 1
    for chunk in prange((num_edges + EDGES_PER_STREAM - 1) // EDGES_PER_STREAM):
        state = _stream(seed, chunk)
        for e in range(chunk * EDGES_PER_STREAM, min(num_edges, (chunk + 1) * EDGES_PER_STREAM)):
            state, r01 = _uniform(state)
            a = _draw(all_prob, all_alias, 0, n, r01)
            row = block_of[a] * num_blocks
            state, r01 = _uniform(state)
            block = _draw(mix_prob, mix_alias, row, row + num_blocks, r01) - row
            state, r01 = _uniform(state)
            u[e], v[e] = a, _draw(prob, alias, block_ptr[block], block_ptr[block + 1], r01)
    return u, v


@numba.njit(cache=True, nogil=True)
def _bucket_by_low(u, v, num_nodes):
    """Counting sort of canonical pairs ``(min, max)`` by ``min``; self loops dropped."""
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    for e in range(u.shape[0]):
        if u[e] != v[e]:
            indptr[min(u[e], v[e]) + 1] += 1
    for i in range(num_nodes):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    high = np.empty(indptr[num_nodes], dtype=np.int32)
    for e in range(u.shape[0]):
        if u[e] != v[e]:
            low = min(u[e], v[e])
            high[fill[low]] = max(u[e], v[e])
            fill[low] += 1
    return indptr, high


@numba.njit(cache=True, nogil=True, parallel=True)
def _sort_unique_rows(indptr, high):
    num_rows = indptr.shape[0] - 1
    kept = np.zeros(num_rows, dtype=np.int64)
    for row in prange(num_rows):
        lo, hi = indptr[row], indptr[row + 1]
        if hi > lo:
            high[lo:hi] = np.sort(high[lo:hi])
            k = 1
            for j in range(lo + 1, hi):
                if high[j] != high[lo + k - 1]:
                    high[lo + k] = high[j]
                    k += 1
            kept[row] = k
    return kept


@numba.njit(cache=True, nogil=True)
def _compact(indptr, high, kept):
    total = kept.sum()
    out_u = np.empty(total, dtype=np.int32)
    out_v = np.empty(total, dtype=np.int32)
    pos = 0
    for row in range(indptr.shape[0] - 1):
        for j in range(kept[row]):
            out_u[pos] = row
            out_v[pos] = high[indptr[row] + j]
            pos += 1
    return out_u, out_v


@numba.njit(cache=True, nogil=True, parallel=True)
def _rmat_kernel(scale, num_edges, a, b, c, seed):
    u = np.zeros(num_edges, dtype=np.int32)
    v = np.zeros(num_edges, dtype=np.int32)
    for chunk in prange((num_edges + EDGES_PER_STREAM - 1) // EDGES_PER_STREAM):
        state = _stream(seed, chunk)
        for e in range(chunk * EDGES_PER_STREAM, min(num_edges, (chunk + 1) * EDGES_PER_STREAM)):
            row, col = 0, 0
            for level in range(scale):
                state, r = _uniform(state)
                bit = 1 << (scale - 1 - level)
                if r >= a + b + c:
                    row |= bit
                    col |= bit
                elif r >= a + b:
                    row |= bit
                elif r >= a:
                    col |= bit
            u[e], v[e] = row, col
    return u, v


@numba.njit(cache=True, nogil=True, parallel=True)
def _typed_links(offsets, shares, key_a, ptr_a, members_a, prob_a, alias_a, key_b, ptr_b, members_b, prob_b,
                 alias_b, members_all, prob_all, alias_all, seed):
    """Targets of typed links (synthetic-mag): source ``s`` owns slots ``offsets[s]..offsets[s+1]-1``; each
    slot draws from pool A segment ``key_a[s]`` with probability ``shares[0]``, from pool B segment ``key_b[s]``
    with ``shares[1]``, else from the whole pool; inside a pool by its alias tables (weights). An empty segment
    falls through to the whole pool. One splitmix64 stream per chunk of ``EDGES_PER_STREAM`` sources."""
    num_sources = offsets.shape[0] - 1
    out = np.empty(offsets[num_sources], dtype=np.int64)
    n_all = members_all.shape[0]
    for chunk in prange((num_sources + EDGES_PER_STREAM - 1) // EDGES_PER_STREAM):
        state = _stream(seed, chunk)
        for s in range(chunk * EDGES_PER_STREAM, min(num_sources, (chunk + 1) * EDGES_PER_STREAM)):
            for slot in range(offsets[s], offsets[s + 1]):
                state, pick = _uniform(state)
                state, r01 = _uniform(state)
                lo, hi = ptr_a[key_a[s]], ptr_a[key_a[s] + 1]
                if pick < shares[0] and hi > lo:
                    out[slot] = members_a[_draw(prob_a, alias_a, lo, hi, r01)]
                    continue
                lo, hi = ptr_b[key_b[s]], ptr_b[key_b[s] + 1]
                if shares[0] <= pick < shares[0] + shares[1] and hi > lo:
                    out[slot] = members_b[_draw(prob_b, alias_b, lo, hi, r01)]
                    continue
                out[slot] = members_all[_draw(prob_all, alias_all, 0, n_all, r01)]
    return out
