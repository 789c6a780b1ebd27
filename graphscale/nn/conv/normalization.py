"""The graph a layer propagates over: block-aware self-loops added or removed, GCN's symmetric weights."""

from __future__ import annotations

import torch
from torch import Tensor

from ...errors import GraphFormatError
from ...graph import Block, Graph, add_self_loops, gcn_norm


def with_self_loops(graph: Graph, edge_weight: Tensor | None = None, fill_value: float = 1.0):
    """``graph`` plus one loop ``v -> v`` per destination node; a Block gets loops ``v -> v`` for
    ``v < num_dst_nodes`` (destination ``v`` is source ``v``). Cached on the graph like
    ``add_self_loops``.

    Returns:
        The new graph, or ``(graph, edge_weight)`` with ``fill_value`` for the loops when a weight is given.
    """
    if not isinstance(graph, Block):
        return add_self_loops(graph) if edge_weight is None else add_self_loops(graph, edge_weight, fill_value)
    if graph.num_dst_nodes > graph.num_src_nodes:
        raise GraphFormatError(
            f"with_self_loops: expected a Block whose first source nodes are its destination nodes, got "
            f"{graph.num_src_nodes} source and {graph.num_dst_nodes} destination nodes. Build blocks with "
            "to_block(..., include_dst_in_src=True)."
        )

    def build() -> Block:
        loop = torch.arange(graph.num_dst_nodes, device=graph.device, dtype=graph.idtype)
        return Block(torch.cat([graph.src, loop]), torch.cat([graph.dst, loop]), graph.num_src_nodes,
                     graph.num_dst_nodes, validate=False)

    looped = graph.cached("nn.self_loops", build)
    if edge_weight is None:
        return looped
    fill = torch.full((graph.num_dst_nodes, *edge_weight.shape[1:]), fill_value, dtype=edge_weight.dtype,
                      device=edge_weight.device)
    return looped, torch.cat([edge_weight, fill])


def without_self_loops(graph: Graph) -> Graph:
    """``graph`` with every edge ``v -> v`` removed (cached on the graph; the graph itself when it has none)."""
    def build() -> Graph:
        if not graph.has_self_loops():
            return graph
        keep = (graph.src != graph.dst).nonzero().view(-1)
        if isinstance(graph, Block):
            return Block(graph.src[keep], graph.dst[keep], graph.num_src_nodes, graph.num_dst_nodes, validate=False)
        return Graph(graph.src[keep], graph.dst[keep], graph.num_nodes, validate=False)

    return graph.cached("nn.no_self_loops", build)


def symmetric_norm(graph: Graph, dtype: torch.dtype, edge_weight: Tensor | None = None) -> Tensor:
    """``gcn_norm`` weights ``[E]`` in ``dtype``. Unweighted norms are cached on the graph per dtype, and
    computed in that dtype (float64 layers get float64 degrees, not float32 ones cast up)."""
    if edge_weight is not None:
        return gcn_norm(graph, edge_weight.to(dtype))
    if dtype == torch.float32:
        return gcn_norm(graph)
    return graph.cached(f"nn.gcn_norm.{dtype}", lambda: gcn_norm(
        graph, torch.ones(graph.num_edges, dtype=dtype, device=graph.device)))


__all__ = ["symmetric_norm", "with_self_loops", "without_self_loops"]
