"""Batching heterogeneous graphs: the disjoint union of graphs with the same node and edge types."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import GraphFormatError
from .graph import Graph
from .hetero import EdgeType, HeteroGraph


class BatchedHeteroGraph(HeteroGraph):
    """Disjoint union of heterogeneous graphs: ``node_ptr[t]`` ``[B+1]`` per node type and ``edge_ptr[etype]``
    ``[B+1]`` per relation (graph ``b`` owns nodes ``node_ptr[t][b]:node_ptr[t][b+1]`` of type ``t``)."""

    node_ptr: dict[str, Tensor]
    edge_ptr: dict[EdgeType, Tensor]

    @property
    def num_graphs(self) -> int:
        return int(next(iter(self.node_ptr.values())).numel() - 1)

    def batch_index(self, ntype: str) -> Tensor:
        """``[N_t]`` int64 graph id of every node of ``ntype`` (readout segment ids)."""
        ptr = self.node_ptr[self._ntype(ntype)]
        return torch.repeat_interleave(torch.arange(self.num_graphs, device=ptr.device), ptr.diff())


def _ptr(counts: list[int], device: torch.device) -> Tensor:
    ptr = torch.zeros(len(counts) + 1, dtype=torch.int64, device=device)
    torch.cumsum(torch.tensor(counts, dtype=torch.int64, device=device), 0, out=ptr[1:])
    return ptr


def batch_hetero(graphs: Sequence[HeteroGraph]) -> BatchedHeteroGraph:
    """Merge heterogeneous graphs with the same node and edge types into one; ids of graph ``b`` shift by its
    ``node_ptr``. Features are batched by the caller with ``torch.cat`` per node type in the same order.

    Raises:
        GraphFormatError: An empty list or graphs whose types differ.
    """
    if not graphs:
        raise GraphFormatError("batch_hetero: expected at least one graph, got an empty list.")
    first = graphs[0]
    for i, g in enumerate(graphs):
        if g.ntypes != first.ntypes or g.canonical_etypes != first.canonical_etypes:
            raise GraphFormatError(f"batch_hetero: expected every graph to have the types of graph 0 "
                                   f"{list(first.canonical_etypes)}, got graph {i} with {list(g.canonical_etypes)}.")
    device = first.device
    node_ptr = {t: _ptr([g.num_nodes(t) for g in graphs], device) for t in first.ntypes}
    edge_ptr, relations = {}, {}
    for etype in first.canonical_etypes:
        parts = [g[etype] for g in graphs]
        edge_ptr[etype] = _ptr([p.num_edges for p in parts], device)
        counts = torch.tensor([p.num_edges for p in parts], device=device)
        shift_s = torch.repeat_interleave(node_ptr[etype[0]][:-1], counts)
        shift_d = torch.repeat_interleave(node_ptr[etype[2]][:-1], counts)
        src = torch.cat([p.src.long() for p in parts]) + shift_s
        dst = torch.cat([p.dst.long() for p in parts]) + shift_d
        relations[etype] = Graph._trusted(src, dst, int(node_ptr[etype[0]][-1]), int(node_ptr[etype[2]][-1]))
    counts = {t: int(ptr[-1]) for t, ptr in node_ptr.items()}
    out = BatchedHeteroGraph._trusted(counts, dict(counts), relations)
    out.node_ptr, out.edge_ptr = node_ptr, edge_ptr
    return out


def unbatch_hetero(graph: BatchedHeteroGraph) -> list[HeteroGraph]:
    """Split a :class:`BatchedHeteroGraph` back into its graphs (ids relabelled from 0 per type)."""
    out = []
    for b in range(graph.num_graphs):
        counts = {t: int(ptr[b + 1] - ptr[b]) for t, ptr in graph.node_ptr.items()}
        relations = {}
        for etype, rel in graph.relations():
            lo, hi = int(graph.edge_ptr[etype][b]), int(graph.edge_ptr[etype][b + 1])
            relations[etype] = Graph._trusted(rel.src[lo:hi].long() - graph.node_ptr[etype[0]][b],
                                              rel.dst[lo:hi].long() - graph.node_ptr[etype[2]][b],
                                              counts[etype[0]], counts[etype[2]])
        out.append(HeteroGraph._trusted(counts, dict(counts), relations))
    return out


__all__ = ["BatchedHeteroGraph", "batch_hetero", "unbatch_hetero"]
