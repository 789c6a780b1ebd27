"""Induced subgraphs for the subgraph samplers (ClusterGCN, GraphSAINT) as one numba kernel.

``induced_subgraph(csc, candidates, scratch)`` de-duplicates ``candidates`` (first occurrence wins, so
local ids follow the order of the draw) and keeps every in-edge ``u -> v`` of the graph whose two ends
were drawn. The id map is the caller's per-thread ``ScratchMap`` array: entries are set for the drawn
nodes and reset before returning, so a call costs O(drawn nodes + their in-edges), never O(num_nodes).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import prange

from ..graph import Graph
from .base import MiniBatch, ScratchMap


@numba.njit(cache=True, nogil=True, parallel=True)
def _induce(indptr, indices, eids, candidates, scratch):
    count = 0
    nodes = np.empty(candidates.shape[0], dtype=np.int64)
    for i in range(candidates.shape[0]):
        v = candidates[i]
        if scratch[v] < 0:
            scratch[v] = count
            nodes[count] = v
            count += 1
    nodes = nodes[:count]
    offsets = np.zeros(count + 1, dtype=np.int64)
    for i in prange(count):
        v = nodes[i]
        kept = 0
        for p in range(indptr[v], indptr[v + 1]):
            if scratch[indices[p]] >= 0:
                kept += 1
        offsets[i + 1] = kept
    for i in range(count):
        offsets[i + 1] += offsets[i]
    total = offsets[count]
    src = np.empty(total, dtype=np.int32)
    dst = np.empty(total, dtype=np.int32)
    edge_ids = np.empty(total, dtype=np.int64)
    for i in prange(count):
        v = nodes[i]
        out = offsets[i]
        for p in range(indptr[v], indptr[v + 1]):
            local = scratch[indices[p]]
            if local >= 0:
                src[out] = local
                dst[out] = i
                edge_ids[out] = eids[p]
                out += 1
    for i in range(count):
        scratch[nodes[i]] = -1
    return nodes, src, dst, edge_ids


def induced_subgraph(csc: tuple[np.ndarray, np.ndarray, np.ndarray], candidates: np.ndarray,
                     scratch: ScratchMap) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique nodes of ``candidates`` and every graph edge between them, in local ids.

    Args:
        csc: ``(indptr, src ids, edge ids)`` of the graph's CSC (``csc_arrays``).
        candidates: Drawn node ids, duplicates allowed.
        scratch: The sampler's per-thread id map.

    Returns:
        ``(nodes, src, dst, edge_ids)``: the unique nodes in first-drawn order, the kept edges as local ids
        (grouped by destination) and their ids in the full graph.

    Shapes:
        candidates: ``[C]`` int64; returns ``[n]`` int64, ``[E_s]`` int32, ``[E_s]`` int32, ``[E_s]`` int64.
    """
    indptr, indices, eids = csc
    return _induce(indptr, indices, eids, np.ascontiguousarray(candidates, dtype=np.int64), scratch.get())


def subgraph_batch(nodes: np.ndarray, src: np.ndarray, dst: np.ndarray, edge_ids: np.ndarray,
                   seed_mask: np.ndarray, *, node_scale: np.ndarray | None = None,
                   edge_weight: np.ndarray | None = None) -> MiniBatch:
    """Wrap an induced subgraph as a ``MiniBatch`` whose outputs are the subgraph's seed nodes.

    Args:
        nodes, src, dst, edge_ids: As returned by ``induced_subgraph``.
        seed_mask: ``[N]`` bool, True for the nodes the loss is taken on (e.g. training nodes).
        node_scale: ``[N]`` per-node loss weight (looked up for the output nodes), or None.
        edge_weight: ``[E]`` per-edge aggregation weight of the full graph (looked up by ``edge_ids``), or None.
    """
    num = nodes.shape[0]
    graph = Graph._trusted(torch.from_numpy(src), torch.from_numpy(dst), num, num)
    output_index = np.flatnonzero(seed_mask[nodes])
    output_ids = nodes[output_index]
    loss_weight = None if node_scale is None else torch.from_numpy(node_scale[output_ids].astype(np.float32))
    weights = None if edge_weight is None else torch.from_numpy(edge_weight[edge_ids].astype(np.float32))
    return MiniBatch(graph, torch.from_numpy(nodes), torch.from_numpy(output_ids), torch.from_numpy(output_index),
                     loss_weight, weights, torch.from_numpy(edge_ids))
