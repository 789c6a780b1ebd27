"""CPU backend: numba kernels (``cpu_kernels.py``) over compressed rows, CSC forward and CSR backward.

This module turns torch tensors into the kernels' flat numpy rows (no copies for contiguous inputs),
picks the kernel built for the operator, and keeps numba on ``torch.get_num_threads()`` threads
(one thread for small work, where waking the pool costs more than it saves). float32 and float64 run
here; other dtypes go through ``reference.py`` (see ``supports``).
"""

from __future__ import annotations

import sys

import numba
import numpy as np
import torch
from torch import Tensor

from ...graph.sort import counting_sort
from . import autograd
from . import cpu_kernels as K

OP_CODES = {"copy_lhs": K.COPY_LHS, "copy_rhs": K.COPY_RHS, "mul": K.MUL, "add": K.ADD, "sub": K.SUB, "div": K.DIV,
            "dot": K.DOT}
TARGET_CODES = {"row": 0, "col": 1, "edge": 2}


PARALLEL_MIN_WORK = 1 << 21  # below ~2M element operations one thread beats waking the pool (measured)


def num_threads(work: int | None = None) -> int:
    """Make numba use ``torch.get_num_threads()`` threads (capped by numba's pool; one thread for less than
    ``PARALLEL_MIN_WORK`` element operations) and return that number."""
    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if work is not None and work < PARALLEL_MIN_WORK:
        wanted = 1
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)
    return wanted


# -- backend primitives used by autograd.py ---------------------------------------------------------------
def supports(dtype: torch.dtype) -> bool:
    """float32 and float64 run in numba; others (float16, bfloat16) go through reference.py."""
    return dtype in (torch.float32, torch.float64)


def _flat(t: Tensor | None, dtype: torch.dtype) -> np.ndarray:
    if t is None:
        return np.zeros((1, 1), dtype=np.float32 if dtype == torch.float32 else np.float64)
    width = t[0].numel() if t.shape[0] else max(1, int(np.prod(t.shape[1:])))
    return t.detach().contiguous().reshape(t.shape[0], width).numpy()


def _structure(adj, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numpy views of ``adj.compressed()`` and row bounds of equal work for the threads in use."""
    indptr, nbr, eids = adj.compressed()
    empty = np.zeros(0, dtype=np.int64)
    indptr_np = indptr.numpy()
    bounds = K.row_bounds(indptr_np, 4 * num_threads((adj.num_edges + adj.num_rows) * max(width, 1)))
    return (indptr_np, empty if nbr is None else nbr.numpy(), empty if eids is None else eids.numpy(), bounds)


def spmm(adj, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None, plan: autograd.Plan):
    """Raw gSpMM over ``adj``'s rows; ``arg`` holds the winning edge id per element for max / min.

    Shapes:
        lhs: ``[C, lhs_h * lhs_f]`` (any shape with that many elements per row); rhs: ``[E, rhs_h * rhs_f]``;
        return ``(out [R, *plan.out_shape], arg [R, H * F] int32/int64 or None)``.
    """
    dtype = (lhs if lhs is not None else rhs).dtype
    heads, feats = plan.num_heads, plan.num_feats
    indptr, nbr, eids, bounds = _structure(adj, heads * feats)
    out = torch.empty((adj.num_rows, heads * feats), dtype=dtype)
    operands = (_flat(lhs, dtype), _flat(rhs, dtype), out.numpy())
    shape = (heads, feats, *plan.strides(), bounds)
    if reduce in ("sum", "mean"):
        K.SPMM_SUM[OP_CODES[op]](indptr, nbr, eids, *operands, reduce == "mean", *shape)
        arg = None
    else:
        index_dtype = torch.int32 if adj.num_edges < 2**31 - 1 else torch.int64
        arg = torch.empty((adj.num_rows, heads * feats), dtype=index_dtype)
        K.spmm_arg(indptr, nbr, eids, *operands, arg.numpy(), OP_CODES[op], reduce == "max", *shape)
    return out.view(adj.num_rows, *plan.out_shape), arg


def sddmm(adj, op: str, lhs: Tensor, rhs: Tensor, lhs_target: str, rhs_target: str, plan: autograd.Plan) -> Tensor:
    """Raw gSDDMM in edge order.

    Shapes:
        lhs, rhs: ``[R|C|E, *]`` by target; return ``[E, *plan.out_shape]``.
    """
    heads, feats = plan.num_heads, plan.num_feats
    indptr, nbr, eids, bounds = _structure(adj, heads * feats)
    width = heads if op == "dot" else heads * feats
    out = torch.empty((adj.num_edges, width), dtype=lhs.dtype)
    K.SDDMM[OP_CODES[op]](indptr, nbr, eids, _flat(lhs, lhs.dtype), _flat(rhs, lhs.dtype), out.numpy(),
                          TARGET_CODES[lhs_target], TARGET_CODES[rhs_target], heads, feats, *plan.strides(), bounds)
    return out.view(adj.num_edges, *plan.out_shape)


def softmax(adj, logits: Tensor) -> Tensor:
    """Raw edge softmax over the rows of ``adj``.

    Shapes:
        logits: ``[E, *]``; return ``[E, *]``.
    """
    indptr, _, eids, bounds = _structure(adj, logits[0].numel() if logits.shape[0] else 1)
    out = torch.empty_like(logits, memory_format=torch.contiguous_format)
    K.softmax(indptr, eids, _flat(logits, logits.dtype), _flat(out, out.dtype), bounds)
    return out


def softmax_backward(adj, y: Tensor, grad: Tensor) -> Tensor:
    """``y * (grad - sum_row(grad * y))`` in one pass per row.

    Shapes:
        y, grad: ``[E, *]``; return ``[E, *]``.
    """
    indptr, _, eids, bounds = _structure(adj, y[0].numel() if y.shape[0] else 1)
    out = torch.empty_like(y, memory_format=torch.contiguous_format)
    K.softmax_backward(indptr, eids, _flat(y, y.dtype), _flat(grad, y.dtype), _flat(out, out.dtype), bounds)
    return out


def sort_index(index: Tensor, num_segments: int) -> tuple[Tensor, Tensor]:
    """``(ptr [S+1], perm [E])`` grouping ``index`` by value, stable."""
    if index.numel() == 0:
        return torch.zeros(num_segments + 1, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
    ptr, _, perm = counting_sort(index, index, num_segments)
    return ptr, perm


def arg_scatter(arg: Tensor, ids: Tensor | None, values: Tensor, out: Tensor) -> Tensor:
    """Accumulate ``values [R, H, F]`` into ``out [C, h, f]`` (h in {1, H}, f in {1, F}) at row
    ``ids[arg]`` (``arg`` itself when ids is None); entries with ``arg < 0`` are skipped."""
    rows, heads, feats = values.shape
    if rows == 0 or heads * feats == 0:
        return out
    out_h, out_f = out.shape[1], out.shape[2]
    out_hs, out_fs = (out_f if out_h == heads else 0), (1 if out_f == feats else 0)
    K.arg_scatter(arg.reshape(rows, heads * feats).numpy(), np.zeros(0, np.int64) if ids is None else ids.numpy(),
                 values.detach().contiguous().reshape(rows, heads * feats).numpy(),
                 out.reshape(out.shape[0], out_h * out_f).numpy(), heads, feats, out_hs, out_fs)
    return out


# -- entry points used by ops.py / segment.py ---------------------------------------------------------------
_BACKEND = sys.modules[__name__]


def gspmm(graph, op, reduce, lhs, rhs):
    """gSpMM on a Graph; see ``ops.gspmm``."""
    return autograd.gspmm(_BACKEND, graph, op, reduce, lhs, rhs)


def gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
    """gSDDMM on a Graph; see ``ops.gsddmm``."""
    return autograd.gsddmm(_BACKEND, graph, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph, logits):
    """Edge softmax on a Graph; see ``ops.edge_softmax``."""
    return autograd.edge_softmax(_BACKEND, graph, logits)


def segment_reduce(data, ptr, reduce):
    """Segment reduction; see ``segment.segment_reduce``."""
    return autograd.segment_reduce(_BACKEND, data, ptr, reduce)


def scatter_reduce(data, index, num_segments, reduce):
    """Scatter reduction (counting-sorted ids); see ``segment.scatter_reduce``."""
    return autograd.scatter_reduce(_BACKEND, data, index, num_segments, reduce, sort_index)


@numba.njit(cache=True)
def _seed(value):
    np.random.seed(value)


def seed_numba(value: int) -> None:
    """Seed numba's internal generator (used by jitted samplers that do not take a seed)."""
    _seed(value)
