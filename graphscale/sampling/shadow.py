"""ShaDow-GNN subgraphs (Zeng et al., NeurIPS 2021, "Decoupling the Depth and Scope of Graph Neural Networks").

Every target node ``t`` gets its own small *scope*: a node set ``V_t`` that holds ``t``, and the subgraph of
the full graph induced by ``V_t``. A deep GNN (more layers than the scope has hops) then runs on each
subgraph separately and the prediction of ``t`` is read out at ``t`` (``nn/shadow.py``). Two scopes:

* ``khop`` (the paper's L-hop sampler with a budget): ``V_t`` starts as ``{t}``; hop ``l`` draws, for every
  node ``u`` found at hop ``l - 1``, up to ``fanouts[l]`` of its in-neighbours without replacement (``-1``:
  all), and keeps the ones not yet in ``V_t`` as the next hop's nodes. Draws of ``u`` at hop ``l`` for target
  ``t`` come from the random stream ``(seed, t * 64 + l, u)``, so a scope depends on ``(seed, t)`` only: not
  on the batch, the other targets or the number of threads.
* ``ppr`` (the paper's PPR sampler): ``V_t`` is ``t`` plus the ``topk`` other nodes of highest approximate
  personalised PageRank from ``t`` (:func:`graphscale.sampling.ppr.ppr_topk_graph`: push along in-edges, the
  direction messages reach ``t`` from); deterministic, so each target's scope is computed once per sampler.

Layout of a batch of ``B`` scopes (one disjoint :class:`~graphscale.graph.batch.BatchedGraph`): scope ``b``
owns rows ``node_ptr[b]:node_ptr[b+1]`` and its **target is its first row** ``node_ptr[b]``; the other khop
nodes follow hop by hop (ids ascending within a hop), PPR nodes by decreasing score. Edges are every graph
edge ``u -> v`` with both ends in the scope (multi-edges and self-loops kept), grouped by destination;
``edge_ptr[b]:edge_ptr[b+1]`` are scope ``b``'s. A node in several scopes appears once per scope.

Induction looks an edge's source up in the scope's sorted node list for short in-edge rows, and the scope's
nodes up in a row sorted by source (built once per sampler) for long ones, so a hub costs
``O(|V_t| log deg)`` per scope, never ``O(deg)``.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np
import torch
from numba import prange

from ..errors import SamplingError
from ..graph import Graph
from ..graph.batch import BatchedGraph
from .base import MiniBatch, as_node_ids, check_positive, chunks, csc_arrays, sort_rows
from .neighbor import check_fanouts, draw_node
from .rng import stream

METHODS = ("khop", "ppr")
MAX_HOPS = 64  # the hop number is packed with the target id into one stream name


@numba.njit(cache=True, nogil=True)
def _khop_scope(indptr, indices, target, fanouts, seed):
    """Nodes of ``target``'s khop scope: the target, then each hop's new nodes (ascending ids)."""
    empty = np.zeros(0, dtype=np.float64)
    scope = np.full(1, target, dtype=np.int64)
    known = scope.copy()  # sorted
    frontier = scope.copy()
    for hop in range(fanouts.shape[0]):
        fanout = fanouts[hop]
        total = 0
        for u in frontier:
            deg = indptr[u + 1] - indptr[u]
            total += deg if fanout < 0 else min(fanout, deg)
        picks = np.empty(total, dtype=np.int64)
        out = 0
        for u in frontier:
            start, deg = indptr[u], indptr[u + 1] - indptr[u]
            count = deg if fanout < 0 else min(fanout, deg)
            if fanout < 0:
                for q in range(count):
                    picks[out + q] = start + q
            else:
                draw_node(stream(seed, target * MAX_HOPS + hop, u), start, deg, count, False, False, empty, empty,
                          picks, empty, out)
            out += count
        drawn = np.unique(indices[picks].astype(np.int64))
        where = np.searchsorted(known, drawn)
        fresh = np.ones(drawn.shape[0], dtype=np.bool_)
        for i in range(drawn.shape[0]):
            if where[i] < known.shape[0] and known[where[i]] == drawn[i]:
                fresh[i] = False
        frontier = drawn[fresh]
        if frontier.shape[0] == 0:
            break
        scope = np.concatenate((scope, frontier))
        known = np.sort(np.concatenate((known, frontier)))
    return scope


@numba.njit(cache=True, nogil=True, parallel=True)
def _khop_scopes(indptr, indices, targets, fanouts, seed):
    """``(node_ptr [B+1], nodes)`` of the khop scopes of ``targets`` (computed twice: count, then fill)."""
    num = targets.shape[0]
    node_ptr = np.zeros(num + 1, dtype=np.int64)
    for b in prange(num):
        node_ptr[b + 1] = _khop_scope(indptr, indices, targets[b], fanouts, seed).shape[0]
    for b in range(num):
        node_ptr[b + 1] += node_ptr[b]
    nodes = np.empty(node_ptr[num], dtype=np.int64)
    for b in prange(num):
        nodes[node_ptr[b]:node_ptr[b + 1]] = _khop_scope(indptr, indices, targets[b], fanouts, seed)
    return node_ptr, nodes


@numba.njit(cache=True, nogil=True)
def _induce_scope(indptr, sources, edges, scope, base, src, dst, edge_ids, out, write):
    """Edges of the graph among ``scope`` (local ids shifted by ``base``); writes them from ``out`` when
    ``write``; returns their number."""
    n = scope.shape[0]
    order = np.argsort(scope)
    ordered = scope[order]
    count = 0
    for i in range(n):
        v = scope[i]
        lo, hi = indptr[v], indptr[v + 1]
        if hi - lo <= 4 * n:  # short row: look every source up in the scope
            for p in range(lo, hi):
                j = np.searchsorted(ordered, sources[p])
                if j < n and ordered[j] == sources[p]:
                    if write:
                        src[out + count], dst[out + count], edge_ids[out + count] = base + order[j], base + i, edges[p]
                    count += 1
        else:  # long row (a hub): look every scope node up in the row
            row = sources[lo:hi]
            for j in range(n):
                p = np.searchsorted(row, ordered[j])
                while p < hi - lo and row[p] == ordered[j]:
                    if write:
                        src[out + count], dst[out + count], edge_ids[out + count] = base + order[j], base + i, \
                            edges[lo + p]
                    count += 1
                    p += 1
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _induce_scopes(indptr, sources, edges, node_ptr, nodes):
    """``(edge_ptr [B+1], src, dst, edge_ids)`` of the induced subgraphs of all scopes, in batch ids."""
    num = node_ptr.shape[0] - 1
    edge_ptr = np.zeros(num + 1, dtype=np.int64)
    none64, none32 = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    for b in prange(num):
        edge_ptr[b + 1] = _induce_scope(indptr, sources, edges, nodes[node_ptr[b]:node_ptr[b + 1]], 0, none32,
                                        none32, none64, 0, False)
    for b in range(num):
        edge_ptr[b + 1] += edge_ptr[b]
    total = edge_ptr[num]
    src, dst = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
    edge_ids = np.empty(total, dtype=np.int64)
    for b in prange(num):
        _induce_scope(indptr, sources, edges, nodes[node_ptr[b]:node_ptr[b + 1]], node_ptr[b], src, dst, edge_ids,
                      edge_ptr[b], True)
    return edge_ptr, src, dst, edge_ids


@numba.njit(cache=True, nogil=True)
def _store_ppr(targets, ptr, neighbors, limit, table, counts):
    """Cache the PPR scope of every target as row ``table[t] = [t, up to limit-1 others ...]`` (score order)."""
    for b in range(targets.shape[0]):
        t = targets[b]
        table[t, 0] = t
        kept = 1
        for p in range(ptr[b], ptr[b + 1]):
            if neighbors[p] != t and kept < limit:
                table[t, kept] = neighbors[p]
                kept += 1
        counts[t] = kept


@numba.njit(cache=True, nogil=True)
def _gather_rows(targets, table, counts):
    """``(node_ptr [B+1], nodes)`` of the cached scope rows of ``targets``."""
    num = targets.shape[0]
    node_ptr = np.zeros(num + 1, dtype=np.int64)
    for b in range(num):
        node_ptr[b + 1] = node_ptr[b] + counts[targets[b]]
    nodes = np.empty(node_ptr[num], dtype=np.int64)
    for b in range(num):
        nodes[node_ptr[b]:node_ptr[b + 1]] = table[targets[b], :counts[targets[b]]]
    return node_ptr, nodes


def induce_scopes(csc_sorted: tuple[np.ndarray, np.ndarray, np.ndarray], node_ptr: np.ndarray,
                  nodes: np.ndarray) -> MiniBatch:
    """One ``MiniBatch`` of the subgraphs induced by the scopes ``nodes[node_ptr[b]:node_ptr[b+1]]``.

    Args:
        csc_sorted: ``(indptr, sources, edge ids)`` of the graph's CSC with every row sorted by source.
        node_ptr: Scope offsets; the first node of every scope is its target.
        nodes: Full-graph ids of the scopes' nodes, scope after scope (no id twice within a scope).

    Returns:
        ``MiniBatch(graph, input_ids=nodes, output_ids=targets, edge_ids=...)``: ``graph`` a ``BatchedGraph``
        with ``node_ptr`` / ``edge_ptr``; ``output_index`` is None because the model's readout returns one
        row per scope (its target), in scope order.

    Shapes:
        node_ptr: ``[B+1]`` int64; nodes: ``[N_b]`` int64.
    """
    indptr, sources, edges = csc_sorted
    edge_ptr, src, dst, edge_ids = _induce_scopes(indptr, sources, edges, node_ptr, nodes)
    total = int(node_ptr[-1])
    graph = BatchedGraph._trusted(torch.from_numpy(src), torch.from_numpy(dst), total, total)
    graph.node_ptr, graph.edge_ptr = torch.from_numpy(node_ptr), torch.from_numpy(edge_ptr)
    targets = torch.from_numpy(nodes[node_ptr[:-1]])
    return MiniBatch(graph, torch.from_numpy(nodes), targets, None, None, None, torch.from_numpy(edge_ids))


class ShadowSampler:
    """Per-target ShaDow-GNN subgraphs, many targets batched into one disjoint graph (see the module docstring).

    Args:
        graph: The full graph (on the CPU).
        method: "khop" (budgeted hops of in-neighbours) or "ppr" (top-k personalised PageRank).
        fanouts: khop: per-hop budget, ``fanouts[0]`` for the target; ``-1`` takes every in-neighbour; the
            number of hops is ``len(fanouts)``.
        topk: ppr: nodes kept besides the target (fewer when the push reaches fewer).
        alpha, eps: ppr: teleport probability and push tolerance of the approximate PageRank.

    Raises:
        SamplingError: Unknown method, bad fanouts / topk, a graph not on the CPU.

    Example:
        >>> sampler = ShadowSampler(graph, "khop", fanouts=[10, 5])
        >>> batch = sampler.sample(np.arange(64), seed=0)
        >>> logits = ShadowNet(base, "target")(batch.graph, x[batch.input_ids])   # [64, C]
    """

    def __init__(self, graph: Graph, method: str = "khop", *, fanouts: Any = (10, 10), topk: int = 32,
                 alpha: float = 0.25, eps: float = 1e-4) -> None:
        where = "ShadowSampler"
        if method not in METHODS:
            raise SamplingError(f"{where}: expected method in {METHODS}, got {method!r}.")
        indptr, indices, eids = csc_arrays(graph, where)
        sources, edges = indices.astype(np.int64), eids.copy()  # copies, sorted by source in place
        sort_rows(indptr, sources, edges)
        self.csc_sorted = (indptr, sources, edges)
        self.graph, self.num_nodes, self.method = graph, graph.num_nodes, method
        self.fanouts = np.asarray(check_fanouts(fanouts, where), dtype=np.int64)
        if self.fanouts.shape[0] > MAX_HOPS:
            raise SamplingError(f"{where}: expected at most {MAX_HOPS} hops, got {self.fanouts.shape[0]} fanouts.")
        self.topk = check_positive(topk, "topk", where)
        if not 0.0 < alpha < 1.0 or not eps > 0.0:
            raise SamplingError(f"{where}: expected 0 < alpha < 1 and eps > 0, got alpha={alpha!r}, eps={eps!r}.")
        self.alpha, self.eps = float(alpha), float(eps)
        self._ppr_table: np.ndarray | None = None  # ppr: [N, topk + 1] cached scopes, filled on demand
        self._ppr_counts = np.zeros(0, dtype=np.int64)
        self._ppr_lock = threading.Lock()

    def scopes(self, targets: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(node_ptr [B+1], nodes)``: the node set of every target's scope, target first.

        Raises:
            SamplingError: Target ids out of range.
        """
        targets = as_node_ids(targets, self.num_nodes, "ShadowSampler.scopes", "targets")
        if self.method == "khop":
            indptr, sources, _ = self.csc_sorted
            return _khop_scopes(indptr, sources, targets, self.fanouts, int(seed))
        return self._ppr_scopes(targets)

    def _ppr_scopes(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PPR scopes, each target's pushed once and cached (under a lock: loader threads share the cache)."""
        from .ppr import ppr_topk_graph

        with self._ppr_lock:
            if self._ppr_table is None:
                self._ppr_table = np.zeros((self.num_nodes, self.topk + 1), dtype=np.int64)
                self._ppr_counts = np.zeros(self.num_nodes, dtype=np.int64)
            missing = np.unique(targets[self._ppr_counts[targets] == 0])
            if missing.shape[0]:
                ptr, neighbors, _ = ppr_topk_graph(self.graph, missing, alpha=self.alpha, eps=self.eps,
                                                   topk=self.topk + 1)  # the target is usually its own top node
                _store_ppr(missing, ptr, neighbors, self.topk + 1, self._ppr_table, self._ppr_counts)
            return _gather_rows(targets, self._ppr_table, self._ppr_counts)

    def sample(self, item: Any, seed: int = 0) -> MiniBatch:
        """The batch of the targets ``item`` (ids; repeats allowed): see :func:`induce_scopes`."""
        node_ptr, nodes = self.scopes(item, seed)
        return induce_scopes(self.csc_sorted, node_ptr, nodes)

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[np.ndarray]:
        """Chunks of ``batch_size`` targets (shuffled with ``rng`` when ``shuffle``)."""
        size = check_positive(batch_size, "batch_size (targets per batch)", "ShadowSampler.plan")
        return chunks(rng.permutation(seeds) if shuffle else seeds, size)
