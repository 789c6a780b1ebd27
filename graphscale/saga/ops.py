"""Sparse operators on a ``Graph``: gSpMM, gSDDMM, edge softmax. The only door to the kernels.

Inputs are validated here once (shapes, dtypes, devices); then the call is dispatched by device to
``kernels/cpu.py`` (numba), ``kernels/cuda.py`` (torch ops / Triton) or ``kernels/reference.py``
(forced with ``GRAPHSCALE_KERNELS=reference``). Every operator is differentiable in all its inputs.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from ..errors import ShapeError
from ..graph import Graph
from .kernels import reference

SPMM_OPS = reference.SPMM_OPS
SDDMM_OPS = reference.SDDMM_OPS
REDUCES = reference.REDUCES


def backend_name(device: torch.device) -> str:
    """Kernel family used for tensors on ``device``: "cpu", "cuda" or "reference"."""
    forced = os.environ.get("GRAPHSCALE_KERNELS", "").strip().lower()
    if forced in ("reference", "cpu", "cuda"):
        return forced
    return "cuda" if device.type == "cuda" else ("cpu" if device.type == "cpu" else "reference")


def _backend(device: torch.device):
    name = backend_name(device)
    if name == "cpu":
        from .kernels import cpu

        return cpu
    if name == "cuda":
        from .kernels import cuda

        return cuda
    return None


def _check_rows(where: str, name: str, value: Tensor | None, rows: int, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, Tensor):
        raise ShapeError(f"{where}: expected {name} to be a Tensor, got {type(value).__name__}.")
    if value.dim() == 0 or value.shape[0] != rows:
        raise ShapeError(
            f"{where}: expected {name} with one row per {what} ({rows} rows), got shape {tuple(value.shape)}."
        )
    if not value.is_floating_point():
        raise ShapeError(f"{where}: expected {name} to be a floating tensor, got dtype {value.dtype}.")


def _feature_shape(where: str, lhs: Tensor | None, rhs: Tensor | None, op: str) -> torch.Size:
    shapes = [t.shape[1:] for t in (lhs, rhs) if t is not None]
    try:
        out = torch.broadcast_shapes(*shapes)
    except RuntimeError as err:
        raise ShapeError(
            f"{where}: feature shapes {tuple(shapes[0])} and {tuple(shapes[-1])} do not broadcast for op {op!r}. "
            "Give edge weights shape [E], [E, 1], [E, H, 1] or the node feature shape."
        ) from err
    if op == "dot":
        out = torch.Size((*out[:-1], 1)) if len(out) else torch.Size((1,))
    return out


def _same_device(where: str, graph: Graph, *tensors: Tensor | None) -> None:
    for t in tensors:
        if t is not None and t.device != graph.device:
            raise ShapeError(
                f"{where}: expected tensors on the graph's device {graph.device}, got {t.device}. "
                "Move them with graph.to(device) / x.to(device)."
            )


def gspmm(graph: Graph, op: str, reduce: str, lhs: Tensor | None = None, rhs: Tensor | None = None) -> Tensor:
    """Generalised sparse-dense matmul: ``out[v] = reduce_{e=(u,v)} op(lhs[u], rhs[e])``.

    Args:
        graph: Graph or Block (``N_src`` source, ``N_dst`` destination nodes).
        op: copy_lhs, copy_rhs, mul, add, sub or div.
        reduce: sum, mean, max or min (nodes without in-edges get 0).
        lhs: Source-node operand (None for copy_rhs).
        rhs: Edge operand in edge order (None for copy_lhs).

    Shapes:
        lhs: ``[N_src, *]``; rhs: ``[E, *]``; return ``[N_dst, *broadcast(lhs, rhs)]``.
    """
    where = f"gspmm({op}, {reduce})"
    if op not in SPMM_OPS:
        raise ShapeError(f"{where}: expected op in {SPMM_OPS}, got {op!r}.")
    if reduce not in REDUCES:
        raise ShapeError(f"{where}: expected reduce in {REDUCES}, got {reduce!r}.")
    if (op != "copy_rhs" and lhs is None) or (op != "copy_lhs" and rhs is None):
        raise ShapeError(f"{where}: operator {op!r} needs " + ("lhs" if lhs is None else "rhs") + ", got None.")
    lhs = None if op == "copy_rhs" else lhs
    rhs = None if op == "copy_lhs" else rhs
    _check_rows(where, "lhs (source-node features)", lhs, graph.num_src_nodes, "source node")
    _check_rows(where, "rhs (edge features)", rhs, graph.num_edges, "edge")
    _same_device(where, graph, lhs, rhs)
    if lhs is not None and rhs is not None and lhs.dtype != rhs.dtype:
        rhs = rhs.to(lhs.dtype)
    _feature_shape(where, lhs, rhs, op)
    backend = _backend(graph.device)
    if backend is None:
        return reference.gspmm(graph.src, graph.dst, graph.num_dst_nodes, op, reduce, lhs, rhs)
    return backend.gspmm(graph, op, reduce, lhs, rhs)


def gsddmm(graph: Graph, op: str, lhs: Tensor | None, rhs: Tensor | None,
           lhs_target: str = "src", rhs_target: str = "dst") -> Tensor:
    """Generalised sampled dense-dense matmul: ``out[e] = op(lhs[t(e)], rhs[t(e)])`` per edge.

    Args:
        op: add, sub, mul, div, dot, copy_lhs or copy_rhs.
        lhs_target, rhs_target: "src", "dst" or "edge": which endpoint's row each operand reads.

    Shapes:
        lhs, rhs: ``[N_src|N_dst|E, *]``; return ``[E, *broadcast]`` (last dim 1 for dot).
    """
    where = f"gsddmm({op})"
    if op not in SDDMM_OPS:
        raise ShapeError(f"{where}: expected op in {SDDMM_OPS}, got {op!r}.")
    rows = {"src": (graph.num_src_nodes, "source node"), "dst": (graph.num_dst_nodes, "destination node"),
            "edge": (graph.num_edges, "edge")}
    for target in (lhs_target, rhs_target):
        if target not in rows:
            raise ShapeError(f"{where}: expected target in ('src', 'dst', 'edge'), got {target!r}.")
    lhs = None if op == "copy_rhs" else lhs
    rhs = None if op == "copy_lhs" else rhs
    if (op != "copy_rhs" and lhs is None) or (op != "copy_lhs" and rhs is None):
        raise ShapeError(f"{where}: operator {op!r} needs both operands, got None.")
    _check_rows(where, "lhs", lhs, *rows[lhs_target])
    _check_rows(where, "rhs", rhs, *rows[rhs_target])
    _same_device(where, graph, lhs, rhs)
    if lhs is not None and rhs is not None and lhs.dtype != rhs.dtype:
        rhs = rhs.to(lhs.dtype)
    _feature_shape(where, lhs, rhs, op)
    backend = _backend(graph.device)
    if backend is None:
        return reference.gsddmm(graph.src, graph.dst, op, lhs, rhs, lhs_target, rhs_target)
    return backend.gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph: Graph, logits: Tensor) -> Tensor:
    """Softmax of edge scores over the incoming edges of each destination node.

    Shapes:
        logits: ``[E, *]`` (e.g. ``[E, H]`` or ``[E, H, 1]`` for H heads); return same shape.
    """
    _check_rows("edge_softmax", "logits", logits, graph.num_edges, "edge")
    _same_device("edge_softmax", graph, logits)
    backend = _backend(graph.device)
    if backend is None:
        return reference.edge_softmax(graph.dst, graph.num_dst_nodes, logits)
    return backend.edge_softmax(graph, logits)
