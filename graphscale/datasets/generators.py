"""Seeded random graph generators in numba: SBM, degree-corrected SBM, Chung-Lu / power law, R-MAT.

All generators are O(N + E) (never O(N^2)), return ``int32`` numpy arrays and are deterministic for a given
seed whatever the thread count (the kernels in ``gen_kernels.py`` draw from one splitmix64 stream per fixed
chunk of edges).

Undirected generators return every edge once as a pair ``(u, v)`` with ``u < v`` (sorted, no duplicates,
no self loops); ``symmetrize(u, v)`` gives both directions, ``pairs_to_graph`` a ``Graph``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DatasetError
from ..graph import Graph
from .gen_kernels import (
    _bucket_by_low,
    _build_alias,
    _compact,
    _rmat_kernel,
    _sbm_kernel,
    _sort_unique_rows,
    _weighted_pairs,
)

MAX_TOP_UP_ROUNDS = 30


def _chunk_seed(seed: int, salt: int) -> int:
    return (int(seed) * 1_000_003 + int(salt) * 7_919) % (2**31 - 1)


def stochastic_block_model(block_sizes, probs, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Undirected SBM: nodes ``offsets[b]..offsets[b+1]-1`` form block ``b``; each pair of nodes in blocks
    ``(r, s)`` is joined independently with probability ``probs[r, s]``, sampled in O(N + E) by geometric
    skipping.

    Args:
        block_sizes: ``[K]`` node count of every block.
        probs: ``[K, K]`` symmetric edge probabilities (the upper triangle is used).
        seed: Random seed.

    Returns:
        ``(u, v)`` int32 pairs with ``u < v``, each edge once.
    """
    sizes = np.asarray(block_sizes, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (sizes.size, sizes.size) or probs.min() < 0 or probs.max() > 1:
        raise DatasetError(f"stochastic_block_model: expected probs of shape {(sizes.size, sizes.size)} in [0, 1], "
                           f"got shape {probs.shape}. Pass one probability per pair of blocks.")
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    expected = sum(probs[r, s] * (sizes[r] * (sizes[r] - 1) / 2 if r == s else sizes[r] * sizes[s])
                   for r in range(sizes.size) for s in range(r, sizes.size))
    capacity = int(expected + 6 * math.sqrt(expected + 1) + 16)
    u, v = _sbm_kernel(offsets, probs, _chunk_seed(seed, 0), capacity)
    return sort_pairs(u, v, int(offsets[-1]))


def sort_pairs(u: np.ndarray, v: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical undirected edge set: pairs ``(min, max)`` sorted, duplicates and self loops removed.

    Shapes:
        u, v: ``[E]`` integer; returns two ``[E']`` int32 arrays with ``u' < v'``.
    """
    if num_nodes > np.iinfo(np.int32).max:
        raise DatasetError(f"sort_pairs: expected at most 2**31 - 1 nodes for int32 ids, got {num_nodes}.")
    indptr, high = _bucket_by_low(np.asarray(u, dtype=np.int32), np.asarray(v, dtype=np.int32), num_nodes)
    kept = _sort_unique_rows(indptr, high)
    return _compact(indptr, high, kept)


def exact_pairs(sample, num_edges: int, num_nodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``num_edges`` distinct undirected pairs from ``sample(count, seed) -> (u, v)``: over-sample,
    de-duplicate, top up the shortfall with fresh seeds, and drop a seeded random surplus."""
    requested = int(num_edges * 1.05) + 16
    u, v = sort_pairs(*sample(requested, _chunk_seed(seed, 1)), num_nodes)
    efficiency = u.size / requested  # distinct new edges per sampled pair
    for round_ in range(2, MAX_TOP_UP_ROUNDS + 2):
        if u.size >= num_edges:
            break
        requested = int((num_edges - u.size) / max(efficiency, 0.02) * 1.1) + 64
        before = u.size
        extra_u, extra_v = sample(requested, _chunk_seed(seed, round_))
        u, v = sort_pairs(np.concatenate([u, extra_u]), np.concatenate([v, extra_v]), num_nodes)
        efficiency = max((u.size - before) / requested, 0.01)
    if u.size < num_edges:
        raise DatasetError(f"exact_pairs: expected {num_edges} distinct edges, got only {u.size} after "
                           f"{MAX_TOP_UP_ROUNDS} rounds. The graph is too dense for this degree distribution.")
    if u.size > num_edges:
        keep = np.ones(u.size, dtype=bool)
        keep[np.random.default_rng(seed).choice(u.size, u.size - num_edges, replace=False)] = False
        u, v = u[keep], v[keep]
    return u, v


def power_law_weights(num_nodes: int, exponent: float = 2.5, seed: int = 0, max_ratio: float = 1e4) -> np.ndarray:
    """``[N]`` float64 Pareto weights ``w >= 1`` with tail ``P(w > t) ~ t^(1 - exponent)``, capped at ``max_ratio``."""
    if exponent <= 1:
        raise DatasetError(f"power_law_weights: expected exponent > 1, got {exponent}.")
    uniform = np.random.default_rng(seed).random(num_nodes)
    return np.minimum((1.0 - uniform) ** (-1.0 / (exponent - 1.0)), max_ratio)


def chung_lu(weights: np.ndarray, num_edges: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Chung-Lu graph: exactly ``num_edges`` distinct undirected edges, both endpoints drawn ``~ weights``
    (expected degree roughly proportional to the weight; very heavy hubs saturate).

    Returns:
        ``(u, v)`` int32 pairs with ``u < v``.
    """
    return degree_corrected_sbm(np.zeros(len(weights), dtype=np.int64), weights, num_edges, 1.0, seed)


def power_law_graph(num_nodes: int, num_edges: int, exponent: float = 2.5, seed: int = 0):
    """Chung-Lu graph on power-law weights (``power_law_weights``) with exactly ``num_edges`` edges."""
    return chung_lu(power_law_weights(num_nodes, exponent, seed), num_edges, seed)


def homophily_mixing(block_mass: np.ndarray, homophily: float) -> np.ndarray:
    """``[K, K]`` mixing matrix: ``homophily`` on the diagonal, the rest spread over the other blocks by mass."""
    mass = np.asarray(block_mass, dtype=np.float64)
    off = np.tile(mass, (mass.size, 1))
    np.fill_diagonal(off, 0.0)
    off_sum = off.sum(1, keepdims=True)
    off = np.divide(off, off_sum, out=np.zeros_like(off), where=off_sum > 0) * (1.0 - homophily)
    mixing = off + np.diag(np.where(off_sum.ravel() > 0, homophily, 1.0))
    return mixing


def degree_corrected_sbm(blocks: np.ndarray, weights: np.ndarray, num_edges: int, homophily: float | None = None,
                         seed: int = 0, mixing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Degree-corrected SBM sampled edge by edge in O(N + E) with alias tables.

    Each edge picks ``u ~ weights``, then the block of its other end from row ``blocks[u]`` of ``mixing``,
    then ``v ~ weights`` inside that block. With ``homophily`` (instead of ``mixing``) a fraction
    ``homophily`` of the edges stays inside the block and the rest goes to other blocks in proportion to
    their total weight. Degrees follow ``weights``.

    Args:
        blocks: ``[N]`` int block (class) id of every node, in ``[0, K)``.
        weights: ``[N]`` positive degree weights.
        num_edges: Exact number of distinct undirected edges returned.
        homophily: Fraction of intra-block edges in ``[0, 1]``.
        seed: Random seed.
        mixing: ``[K, K]`` non-negative rows: where edges leaving each block go (normalised here).

    Returns:
        ``(u, v)`` int32 pairs with ``u < v``, sorted, exactly ``num_edges`` of them.
    """
    blocks = np.asarray(blocks, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    n = blocks.size
    if weights.shape != (n,) or (n and weights.min() <= 0):
        raise DatasetError(f"degree_corrected_sbm: expected {n} positive weights, got shape {weights.shape}.")
    if num_edges > n * (n - 1) // 2:
        raise DatasetError(f"degree_corrected_sbm: expected at most {n * (n - 1) // 2} edges for {n} nodes, got "
                           f"{num_edges}.")
    order = np.argsort(blocks, kind="stable")  # nodes grouped by block
    sorted_blocks = blocks[order]
    num_blocks = int(sorted_blocks[-1]) + 1 if n else 1
    block_ptr = np.searchsorted(sorted_blocks, np.arange(num_blocks + 1)).astype(np.int64)
    sorted_weights = weights[order]
    block_mass = np.zeros(num_blocks)
    np.add.at(block_mass, sorted_blocks, sorted_weights)
    if mixing is None:
        mixing = homophily_mixing(block_mass, 1.0 if homophily is None else float(homophily))
    mixing = np.array(mixing, dtype=np.float64)
    if mixing.shape != (num_blocks, num_blocks) or mixing.min() < 0:
        raise DatasetError(f"degree_corrected_sbm: expected a non-negative mixing matrix of shape "
                           f"{(num_blocks, num_blocks)}, got {mixing.shape}.")
    mixing[:, block_mass == 0] = 0.0  # never aim at an empty block
    empty_rows = mixing.sum(1) == 0
    mixing[empty_rows, np.nonzero(empty_rows)[0]] = 1.0
    all_prob, all_alias = _build_alias(sorted_weights, np.array([0, n], dtype=np.int64))
    prob, alias = _build_alias(sorted_weights, block_ptr)
    mix_prob, mix_alias = _build_alias(mixing.ravel(), np.arange(0, num_blocks * num_blocks + 1, num_blocks))
    order32 = order.astype(np.int32)

    def sample(count: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
        u, v = _weighted_pairs(all_prob, all_alias, prob, alias, sorted_blocks, block_ptr, mix_prob, mix_alias,
                               count, salt)
        return order32[u], order32[v]

    return exact_pairs(sample, num_edges, n, seed)


def rmat(scale: int, num_edges: int, a: float = 0.57, b: float = 0.19, c: float = 0.19, seed: int = 0,
         permute: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """R-MAT graph (Chakrabarti et al., SDM 2004) on ``2**scale`` nodes with exactly ``num_edges`` distinct
    undirected edges; Graph500 quadrant probabilities by default; node ids randomly permuted when ``permute``.

    Returns:
        ``(u, v)`` int32 pairs with ``u < v``.
    """
    if not 0 < scale <= 30 or min(a, b, c) < 0 or a + b + c >= 1:
        raise DatasetError(f"rmat: expected 0 < scale <= 30 and a, b, c >= 0 with a + b + c < 1, got scale={scale}, "
                           f"a={a}, b={b}, c={c}.")
    n = 1 << scale
    perm = np.random.default_rng(seed).permutation(n).astype(np.int32) if permute else None

    def sample(count: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
        u, v = _rmat_kernel(scale, count, a, b, c, salt)
        return (perm[u], perm[v]) if perm is not None else (u, v)

    return exact_pairs(sample, num_edges, n, seed)


def symmetrize(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of undirected pairs: ``src = [u, v]``, ``dst = [v, u]`` (int32)."""
    return np.concatenate([u, v]).astype(np.int32, copy=False), np.concatenate([v, u]).astype(np.int32, copy=False)


def pairs_to_graph(u: np.ndarray, v: np.ndarray, num_nodes: int) -> Graph:
    """``Graph`` holding both directions of the undirected pairs ``(u, v)``."""
    src, dst = symmetrize(u, v)
    return Graph._trusted(torch.from_numpy(src), torch.from_numpy(dst), num_nodes, num_nodes)
