"""Neighbour sampling (GraphSAGE; Hamilton et al., NeurIPS 2017) into per-layer ``Block`` s.

Hop ``l`` takes the destination nodes of that hop (the seeds at hop 0), draws up to ``fanouts[l]`` of each
one's *in*-neighbours from ``graph.csc()`` and relabels the drawn sources; the sources of hop ``l`` are the
destinations of hop ``l + 1``. Conventions:

* ``fanouts[0]`` applies to the seeds (PyG's ``num_neighbors`` order); ``-1`` takes every in-edge.
* The returned blocks are ordered **input layer first** (DGL's order): ``blocks[0]`` consumes the input
  features ``x[blocks[0].src_ids]`` and ``blocks[-1].dst_ids`` are the seeds, so ``model(blocks, x_in)``
  runs unchanged on graphscale's node models.
* In every block the destination nodes are the first source nodes (``x_dst = x_src[:num_dst_nodes]``),
  other sources follow in first-drawn order; ``src_ids``/``dst_ids``/``edge_ids`` hold full-graph ids.

Draws: without replacement a node keeps ``min(fanout, degree)`` distinct in-edges (Floyd's algorithm, or
reservoir sampling when ``fanout`` is large against the degree); with replacement exactly ``fanout`` draws
(none for a node without in-edges). With ``edge_weight`` the in-edge ``e`` is drawn with probability
proportional to ``edge_weight[e]`` (inverse CDF with replacement, exponential races (Efraimidis & Spirakis,
2006) without; zero-weight edges are never drawn). The node loop runs in parallel, visiting rows in nearly
ascending id order (cache locality); node ``v`` at hop ``l`` draws from its own random stream
``(seed, l, v)``, so a batch depends on the seed only, not on threads. A block's edges are grouped by
destination in that visiting order. Relabelling uses a per-thread ``[N]`` id map reset after each layer:
O(sampled edges) per batch, never O(N).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import torch
from numba import prange

from ..errors import SamplingError
from ..graph import Block, Graph
from .base import MiniBatch, ScratchMap, as_node_ids, check_edge_weight, check_positive, chunks, csc_arrays
from .rng import below, stream, uniform


@numba.njit(cache=True, nogil=True)
def _sift_down(keys, picks, base, size, root):
    """Max-heap sift of ``keys[base:base+size]`` (with ``picks`` alongside) from ``root``."""
    while True:
        child = 2 * root + 1
        if child >= size:
            return
        if child + 1 < size and keys[base + child + 1] > keys[base + child]:
            child += 1
        if keys[base + root] >= keys[base + child]:
            return
        keys[base + root], keys[base + child] = keys[base + child], keys[base + root]
        picks[base + root], picks[base + child] = picks[base + child], picks[base + root]
        root = child


@numba.njit(cache=True, nogil=True)
def draw_node(state, start, deg, count, replace, weighted, weight, cumulative, picks, keys, out):
    """Write ``count`` drawn CSC positions of the row ``[start, start+deg)`` into ``picks[out:out+count]``."""
    if count == 0:
        return
    if weighted and replace:  # inverse CDF over the row's inclusive prefix sums
        total = cumulative[start + deg - 1]
        for q in range(count):
            state, u = uniform(state)
            target = u * total
            low, high = start, start + deg - 1
            while low < high:  # first position whose prefix sum exceeds target
                mid = (low + high) // 2
                if cumulative[mid] > target:
                    high = mid
                else:
                    low = mid + 1
            while weight[low] <= 0.0:  # only when rounding put target at the row total
                low -= 1
            picks[out + q] = low
        return
    if weighted:  # exponential clocks: the count smallest of -log(U) / w win (a max-heap of size count)
        filled = 0
        for p in range(start, start + deg):
            w = weight[p]
            if w <= 0.0:
                continue
            state, u = uniform(state)
            key = -math.log(1.0 - u) / w
            if filled < count:
                picks[out + filled] = p
                keys[out + filled] = key
                filled += 1
                if filled == count:
                    for root in range(count // 2 - 1, -1, -1):
                        _sift_down(keys, picks, out, count, root)
            elif key < keys[out]:
                keys[out] = key
                picks[out] = p
                _sift_down(keys, picks, out, count, 0)
        return
    if replace:
        for q in range(count):
            state, r = below(state, deg)
            picks[out + q] = start + r
        return
    if count >= deg:
        for q in range(deg):
            picks[out + q] = start + q
        return
    if count * count <= 16 * deg:  # Floyd's algorithm: count draws, O(count^2) compares
        for filled in range(count):
            j = deg - count + filled
            state, t = below(state, j + 1)
            pick = start + t
            for q in range(filled):
                if picks[out + q] == pick:
                    pick = start + j
                    break
            picks[out + filled] = pick
        return
    for q in range(count):  # reservoir sampling: O(deg) draws, no extra memory
        picks[out + q] = start + q
    for j in range(count, deg):
        state, r = below(state, j + 1)
        if r < count:
            picks[out + r] = start + j


@numba.njit(cache=True, nogil=True)
def locality_order(dst_nodes, num_nodes):
    """Positions of ``dst_nodes`` bucket-sorted by id (about one node per bucket; O(n + buckets)).

    Visiting rows in (nearly) ascending id order turns the CSC reads of a layer from random cache misses
    into a forward sweep the hardware prefetcher follows (measured ~25% faster on the largest layer of
    a [15, 10, 5] batch on ogbn-arxiv's shape).
    """
    n = dst_nodes.shape[0]
    shift = 0
    while (num_nodes >> shift) > max(n, 1):
        shift += 1
    counts = np.zeros((num_nodes >> shift) + 2, dtype=np.int64)
    for i in range(n):
        counts[(dst_nodes[i] >> shift) + 1] += 1
    for b in range(counts.shape[0] - 1):
        counts[b + 1] += counts[b]
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        bucket = dst_nodes[i] >> shift
        order[counts[bucket]] = i
        counts[bucket] += 1
    return order


@numba.njit(cache=True, nogil=True, parallel=True)
def draw_layer(indptr, indices, eids, weight, cumulative, weighted, dst_nodes, fanout, replace, seed, layer):
    """One hop's draws for ``dst_nodes``: ``(dst_local int32 [T], edge_ids [T], src_global [T])``, grouped by
    destination in visiting order; node ``v`` draws from the stream ``(seed, layer, v)``."""
    num_dst = dst_nodes.shape[0]
    order = locality_order(dst_nodes, indptr.shape[0] - 1)
    offsets = np.zeros(num_dst + 1, dtype=np.int64)  # edges are laid out in visiting order
    for k in prange(num_dst):
        v = dst_nodes[order[k]]
        start, deg = indptr[v], indptr[v + 1] - indptr[v]
        available = deg
        if weighted and fanout >= 0:
            available = 0
            for p in range(start, start + deg):
                if weight[p] > 0.0:
                    available += 1
        if fanout < 0:
            count = deg
        elif available == 0:
            count = 0
        elif replace:
            count = fanout
        else:
            count = min(fanout, available)
        offsets[k + 1] = count
    for k in range(num_dst):
        offsets[k + 1] += offsets[k]
    total = offsets[num_dst]
    picks = np.empty(total, dtype=np.int64)
    keys = np.empty(total if (weighted and not replace) else 0, dtype=np.float64)
    dst_local = np.empty(total, dtype=np.int32)
    edge_ids = np.empty(total, dtype=np.int64)
    src_global = np.empty(total, dtype=np.int64)
    for k in prange(num_dst):
        i = order[k]
        v = dst_nodes[i]
        start, deg = indptr[v], indptr[v + 1] - indptr[v]
        out, count = offsets[k], offsets[k + 1] - offsets[k]
        if fanout < 0:
            for q in range(count):
                picks[out + q] = start + q
        else:
            draw_node(stream(seed, layer, v), start, deg, count, replace, weighted, weight, cumulative, picks,
                       keys, out)
        for q in range(out, out + count):  # read the row's ids here, in parallel, while they are in cache
            dst_local[q] = i
            edge_ids[q] = eids[picks[q]]
            src_global[q] = indices[picks[q]]
    return dst_local, edge_ids, src_global


@numba.njit(cache=True, nogil=True)
def _sample_layer(indptr, indices, eids, weight, cumulative, weighted, dst_nodes, fanout, replace, seed, layer,
                  scratch):
    dst_local, edge_ids, src_global = draw_layer(indptr, indices, eids, weight, cumulative, weighted, dst_nodes,
                                                 fanout, replace, seed, layer)
    src_local, src_nodes, duplicate = relabel(dst_nodes, src_global, scratch)
    return src_local, dst_local, edge_ids, src_nodes, duplicate


@numba.njit(cache=True, nogil=True)
def relabel(dst_nodes, src_global, scratch):
    """Block-local ids: destinations keep ids ``0..D-1``, new sources follow in first-drawn order.

    Returns ``(src_local int32 [T], src_nodes [S] (global ids, destinations first), duplicate)``;
    ``duplicate`` is a destination id given twice (then nothing else is valid), else -1. ``scratch`` is an
    all ``-1`` ``[num_nodes]`` map, left all ``-1``.
    """
    num_dst, total = dst_nodes.shape[0], src_global.shape[0]
    src_nodes = np.empty(num_dst + total, dtype=np.int64)
    src_local = np.empty(total, dtype=np.int32)
    for i in range(num_dst):
        v = dst_nodes[i]
        if scratch[v] >= 0:
            for j in range(i):
                scratch[dst_nodes[j]] = -1
            return src_local, src_nodes[:0], v
        scratch[v] = i
        src_nodes[i] = v
    num_src = num_dst
    for q in range(total):
        u = src_global[q]
        local = scratch[u]
        if local < 0:
            local = num_src
            scratch[u] = local
            src_nodes[num_src] = u
            num_src += 1
        src_local[q] = local
    for i in range(num_src):
        scratch[src_nodes[i]] = -1
    return src_local, src_nodes[:num_src], -1


@numba.njit(cache=True, nogil=True, parallel=True)
def _row_cumsum(indptr, weight):
    out = np.empty_like(weight)
    for row in prange(indptr.shape[0] - 1):
        running = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            running += weight[p]
            out[p] = running
    return out


def check_fanouts(fanouts: Any, where: str) -> list[int]:
    """Per-hop fanouts as a list of ints, each ``-1`` (all in-edges) or ``>= 1``.

    Raises:
        SamplingError: Empty, or an entry that is not such an int.
    """
    if isinstance(fanouts, (int, np.integer)) and not isinstance(fanouts, bool):
        fanouts = [fanouts]
    values = list(fanouts) if isinstance(fanouts, (list, tuple, np.ndarray)) else None
    if not values:
        raise SamplingError(f"{where}: expected fanouts as a non-empty list of ints (one per layer), got "
                            f"{fanouts!r}. Pass e.g. [15, 10] for a 2-layer model.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (value < 1 and value != -1):
            raise SamplingError(f"{where}: expected every fanout to be -1 (all in-edges) or an int >= 1, got "
                                f"{value!r} in {values}.")
    return [int(v) for v in values]


class NeighborSampler:
    """Per-layer neighbour sampler over a graph's in-edges (see the module docstring).

    Args:
        graph: The full graph (on the CPU); its CSC is built once and shared.
        fanouts: Per-hop draw counts, ``fanouts[0]`` for the seeds; ``-1`` keeps every in-edge.
        replace: Draw with replacement (exactly ``fanout`` edges per node, repeats allowed).
        edge_weight: Optional ``[E]`` non-negative weights biasing the draw (edge order of ``graph``).

    Shapes:
        edge_weight: ``[E]`` float.

    Raises:
        SamplingError: Bad fanouts, a graph not on the CPU, negative or non-finite weights.
        ShapeError: ``edge_weight`` of the wrong length.

    Example:
        >>> sampler = NeighborSampler(graph, [15, 10])
        >>> blocks = sampler.sample_blocks(torch.arange(64), seed=0)
        >>> logits = model(blocks, x[blocks[0].src_ids])   # [64, C]
    """

    def __init__(self, graph: Graph, fanouts: Sequence[int], *, replace: bool = False,
                 edge_weight: Any = None) -> None:
        where = "NeighborSampler"
        self.csc = csc_arrays(graph, where)
        self.num_nodes = graph.num_nodes
        self.fanouts = check_fanouts(fanouts, where)
        self.replace = bool(replace)
        self.weighted = edge_weight is not None
        if self.weighted:
            weight = check_edge_weight(edge_weight, graph.num_edges, where)[self.csc[2]]  # CSC order
            self.weight, self.cumulative = weight, _row_cumsum(self.csc[0], weight)
        else:
            self.weight = self.cumulative = np.zeros(0, dtype=np.float64)
        self.scratch = ScratchMap(self.num_nodes)

    def sample_blocks(self, seeds: Any, seed: int = 0) -> list[Block]:
        """Blocks for ``seeds`` (distinct node ids), input layer first.

        Raises:
            SamplingError: Ids out of range or repeated.
        """
        dst = as_node_ids(seeds, self.num_nodes, "NeighborSampler.sample_blocks")
        indptr, indices, eids = self.csc
        scratch = self.scratch.get()
        blocks: list[Block] = []
        for layer, fanout in enumerate(self.fanouts):
            src_local, dst_local, edge_ids, src_nodes, duplicate = _sample_layer(
                indptr, indices, eids, self.weight, self.cumulative, self.weighted, dst, fanout, self.replace,
                int(seed), layer, scratch)
            if duplicate >= 0:
                raise SamplingError(f"NeighborSampler.sample_blocks: expected distinct seed ids, got node "
                                    f"{duplicate} more than once. De-duplicate with torch.unique(seeds).")
            dst_ids = torch.from_numpy(dst)
            blocks.append(Block(torch.from_numpy(src_local), torch.from_numpy(dst_local), src_nodes.shape[0],
                                dst.shape[0], src_ids=torch.from_numpy(src_nodes), dst_ids=dst_ids,
                                edge_ids=torch.from_numpy(edge_ids), validate=False))
            dst = src_nodes
        blocks.reverse()
        return blocks

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[np.ndarray]:
        """Chunks of ``batch_size`` seeds (shuffled with ``rng`` when ``shuffle``)."""
        size = check_positive(batch_size, "batch_size (seeds per batch)", "NeighborSampler.plan")
        order = rng.permutation(seeds) if shuffle else seeds
        return chunks(order, size)

    def sample(self, item: np.ndarray, seed: int) -> MiniBatch:
        """The ``MiniBatch`` of one seed chunk: blocks, ``input_ids = blocks[0].src_ids``, outputs = seeds."""
        blocks = self.sample_blocks(item, seed)
        return MiniBatch(blocks, blocks[0].src_ids, blocks[-1].dst_ids)


def sample_neighbors(graph: Graph, seeds: Any, fanouts: Sequence[int], *, replace: bool = False,
                     edge_weight: Any = None, seed: int = 0) -> list[Block]:
    """One-shot neighbour sampling: ``NeighborSampler(graph, fanouts, ...).sample_blocks(seeds, seed)``.

    Returns:
        ``len(fanouts)`` blocks, input layer first (``blocks[-1].dst_ids`` are the seeds).
    """
    return NeighborSampler(graph, fanouts, replace=replace, edge_weight=edge_weight).sample_blocks(seeds, seed)
