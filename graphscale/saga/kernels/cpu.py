"""CPU kernels in numba over compressed rows (CSC for forward, CSR for backward).

Every kernel runs in parallel over destination rows (``prange`` over row ranges of equal work), writes
each output row from one thread only (no atomics) and never builds an ``[E, F]`` message buffer.
Operands are flat rows ``[rows, lhs_h * lhs_f]`` read through the ``[H, F]`` plan of ``autograd.py``
(stride 0 on broadcast dims). Fast paths (copy, scalar weight per edge and head, equal shapes) have
unit-stride inner loops over ``F`` with unsigned offsets so LLVM vectorises them; other broadcasts take
a strided loop. Accumulation is in the operand dtype (float32 or float64; other dtypes use reference).
numba uses ``torch.get_num_threads()`` threads, so both libraries agree.
"""

from __future__ import annotations

import sys

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from . import autograd

COPY_LHS, COPY_RHS, MUL, ADD, SUB, DIV, DOT = range(7)
OP_CODES = {"copy_lhs": COPY_LHS, "copy_rhs": COPY_RHS, "mul": MUL, "add": ADD, "sub": SUB, "div": DIV, "dot": DOT}
TARGET_CODES = {"row": 0, "col": 1, "edge": 2}
U = numba.uint64


@numba.njit(inline="always")
def _binop(op, a, b):
    if op == MUL:
        return a * b
    if op == ADD:
        return a + b
    if op == SUB:
        return a - b
    if op == DIV:
        return a / b
    if op == COPY_RHS:
        return b
    return a


@numba.njit(cache=True, nogil=True)
def _row_bounds(indptr, num_chunks):
    """Cut rows into ``num_chunks`` runs of about equal cost ``edges + rows`` (binary search)."""
    num_rows = indptr.shape[0] - 1
    total = indptr[num_rows] + num_rows
    bounds = np.empty(num_chunks + 1, dtype=np.int64)
    for c in range(num_chunks + 1):
        target = total * c // num_chunks
        lo, hi = 0, num_rows
        while lo < hi:
            mid = (lo + hi) // 2
            if indptr[mid] + mid < target:
                lo = mid + 1
            else:
                hi = mid
        bounds[c] = lo
    bounds[num_chunks] = num_rows
    return bounds


@numba.njit(cache=True, nogil=True, parallel=True)
def _spmm_sum(indptr, nbr, eids, lhs, rhs, out, op, mean, heads, feats, lhs_hs, lhs_fs, rhs_hs, rhs_fs, bounds):
    """``out[r] = sum_j op(lhs[nbr[j]], rhs[eids[j]])`` over ``j`` in row ``r`` (``/ count`` with mean)."""
    has_nbr, has_eids = nbr.shape[0] > 0, eids.shape[0] > 0
    nf, lfs, rfs = U(feats), U(lhs_fs), U(rhs_fs)
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            for k in range(heads * feats):
                out[r, k] = 0
            for j in range(indptr[r], indptr[r + 1]):
                u = nbr[j] if has_nbr and op != COPY_RHS else 0
                e = (eids[j] if has_eids else j) if op != COPY_LHS else 0
                for h in range(heads):
                    lo, ro, base = U(h * lhs_hs), U(h * rhs_hs), U(h * feats)
                    if op == COPY_LHS and lhs_fs == 1:
                        for f in range(nf):
                            out[r, base + f] += lhs[u, lo + f]
                    elif op == COPY_RHS and rhs_fs == 1:
                        for f in range(nf):
                            out[r, base + f] += rhs[e, ro + f]
                    elif op == MUL and lhs_fs == 1 and rhs_fs == 0:
                        w = rhs[e, ro]
                        for f in range(nf):
                            out[r, base + f] += lhs[u, lo + f] * w
                    elif lhs_fs == 1 and rhs_fs == 1:
                        for f in range(nf):
                            out[r, base + f] += _binop(op, lhs[u, lo + f], rhs[e, ro + f])
                    else:
                        for f in range(nf):
                            out[r, base + f] += _binop(op, lhs[u, lo + f * lfs], rhs[e, ro + f * rfs])
            count = indptr[r + 1] - indptr[r]
            if mean and count > 1:
                scale = 1.0 / count
                for k in range(heads * feats):
                    out[r, k] *= scale


@numba.njit(cache=True, nogil=True, parallel=True)
def _spmm_arg(indptr, nbr, eids, lhs, rhs, out, arg, op, is_max, heads, feats, lhs_hs, lhs_fs, rhs_hs, rhs_fs,
              bounds):
    """Max (or min) of the messages of each row, and the edge id it came from (-1 for empty rows).

    NaN messages win, like ``torch.scatter_reduce``; ties keep the first edge in row order.
    """
    has_nbr, has_eids = nbr.shape[0] > 0, eids.shape[0] > 0
    nf, lfs, rfs = U(feats), U(lhs_fs), U(rhs_fs)
    init = -np.inf if is_max else np.inf
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            empty = indptr[r] == indptr[r + 1]
            for k in range(heads * feats):
                out[r, k] = 0 if empty else init
                arg[r, k] = -1
            for j in range(indptr[r], indptr[r + 1]):
                u = nbr[j] if has_nbr and op != COPY_RHS else 0
                e = eids[j] if has_eids else j
                el = e if op != COPY_LHS else 0
                for h in range(heads):
                    lo, ro, base = U(h * lhs_hs), U(h * rhs_hs), U(h * feats)
                    if op == COPY_LHS and lhs_fs == 1:
                        for f in range(nf):
                            m, cur = lhs[u, lo + f], out[r, base + f]
                            better = (m > cur if is_max else m < cur) or m != m
                            out[r, base + f] = m if better else cur
                            arg[r, base + f] = e if better else arg[r, base + f]
                    else:
                        for f in range(nf):
                            m = _binop(op, lhs[u, lo + f * lfs], rhs[el, ro + f * rfs])
                            cur = out[r, base + f]
                            better = (m > cur if is_max else m < cur) or m != m
                            out[r, base + f] = m if better else cur
                            arg[r, base + f] = e if better else arg[r, base + f]


@numba.njit(cache=True, nogil=True)
def _arg_scatter(arg, ids, values, out, heads, feats, out_hs, out_fs):
    """``out[ids[arg[r, k]], map(k)] += values[r, k]`` for every ``arg >= 0`` (serial: rows collide)."""
    has_ids = ids.shape[0] > 0
    for r in range(arg.shape[0]):
        for h in range(heads):
            for f in range(feats):
                e = arg[r, h * feats + f]
                if e >= 0:
                    row = ids[e] if has_ids else e
                    out[row, h * out_hs + f * out_fs] += values[r, h * feats + f]


@numba.njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
def _sddmm(indptr, nbr, eids, lhs, rhs, out, op, lhs_target, rhs_target, heads, feats, lhs_hs, lhs_fs, rhs_hs,
           rhs_fs, bounds):
    """``out[e] = op(lhs[target(e)], rhs[target(e)])`` walking rows; dot sums ``F`` into ``out[e, h]``."""
    nf, lfs, rfs = U(feats), U(lhs_fs), U(rhs_fs)
    zero = np.zeros(1, dtype=out.dtype)[0]
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            for j in range(indptr[r], indptr[r + 1]):
                c, e = nbr[j], eids[j]
                li = r if lhs_target == 0 else (c if lhs_target == 1 else e)
                ri = r if rhs_target == 0 else (c if rhs_target == 1 else e)
                for h in range(heads):
                    lo, ro, base = U(h * lhs_hs), U(h * rhs_hs), U(h * feats)
                    if op == DOT:
                        acc = zero
                        if lhs_fs == 1 and rhs_fs == 1:
                            for f in range(nf):
                                acc += lhs[li, lo + f] * rhs[ri, ro + f]
                        else:
                            for f in range(nf):
                                acc += lhs[li, lo + f * lfs] * rhs[ri, ro + f * rfs]
                        out[e, h] = acc
                    elif lhs_fs == 1 and rhs_fs == 1:
                        for f in range(nf):
                            out[e, base + f] = _binop(op, lhs[li, lo + f], rhs[ri, ro + f])
                    else:
                        for f in range(nf):
                            out[e, base + f] = _binop(op, lhs[li, lo + f * lfs], rhs[ri, ro + f * rfs])


@numba.njit(cache=True, nogil=True, parallel=True)
def _softmax(indptr, eids, logits, out, bounds):
    """Softmax of ``logits [E, K]`` over the edges of each row, per column ``k``."""
    zero = np.zeros(1, dtype=out.dtype)[0]
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            start, end = indptr[r], indptr[r + 1]
            for k in range(logits.shape[1]):
                top = -np.inf
                for j in range(start, end):
                    top = max(top, logits[eids[j], k])
                total = zero
                for j in range(start, end):
                    value = np.exp(logits[eids[j], k] - top)
                    out[eids[j], k] = value
                    total += value
                inv = 1.0 / total
                for j in range(start, end):
                    out[eids[j], k] *= inv


@numba.njit(cache=True, nogil=True, parallel=True)
def _softmax_backward(indptr, eids, y, grad, out, bounds):
    """``out = y * (grad - sum_row(grad * y))`` per row and column."""
    zero = np.zeros(1, dtype=out.dtype)[0]
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            start, end = indptr[r], indptr[r + 1]
            for k in range(y.shape[1]):
                total = zero
                for j in range(start, end):
                    total += grad[eids[j], k] * y[eids[j], k]
                for j in range(start, end):
                    e = eids[j]
                    out[e, k] = y[e, k] * (grad[e, k] - total)


@numba.njit(cache=True, nogil=True)
def _counting_sort(rows, cols, num_rows):
    counts = np.zeros(num_rows + 1, dtype=np.int64)
    for i in range(rows.shape[0]):
        counts[rows[i] + 1] += 1
    for r in range(num_rows):
        counts[r + 1] += counts[r]
    indptr = counts.copy()
    fill = counts[:-1].copy()
    perm = np.empty(rows.shape[0], dtype=np.int64)
    out_cols = np.empty_like(cols)
    for i in range(rows.shape[0]):
        pos = fill[rows[i]]
        fill[rows[i]] = pos + 1
        perm[pos] = i
        out_cols[pos] = cols[i]
    return indptr, out_cols, perm


PARALLEL_MIN_WORK = 1 << 16  # below this many element operations one thread beats waking the pool


def num_threads(work: int | None = None) -> int:
    """Make numba use ``torch.get_num_threads()`` threads (capped by numba's pool; one thread for less than
    ``PARALLEL_MIN_WORK`` element operations) and return that number."""
    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if work is not None and work < PARALLEL_MIN_WORK:
        wanted = 1
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)
    return wanted


def counting_sort(rows: Tensor, cols: Tensor, num_rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stable O(E) bucket sort of edges by ``rows``: ``(indptr [R+1] int64, cols [E], perm [E] int64)``.

    Serial: a parallel version with per-thread histograms measured no faster on 2 cores.
    """
    indptr, out_cols, perm = _counting_sort(rows.contiguous().numpy(), cols.contiguous().numpy(), num_rows)
    return torch.from_numpy(indptr), torch.from_numpy(out_cols), torch.from_numpy(perm)


def sort_rows(indptr: Tensor, cols: Tensor, perm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Copy of a compressed structure with every row sorted by column (ties in edge order)."""
    cols, perm = cols.clone(), perm.clone()
    _sort_rows(indptr.numpy(), cols.numpy(), perm.numpy(), _row_bounds(indptr.numpy(), 4 * num_threads()))
    return indptr, cols, perm


@numba.njit(cache=True, nogil=True, parallel=True)
def _sort_rows(indptr, cols, perm, bounds):
    """Sort ``(cols, perm)`` inside every row by ``cols`` (stable): insertion sort, mergesort for long rows."""
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            start, end = indptr[r], indptr[r + 1]
            if end - start > 32:
                order = np.argsort(cols[start:end], kind="mergesort")
                cols[start:end] = cols[start:end][order]
                perm[start:end] = perm[start:end][order]
                continue
            for i in range(start + 1, end):
                col, eid = cols[i], perm[i]
                j = i - 1
                while j >= start and cols[j] > col:
                    cols[j + 1], perm[j + 1] = cols[j], perm[j]
                    j -= 1
                cols[j + 1], perm[j + 1] = col, eid


# -- backend primitives used by autograd.py ---------------------------------------------------------------
def supports(dtype: torch.dtype) -> bool:
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
    bounds = _row_bounds(indptr_np, 4 * num_threads((adj.num_edges + adj.num_rows) * max(width, 1)))
    return (indptr_np, empty if nbr is None else nbr.numpy(), empty if eids is None else eids.numpy(), bounds)


def spmm(adj, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None, plan: autograd.Plan):
    """Raw gSpMM: ``(out [R, *plan.out_shape], arg [R, H*F] edge ids or None)``."""
    dtype = (lhs if lhs is not None else rhs).dtype
    heads, feats = plan.num_heads, plan.num_feats
    indptr, nbr, eids, bounds = _structure(adj, heads * feats)
    out = torch.empty((adj.num_rows, heads * feats), dtype=dtype)
    args = (_flat(lhs, dtype), _flat(rhs, dtype), out.numpy())
    codes = (OP_CODES[op],)
    shape = (heads, feats, *plan.strides(), bounds)
    if reduce in ("sum", "mean"):
        _spmm_sum(indptr, nbr, eids, *args, *codes, reduce == "mean", *shape)
        arg = None
    else:
        index_dtype = torch.int32 if adj.num_edges < 2**31 - 1 else torch.int64
        arg = torch.empty((adj.num_rows, heads * feats), dtype=index_dtype)
        _spmm_arg(indptr, nbr, eids, *args, arg.numpy(), *codes, reduce == "max", *shape)
    return out.view(adj.num_rows, *plan.out_shape), arg


def sddmm(adj, op: str, lhs: Tensor, rhs: Tensor, lhs_target: str, rhs_target: str, plan: autograd.Plan) -> Tensor:
    """Raw gSDDMM in edge order: ``[E, *plan.out_shape]``."""
    heads, feats = plan.num_heads, plan.num_feats
    indptr, nbr, eids, bounds = _structure(adj, heads * feats)
    width = heads if op == "dot" else heads * feats
    out = torch.empty((adj.num_edges, width), dtype=lhs.dtype)
    _sddmm(indptr, nbr, eids, _flat(lhs, lhs.dtype), _flat(rhs, lhs.dtype), out.numpy(), OP_CODES[op],
           TARGET_CODES[lhs_target], TARGET_CODES[rhs_target], heads, feats, *plan.strides(), bounds)
    return out.view(adj.num_edges, *plan.out_shape)


def softmax(adj, logits: Tensor) -> Tensor:
    indptr, _, eids, bounds = _structure(adj, logits[0].numel() if logits.shape[0] else 1)
    out = torch.empty_like(logits, memory_format=torch.contiguous_format)
    _softmax(indptr, eids, _flat(logits, logits.dtype), _flat(out, out.dtype), bounds)
    return out


def softmax_backward(adj, y: Tensor, grad: Tensor) -> Tensor:
    indptr, _, eids, bounds = _structure(adj, y[0].numel() if y.shape[0] else 1)
    out = torch.empty_like(y, memory_format=torch.contiguous_format)
    _softmax_backward(indptr, eids, _flat(y, y.dtype), _flat(grad, y.dtype), _flat(out, out.dtype), bounds)
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
    _arg_scatter(arg.reshape(rows, heads * feats).numpy(), np.zeros(0, np.int64) if ids is None else ids.numpy(),
                 values.detach().contiguous().reshape(rows, heads * feats).numpy(),
                 out.reshape(out.shape[0], out_h * out_f).numpy(), heads, feats, out_hs, out_fs)
    return out


# -- entry points used by ops.py / segment.py ---------------------------------------------------------------
_BACKEND = sys.modules[__name__]


def gspmm(graph, op, reduce, lhs, rhs):
    return autograd.gspmm(_BACKEND, graph, op, reduce, lhs, rhs)


def gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
    return autograd.gsddmm(_BACKEND, graph, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph, logits):
    return autograd.edge_softmax(_BACKEND, graph, logits)


def segment_reduce(data, ptr, reduce):
    return autograd.segment_reduce(_BACKEND, data, ptr, reduce)


def scatter_reduce(data, index, num_segments, reduce):
    return autograd.scatter_reduce(_BACKEND, data, index, num_segments, reduce, sort_index)


@numba.njit(cache=True)
def _seed(value):
    np.random.seed(value)


def seed_numba(value: int) -> None:
    """Seed numba's internal generator (used by jitted samplers that do not take a seed)."""
    _seed(value)
