"""Integer message passing: the sum of int8 source rows into int32 destination rows (Degree-Quant inference).

``int_aggregate(graph, q, zero_point)`` is the integer counterpart of ``saga(graph, src=x,
apply_edge=fn.copy_src, gather="sum")`` for quantized features ``x = scale * (q - zero_point)``: it returns
``sum_{u -> v} (q_u - zero_point)`` exactly in int32, so ``scale * result`` is the float aggregation of the
dequantized rows. On the CPU a numba kernel over the CSC rows (parallel over destinations, int32 accumulators);
elsewhere (or with ``GRAPHSCALE_KERNELS=reference``) ``index_add_`` in int32, the reference it is tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError
from ..graph import Graph
from .ops import backend_name

INT8_MAX_ROWS_PER_SUM = 2**31 // 256  # int32 cannot overflow below this many int8 terms per destination


def _check(graph: Graph, q: Tensor, zero_point: int) -> None:
    """Raise ShapeError unless ``q`` is int8 ``[N_src, F]``, the zero point fits int8 and int32 cannot overflow."""
    where = "int_aggregate"
    if not isinstance(q, Tensor) or q.dtype != torch.int8 or q.dim() != 2:
        got = f"{q.dtype} of shape {tuple(q.shape)}" if isinstance(q, Tensor) else type(q).__name__
        raise ShapeError(f"{where}: expected int8 features of shape [N_src, F], got {got}. Quantize them first.")
    if q.shape[0] != graph.num_src_nodes:
        raise ShapeError(f"{where}: expected one row per source node ({graph.num_src_nodes} rows), got "
                         f"{q.shape[0]}.")
    if not -128 <= int(zero_point) <= 127:
        raise ShapeError(f"{where}: expected an int8 zero point in [-128, 127], got {zero_point}.")
    if graph.num_edges and int(graph.in_degrees().max()) >= INT8_MAX_ROWS_PER_SUM:
        raise ShapeError(f"{where}: expected fewer than {INT8_MAX_ROWS_PER_SUM} in-edges per node (int32 "
                         f"accumulation), got {int(graph.in_degrees().max())}. Aggregate in float.")


def _structure(graph: Graph, width: int) -> tuple:
    """Numpy CSC ``(indptr, src)`` of ``graph`` and row chunks of equal work for the threads in use."""
    from .kernels.cpu import num_threads
    from .kernels.cpu_kernels import row_bounds

    indptr, src, _ = graph.csc()
    threads = num_threads((graph.num_edges + graph.num_dst_nodes) * max(width, 1))
    return indptr.numpy(), src.numpy(), row_bounds(indptr.numpy(), 4 * threads)


def int_aggregate_reference(graph: Graph, q: Tensor, zero_point: int = 0) -> Tensor:
    """The torch oracle of :func:`int_aggregate`: ``index_add_`` of int32 rows. Returns ``[N_dst, F]`` int32."""
    out = torch.zeros((graph.num_dst_nodes, q.shape[1]), dtype=torch.int32, device=q.device)
    out.index_add_(0, graph.dst.long(), q[graph.src.long()].to(torch.int32) - int(zero_point))
    return out


def int_aggregate_requant(graph: Graph, q: Tensor, zero_point: int, row_scale: Tensor, out_scale: float,
                          out_zero: int, bits: int = 8) -> Tensor:
    """:func:`int_aggregate` requantized in the same pass: ``clamp(rint(acc[v] * row_scale[v] / out_scale) +
    out_zero)`` to signed ``bits``-bit values in int8 (the int32 sums never leave the kernel on the CPU).

    Shapes:
        q: ``[N_src, F]`` int8; row_scale: ``[N_dst]`` float32; returns ``[N_dst, F]`` int8.
    """
    _check(graph, q, zero_point)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    scale = row_scale.to(torch.float32).contiguous()
    if backend_name(q.device) != "cpu" or q.shape[1] == 0:
        value = int_aggregate_reference(graph, q, zero_point).to(torch.float32) * scale[:, None]
        return torch.clamp(torch.round(value / out_scale) + out_zero, qmin, qmax).to(torch.int8)
    from .kernels.int_cpu import int8_sum_rows_requant

    indptr, src, bounds = _structure(graph, q.shape[1])
    out = torch.empty((graph.num_dst_nodes, q.shape[1]), dtype=torch.int8)
    int8_sum_rows_requant(indptr, src, q.contiguous().numpy(), int(zero_point), scale.numpy(), float(out_scale),
                          float(out_zero), float(qmin), float(qmax), bounds, out.numpy())
    return out


def int_aggregate(graph: Graph, q: Tensor, zero_point: int = 0) -> Tensor:
    """``out[v] = sum_{u -> v} (q[u] - zero_point)`` with int32 accumulation (exact).

    Args:
        graph: Graph or Block (self-loops, if wanted, already added).
        q: ``[N_src, F]`` int8 quantized source features.
        zero_point: The zero point of ``q`` (subtracted once per in-edge).

    Returns:
        ``[N_dst, F]`` int32.

    Raises:
        ShapeError: ``q`` not int8 ``[N_src, F]``, a zero point outside int8, a node with so many in-edges
            that int32 could overflow.
    """
    _check(graph, q, zero_point)
    if backend_name(q.device) != "cpu" or q.shape[1] == 0:
        return int_aggregate_reference(graph, q, zero_point)
    from .kernels.int_cpu import int8_sum_rows

    indptr, src, bounds = _structure(graph, q.shape[1])
    out = torch.empty((graph.num_dst_nodes, q.shape[1]), dtype=torch.int32)
    int8_sum_rows(indptr, src, q.contiguous().numpy(), int(zero_point), bounds, out.numpy())
    return out


__all__ = ["int_aggregate", "int_aggregate_reference", "int_aggregate_requant"]
