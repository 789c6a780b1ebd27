"""Checks of what a layer or a function is given against a graph: the graph argument itself (PyG habits named),
node features row counts and widths."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import GraphFormatError, ShapeError
from .graph import Graph


def check_graph_argument(graph: Any, x: Any, where: str) -> None:
    """A layer's first argument must be the graph (DGL's order ``conv(graph, x)``); name the right call when a
    PyG habit (``conv(x, edge_index)`` or an edge_index tensor as the graph) put something else there.

    Raises:
        GraphFormatError: ``graph`` is not a :class:`Graph` (or ``Block`` / ``BatchedGraph``).
    """
    if isinstance(graph, Graph):
        return
    fix = "Fix: conv(Graph(edge_index, num_nodes=x.shape[0]), x)."
    if isinstance(graph, Tensor) and isinstance(x, Tensor) and graph.dtype.is_floating_point and x.dim() == 2 \
            and x.shape[0] == 2 and not x.dtype.is_floating_point:
        raise GraphFormatError(f"{where}: expected (graph, x), graphscale's (and DGL's) order, got (x, edge_index) "
                               f"in PyG's order: x {tuple(graph.shape)}, edge_index {tuple(x.shape)}. {fix}")
    if isinstance(graph, Tensor) and graph.dim() == 2 and graph.shape[0] == 2 and not graph.dtype.is_floating_point:
        raise GraphFormatError(f"{where}: expected a Graph or Block as the first argument, got an edge_index tensor "
                               f"of shape {tuple(graph.shape)}. {fix}")
    got = f"a tensor of shape {tuple(graph.shape)}" if isinstance(graph, Tensor) else type(graph).__name__
    raise GraphFormatError(f"{where}: expected a Graph or Block as the first argument (conv(graph, x)), got {got}. "
                           "Build one with Graph(src, dst, num_nodes) or Graph(edge_index, num_nodes=N).")


def check_node_features(
    graph: Graph, x: Tensor, dim: int | None = None, name: str = "x", *, side: str = "src",
    check_finite: bool = False, where: str = "check_node_features",
) -> None:
    """Validate a node-feature tensor against ``graph``.

    Shapes:
        x: ``[N, F]`` (or ``[N, *]``) with ``N`` = nodes of ``side`` ("src" or "dst").

    Raises:
        ShapeError: Wrong row count, wrong feature size, or NaN/inf when ``check_finite``.
    """
    if not isinstance(x, Tensor):
        raise ShapeError(f"{where}: expected {name} to be a torch.Tensor, got {type(x).__name__}.")
    expected_rows = graph.num_src_nodes if side == "src" else graph.num_dst_nodes
    if x.dim() < 1 or x.shape[0] != expected_rows:
        raise ShapeError(
            f"{where}: expected {name} with one row per node ({expected_rows} rows), got shape "
            f"{tuple(x.shape)}. Features travel beside the graph: pass x[N, F] for this graph."
        )
    if dim is not None and (x.dim() != 2 or x.shape[1] != dim):
        raise ShapeError(
            f"{where}: expected {name} of shape [N, {dim}], got {tuple(x.shape)}. "
            + ("Reshape with x.unsqueeze(-1) if each node has one feature." if x.dim() == 1 else
               "Check the layer's in_dim.")
        )
    if check_finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).nonzero()[0, 0])
        raise ShapeError(f"{where}: {name} holds NaN or inf at row {bad}. Clean or impute the features.")


__all__ = ["check_graph_argument", "check_node_features"]
