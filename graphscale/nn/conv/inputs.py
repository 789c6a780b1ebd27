"""What every conv layer does with its inputs: split ``x``, check edge data, cache a constant aggregation.

Every layer takes ``x`` as one ``[N, F]`` tensor (full graph or ``BatchedGraph``) or as a pair
``(x_src, x_dst)`` for a ``Block``, where by convention ``x_dst = x_src[:block.num_dst_nodes]``
(the destination nodes are the first source nodes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from torch import Tensor

from ...errors import GraphFormatError, ShapeError
from ...graph import Graph, check_graph_argument, check_node_features

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
    check_graph_argument(graph, x, where)
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


def require_square(graph: Graph, where: str, x: object = None) -> None:
    """K-hop propagation iterates ``h <- A h``: it needs one node set (``N_src == N_dst``).

    Raises:
        GraphFormatError: For a Block with more source than destination nodes.
    """
    check_graph_argument(graph, x, where)
    if graph.num_src_nodes != graph.num_dst_nodes:
        raise GraphFormatError(
            f"{where}: expected a graph with one node set for K-step propagation, got a Block with "
            f"{graph.num_src_nodes} source and {graph.num_dst_nodes} destination nodes. Run this layer on the "
            "full graph or a subgraph (e.g. a cluster), or use a one-hop layer per sampled block."
        )


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


__all__ = ["ConstantAggregate", "NodeInput", "check_edge_features", "require_square", "split_features"]
