"""Functional graph transforms. Each returns a new graph; none mutates its input.

Transforms that drop or add edges take an optional ``edge_weight [E]`` (or any ``[E, *]`` edge
tensor) and then return ``(graph, edge_weight)`` so edge data stays aligned with the edges.
Results on the plain graph (no edge data) are cached on the input graph, so layers can call
``add_self_loops(graph)`` every forward at no cost after the first.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import GraphFormatError, ShapeError
from .graph import Graph


def _check_edge_data(graph: Graph, edge_data: Tensor | None, where: str) -> None:
    if edge_data is not None and (edge_data.dim() < 1 or edge_data.shape[0] != graph.num_edges):
        raise ShapeError(
            f"{where}: expected edge data with one row per edge ({graph.num_edges} rows), got shape "
            f"{tuple(edge_data.shape)}."
        )


def _homogeneous(graph: Graph, where: str) -> None:
    if graph.num_src_nodes != graph.num_dst_nodes:
        raise GraphFormatError(
            f"{where}: expected a graph with one node set, got a bipartite block with "
            f"{graph.num_src_nodes} source and {graph.num_dst_nodes} destination nodes."
        )


def reverse(graph: Graph) -> Graph:
    """Flip every edge: ``dst -> src``. Edge order (and so edge data) is unchanged."""
    def build() -> Graph:
        g = Graph._trusted(graph.dst, graph.src, graph.num_dst_nodes, graph.num_src_nodes)
        # CSR of the reverse is the CSC of the input and vice versa.
        if "csr" in graph._cache:
            g._cache["csc"] = graph._cache["csr"]
        if "csc" in graph._cache:
            g._cache["csr"] = graph._cache["csc"]
        return g

    return graph.cached("reverse", build)


def add_self_loops(graph: Graph, edge_weight: Tensor | None = None, fill_value: float = 1.0):
    """Append one self-loop ``v -> v`` per node (after the existing edges).

    Returns ``graph`` or ``(graph, edge_weight)`` where new loops get ``fill_value``.
    """
    _homogeneous(graph, "add_self_loops")
    _check_edge_data(graph, edge_weight, "add_self_loops")

    def build() -> Graph:
        loop = torch.arange(graph.num_nodes, device=graph.device, dtype=graph.idtype)
        return Graph._trusted(torch.cat([graph.src, loop]), torch.cat([graph.dst, loop]),
                              graph.num_nodes, graph.num_nodes)

    new = graph.cached("self_loops", build)
    if edge_weight is None:
        return new
    fill = torch.full((graph.num_nodes, *edge_weight.shape[1:]), fill_value,
                      dtype=edge_weight.dtype, device=edge_weight.device)
    return new, torch.cat([edge_weight, fill])


def remove_self_loops(graph: Graph, edge_weight: Tensor | None = None):
    """Drop every edge ``v -> v``. Returns ``graph`` or ``(graph, edge_weight)``."""
    _check_edge_data(graph, edge_weight, "remove_self_loops")
    keep = graph.src != graph.dst
    new = Graph._trusted(graph.src[keep], graph.dst[keep], graph.num_src_nodes, graph.num_dst_nodes)
    return new if edge_weight is None else (new, edge_weight[keep])


def coalesce(graph: Graph, edge_weight: Tensor | None = None, reduce: str = "sum"):
    """Merge duplicate edges (sorted by ``(src, dst)``); duplicate weights are summed (or "mean"/"max")."""
    _check_edge_data(graph, edge_weight, "coalesce")
    key = graph.src.long() * max(graph.num_dst_nodes, 1) + graph.dst.long()
    unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
    n_dst = max(graph.num_dst_nodes, 1)
    new = Graph._trusted((unique // n_dst).to(graph.idtype), (unique % n_dst).to(graph.idtype),
                         graph.num_src_nodes, graph.num_dst_nodes)
    if edge_weight is None:
        return new
    out = torch.zeros((unique.numel(), *edge_weight.shape[1:]), dtype=edge_weight.dtype, device=edge_weight.device)
    index = inverse.view(-1, *([1] * (edge_weight.dim() - 1))).expand_as(edge_weight)
    if reduce == "sum":
        out.scatter_add_(0, index, edge_weight)
    elif reduce in ("mean", "max", "min"):
        out = out.scatter_reduce(0, index, edge_weight, reduce={"max": "amax", "min": "amin"}.get(reduce, reduce),
                                 include_self=False)
    else:
        raise GraphFormatError(f"coalesce: expected reduce in sum/mean/max/min, got {reduce!r}.")
    return new, out


def to_undirected(graph: Graph, edge_weight: Tensor | None = None):
    """Add the reverse of every edge and merge duplicates (sorted by ``(src, dst)``).

    With ``edge_weight`` a merged edge keeps the largest weight among its duplicates.
    """
    _homogeneous(graph, "to_undirected")
    _check_edge_data(graph, edge_weight, "to_undirected")
    both = Graph._trusted(torch.cat([graph.src, graph.dst]), torch.cat([graph.dst, graph.src]),
                          graph.num_nodes, graph.num_nodes)
    if edge_weight is None:
        return graph.cached("undirected", lambda: coalesce(both))
    return coalesce(both, torch.cat([edge_weight, edge_weight]), reduce="max")


def edge_subgraph(graph: Graph, edge_ids: Tensor, edge_weight: Tensor | None = None):
    """Keep only the edges ``edge_ids`` (all nodes stay). Returns graph or ``(graph, edge_weight)``."""
    _check_edge_data(graph, edge_weight, "edge_subgraph")
    edge_ids = torch.as_tensor(edge_ids, device=graph.device)
    if edge_ids.dtype == torch.bool:
        edge_ids = edge_ids.nonzero().view(-1)
    edge_ids = edge_ids.long()
    if edge_ids.numel() and (int(edge_ids.min()) < 0 or int(edge_ids.max()) >= graph.num_edges):
        raise GraphFormatError(
            f"edge_subgraph: expected edge ids in [0, {graph.num_edges}), got range "
            f"[{int(edge_ids.min())}, {int(edge_ids.max())}]."
        )
    new = Graph._trusted(graph.src[edge_ids], graph.dst[edge_ids], graph.num_src_nodes, graph.num_dst_nodes)
    return new if edge_weight is None else (new, edge_weight[edge_ids])


def subgraph(graph: Graph, nodes: Tensor, edge_weight: Tensor | None = None, return_edge_ids: bool = False):
    """Induced subgraph on ``nodes`` (ids or a bool mask), relabelled ``0..len(nodes)-1`` in the given order.

    Returns ``graph``, plus ``edge_weight`` of the kept edges when given, plus the kept original edge ids
    when ``return_edge_ids``.
    """
    _homogeneous(graph, "subgraph")
    _check_edge_data(graph, edge_weight, "subgraph")
    nodes = torch.as_tensor(nodes, device=graph.device)
    if nodes.dtype == torch.bool:
        if nodes.numel() != graph.num_nodes:
            raise ShapeError(f"subgraph: expected a node mask of length {graph.num_nodes}, got {nodes.numel()}.")
        nodes = nodes.nonzero().view(-1)
    nodes = nodes.long()
    if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= graph.num_nodes):
        raise GraphFormatError(
            f"subgraph: expected node ids in [0, {graph.num_nodes}), got range [{int(nodes.min())}, {int(nodes.max())}]."
        )
    mapping = torch.full((graph.num_nodes,), -1, dtype=torch.int64, device=graph.device)
    mapping[nodes] = torch.arange(nodes.numel(), device=graph.device)
    new_src, new_dst = mapping[graph.src.long()], mapping[graph.dst.long()]
    keep = (new_src >= 0) & (new_dst >= 0)
    eids = keep.nonzero().view(-1)
    new = Graph._trusted(new_src[eids], new_dst[eids], nodes.numel(), nodes.numel())
    out: list = [new]
    if edge_weight is not None:
        out.append(edge_weight[eids])
    if return_edge_ids:
        out.append(eids)
    return out[0] if len(out) == 1 else tuple(out)


def gcn_norm(graph: Graph, edge_weight: Tensor | None = None, add_loops: bool = False):
    """Symmetric GCN normalisation ``w_e / sqrt(deg_out(src) * deg_in(dst))`` (Kipf & Welling).

    Degrees are weighted sums of ``edge_weight`` (1 per edge when None); zero degrees give weight 0.
    With ``add_loops`` self-loops (weight 1) are added first and ``(graph, norm)`` is returned.
    Without edge weights the result is cached on the graph.

    Shapes:
        edge_weight: ``[E]``; return: ``[E]`` float32 (or the weight's dtype).
    """
    if add_loops:
        if edge_weight is None:
            graph = add_self_loops(graph)
        else:
            graph, edge_weight = add_self_loops(graph, edge_weight)
        return graph, gcn_norm(graph, edge_weight)
    _check_edge_data(graph, edge_weight, "gcn_norm")

    def build(weight: Tensor | None) -> Tensor:
        if weight is None:
            deg_in = graph.in_degrees().to(torch.float32)
            deg_out = graph.out_degrees().to(torch.float32)
            weight_e = None
        else:
            weight_e = weight
            deg_in = torch.zeros(graph.num_dst_nodes, dtype=weight.dtype, device=weight.device)
            deg_in.index_add_(0, graph.dst.long(), weight)
            deg_out = torch.zeros(graph.num_src_nodes, dtype=weight.dtype, device=weight.device)
            deg_out.index_add_(0, graph.src.long(), weight)
        inv_in = deg_in.pow(-0.5).masked_fill_(deg_in == 0, 0.0)
        inv_out = deg_out.pow(-0.5).masked_fill_(deg_out == 0, 0.0)
        norm = inv_out[graph.src.long()] * inv_in[graph.dst.long()]
        return norm if weight_e is None else norm * weight_e

    if edge_weight is None:
        return graph.cached("gcn_norm", lambda: build(None))
    return build(edge_weight)
