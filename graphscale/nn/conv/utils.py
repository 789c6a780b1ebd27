"""Helpers shared by the conv layers: input splitting, block-aware self-loops, edge-data checks.

Every layer takes ``x`` as one ``[N, F]`` tensor (full graph or ``BatchedGraph``) or as a pair
``(x_src, x_dst)`` for a ``Block``, where by convention ``x_dst = x_src[:block.num_dst_nodes]``
(the destination nodes are the first source nodes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch import Tensor

from ...errors import GraphFormatError, ShapeError
from ...graph import Block, Graph, add_self_loops, check_node_features, gcn_norm

NodeInput = Tensor | tuple[Tensor, Tensor]


def split_features(graph: Graph, x: NodeInput, dim: int | None, where: str) -> tuple[Tensor, Tensor]:
    """Validate ``x`` against ``graph`` and return ``(x_src, x_dst)``.

    A single tensor is allowed for any graph whose destination nodes are the first source nodes
    (a plain graph, or a Block; then ``x_dst = x[:num_dst_nodes]``).

    Shapes:
        x: ``[N_src, F]`` or ``([N_src, F], [N_dst, F])``; returns ``[N_src, F]``, ``[N_dst, F]``.

    Raises:
        ShapeError: Wrong row counts, wrong feature size, or a pair that is not two tensors.
    """
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ShapeError(f"{where}: expected x as a tensor or a pair (x_src, x_dst), got {len(x)} items.")
        x_src, x_dst = x
        check_node_features(graph, x_src, dim, name="x_src", side="src", where=where)
        check_node_features(graph, x_dst, dim, name="x_dst", side="dst", where=where)
        return x_src, x_dst
    check_node_features(graph, x, dim, name="x", side="src", where=where)
    # x itself when every node is a destination: a full slice would cost an [N, F] zeros tensor in backward
    return x, x if x.shape[0] == graph.num_dst_nodes else x[: graph.num_dst_nodes]


def check_edge_features(graph: Graph, edge_attr: Tensor | None, dim: int | None, name: str, where: str) -> None:
    """Validate per-edge data (``[E]`` weights when ``dim`` is None, else ``[E, dim]`` features).

    Raises:
        ShapeError: Missing tensor, wrong row count or feature size.
    """
    if not isinstance(edge_attr, Tensor):
        raise ShapeError(f"{where}: expected {name} to be a torch.Tensor, got {type(edge_attr).__name__}.")
    if edge_attr.dim() == 0 or edge_attr.shape[0] != graph.num_edges:
        raise ShapeError(
            f"{where}: expected {name} with one row per edge ({graph.num_edges} rows), got shape "
            f"{tuple(edge_attr.shape)}. For a Block pass the parent's edge data at block.edge_ids."
        )
    if dim is None and edge_attr.dim() != 1:
        raise ShapeError(f"{where}: expected {name} of shape [E], got {tuple(edge_attr.shape)}. Squeeze it.")
    if dim is not None and (edge_attr.dim() != 2 or edge_attr.shape[1] != dim):
        raise ShapeError(
            f"{where}: expected {name} of shape [E, {dim}], got {tuple(edge_attr.shape)}. Check the layer's edge_dim."
        )


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


def require_square(graph: Graph, where: str) -> None:
    """K-hop propagation iterates ``h <- A h``: it needs one node set (``N_src == N_dst``).

    Raises:
        GraphFormatError: For a Block with more source than destination nodes.
    """
    if graph.num_src_nodes != graph.num_dst_nodes:
        raise GraphFormatError(
            f"{where}: expected a graph with one node set for K-step propagation, got a Block with "
            f"{graph.num_src_nodes} source and {graph.num_dst_nodes} destination nodes. Run this layer on the "
            "full graph or a subgraph (e.g. a cluster), or use a one-hop layer per sampled block."
        )


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


__all__ = [
    "NodeInput",
    "check_edge_features",
    "require_square",
    "split_features",
    "symmetric_norm",
    "with_self_loops",
    "without_self_loops",
]


class ConstantAggregate:
    """The aggregation of an input that does not change between calls, computed once.

    In full-batch training the first layer aggregates the raw features ``x`` (no gradient, no input
    dropout) over the same graph every epoch; when a layer aggregates before projecting (``F_in <
    F_out``) that aggregation is a constant. The entry is keyed on the graph and the ``x`` tensor objects
    (weak references, so it never keeps them alive) and on ``x``'s version counter (an in-place change of
    ``x`` recomputes); it is dropped as soon as ``x`` is freed, so a fresh ``x`` per call (input dropout)
    costs no memory. Inputs that require grad are never cached.
    """

    def __init__(self) -> None:
        self._entry: tuple[weakref.ref, weakref.ref, int, Tensor] | None = None

    def __call__(self, graph: Graph, x: Tensor, compute: Callable[[], Tensor]) -> Tensor:
        if x.requires_grad:
            return compute()
        entry = self._entry
        if entry is not None and entry[0]() is graph and entry[1]() is x and entry[2] == x._version:
            return entry[3]
        self._entry = None
        value = compute()
        if not value.requires_grad:
            self._entry = (weakref.ref(graph), weakref.ref(x, self._drop), x._version, value)
        return value

    def _drop(self, _ref: weakref.ref) -> None:
        self._entry = None

    def clear(self) -> None:
        self._entry = None
