"""Batching many small graphs into one disjoint-union graph (graph classification).

A ``BatchedGraph`` is a ``Graph`` plus offsets: ``node_ptr [B+1]`` (graph ``b`` owns nodes
``node_ptr[b]:node_ptr[b+1]``), ``edge_ptr [B+1]`` and ``batch_index [N]`` (graph id of every node),
which readouts use as segment ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import GraphFormatError
from .graph import Graph


class BatchedGraph(Graph):
    """Disjoint union of ``num_graphs`` graphs with node and edge offsets.

    Shapes:
        node_ptr, edge_ptr: ``[B+1]`` int64; batch_index: ``[N]`` int64.
    """

    node_ptr: Tensor
    edge_ptr: Tensor

    @property
    def num_graphs(self) -> int:
        return int(self.node_ptr.numel() - 1)

    @property
    def batch_index(self) -> Tensor:
        """``[N]`` int64 graph id of every node."""
        return self.cached("batch_index", lambda: torch.repeat_interleave(
            torch.arange(self.num_graphs, device=self.device), self.node_ptr.diff()))

    def __repr__(self) -> str:
        return f"BatchedGraph(num_graphs={self.num_graphs}, num_nodes={self.num_nodes}, num_edges={self.num_edges})"


def batch(graphs: Sequence[Graph]) -> BatchedGraph:
    """Merge ``graphs`` into one ``BatchedGraph``; node ids of graph ``b`` shift by ``node_ptr[b]``.

    Node features are batched by the caller with ``torch.cat`` in the same order.
    """
    if len(graphs) == 0:
        raise GraphFormatError("batch: expected at least one graph, got an empty list.")
    device = graphs[0].device
    num_nodes = torch.tensor([g.num_nodes for g in graphs], dtype=torch.int64)
    num_edges = torch.tensor([g.num_edges for g in graphs], dtype=torch.int64)
    node_ptr = torch.zeros(len(graphs) + 1, dtype=torch.int64)
    edge_ptr = torch.zeros(len(graphs) + 1, dtype=torch.int64)
    torch.cumsum(num_nodes, 0, out=node_ptr[1:])
    torch.cumsum(num_edges, 0, out=edge_ptr[1:])
    shift = torch.repeat_interleave(node_ptr[:-1], num_edges).to(device)
    src = torch.cat([g.src.long() for g in graphs]) + shift
    dst = torch.cat([g.dst.long() for g in graphs]) + shift
    total = int(node_ptr[-1])
    out = BatchedGraph._trusted(src, dst, total, total)
    out.node_ptr = node_ptr.to(device)
    out.edge_ptr = edge_ptr.to(device)
    return out


def unbatch(graph: BatchedGraph) -> list[Graph]:
    """Split a ``BatchedGraph`` back into its graphs (ids relabelled from 0)."""
    node_ptr, edge_ptr = graph.node_ptr.tolist(), graph.edge_ptr.tolist()
    out = []
    for b in range(graph.num_graphs):
        lo, hi = edge_ptr[b], edge_ptr[b + 1]
        shift = node_ptr[b]
        n = node_ptr[b + 1] - shift
        out.append(Graph._trusted(graph.src[lo:hi] - shift, graph.dst[lo:hi] - shift, n, n))
    return out
