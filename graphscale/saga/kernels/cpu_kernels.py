"""The numba kernels behind ``cpu.py``: gSpMM (sum/mean, max/min with arg), gSDDMM, edge softmax.

Every kernel runs in parallel over destination rows (``prange`` over row ranges of equal work, from
``row_bounds``), writes each output row from one thread only (no atomics) and never builds an
``[E, F]`` message buffer. Operands are flat rows ``[rows, width]`` read through the ``[H, F]`` plan of
``autograd.py``: element ``(h, f)`` of an operand sits at ``h * hs + f * fs`` (stride 0 on broadcast dims).

Speed: sum/mean and gSDDMM kernels are built once per operator (closures with the operator frozen in,
cached by numba like any kernel), so each inner loop is one vectorisable loop over a contiguous feature
row (unsigned offsets: no wrap-around checks) or a row against one value per (edge, head). They prefetch
the rows of the edge ``AHEAD`` positions on: a random gather otherwise waits on memory (-10 to -25% time
measured at F=128). Accumulation is in the operand dtype (float32 or float64).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

COPY_LHS, COPY_RHS, MUL, ADD, SUB, DIV, DOT = range(7)
AHEAD = 8  # prefetch distance in edges
U = numba.uint64


@intrinsic
def _prefetch(typingctx, array, row, col):
    """``llvm.prefetch`` (read, high locality) of the cache line holding ``array[row, col]``."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, args[i], signature.args[i], types.intp) for i in (1, 2)]
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, index, wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        fn_type = ir.FunctionType(ir.VoidType(), [byte_pointer, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fn_type, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(pointer, byte_pointer), ir.IntType(32)(0), ir.IntType(32)(3),
                          ir.IntType(32)(1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen


@numba.njit(inline="always")
def _prefetch_row(array, row):
    step = max(64 // array.itemsize, 1)
    for col in range(0, array.shape[1], step):
        _prefetch(array, row, col)


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
def row_bounds(indptr, num_chunks):
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


def _make_spmm_sum(op: int):
    """The sum/mean gSpMM kernel with ``op`` frozen in, so LLVM folds the operator and vectorises."""

    @numba.njit(cache=True, nogil=True, parallel=True)
    def spmm_sum(indptr, nbr, eids, lhs, rhs, out, mean, heads, feats, lhs_hs, lhs_fs, rhs_hs, rhs_fs, bounds):
        """``out[r] = sum_j op(lhs[nbr[j]], rhs[eids[j]])`` over ``j`` in row ``r`` (``/ count`` with mean).

        ``eids`` empty means the identity (segments); ``nbr`` is only read when ``lhs`` is.
        """
        has_eids = eids.shape[0] > 0
        width, nf = U(heads * feats), U(feats)
        last = indptr[indptr.shape[0] - 1] - AHEAD
        for chunk in prange(bounds.shape[0] - 1):
            for r in range(bounds[chunk], bounds[chunk + 1]):
                start, end = indptr[r], indptr[r + 1]
                for k in range(width):
                    out[r, k] = 0
                for j in range(start, end):
                    if op == COPY_RHS:
                        if has_eids and j < last:
                            _prefetch_row(rhs, eids[j + AHEAD])
                        e = eids[j] if has_eids else j
                        for k in range(width):
                            out[r, k] += rhs[e, k]
                        continue
                    if j < last:
                        _prefetch_row(lhs, nbr[j + AHEAD])
                        if op != COPY_LHS:
                            _prefetch_row(rhs, eids[j + AHEAD])
                    u = nbr[j]
                    if op == COPY_LHS:
                        for k in range(width):
                            out[r, k] += lhs[u, k]
                        continue
                    e = eids[j]
                    for h in range(heads):
                        lo, ro, base = U(h * lhs_hs), U(h * rhs_hs), U(h * feats)
                        if lhs_fs == 1 and rhs_fs == 1:
                            for f in range(nf):
                                out[r, base + f] += _binop(op, lhs[u, lo + f], rhs[e, ro + f])
                        elif lhs_fs == 1:  # one rhs value per (edge, head): a GCN / GAT weight
                            w = rhs[e, ro]
                            for f in range(nf):
                                out[r, base + f] += _binop(op, lhs[u, lo + f], w)
                        else:
                            v = lhs[u, lo]
                            for f in range(nf):
                                out[r, base + f] += _binop(op, v, rhs[e, ro + f])
                if mean and end - start > 1:
                    scale = 1.0 / (end - start)
                    for k in range(width):
                        out[r, k] *= scale

    return spmm_sum


SPMM_SUM = {op: _make_spmm_sum(op) for op in (COPY_LHS, COPY_RHS, MUL, ADD, SUB, DIV)}


@numba.njit(cache=True, nogil=True, parallel=True)
def spmm_arg(indptr, nbr, eids, lhs, rhs, out, arg, op, is_max, heads, feats, lhs_hs, lhs_fs, rhs_hs, rhs_fs, bounds):
    """Max (or min) of the messages of each row and the edge id it came from (-1 for empty rows; 0 out).

    NaN messages win, like ``torch.scatter_reduce``; ties keep the first edge in row order.
    """
    has_eids = eids.shape[0] > 0
    width, nf, lfs, rfs = U(heads * feats), U(feats), U(lhs_fs), U(rhs_fs)
    last = indptr[indptr.shape[0] - 1] - AHEAD
    init = -np.inf if is_max else np.inf
    for chunk in prange(bounds.shape[0] - 1):
        for r in range(bounds[chunk], bounds[chunk + 1]):
            start, end = indptr[r], indptr[r + 1]
            for k in range(width):
                out[r, k] = 0 if start == end else init
                arg[r, k] = -1
            for j in range(start, end):
                e = eids[j] if has_eids else j
                if op == COPY_LHS:
                    if j < last:
                        _prefetch_row(lhs, nbr[j + AHEAD])
                    u = nbr[j]
                    for k in range(width):
                        m, cur = lhs[u, k], out[r, k]
                        better = (m > cur if is_max else m < cur) or np.isnan(m)
                        out[r, k] = m if better else cur
                        arg[r, k] = e if better else arg[r, k]
                    continue
                u = nbr[j] if op != COPY_RHS else 0
                re = e if op != COPY_LHS else 0
                for h in range(heads):
                    lo, ro, base = U(h * lhs_hs), U(h * rhs_hs), U(h * feats)
                    for f in range(nf):
                        m = _binop(op, lhs[u, lo + f * lfs], rhs[re, ro + f * rfs])
                        cur = out[r, base + f]
                        better = (m > cur if is_max else m < cur) or np.isnan(m)
                        out[r, base + f] = m if better else cur
                        arg[r, base + f] = e if better else arg[r, base + f]


@numba.njit(cache=True, nogil=True)
def arg_scatter(arg, ids, values, out, heads, feats, out_hs, out_fs):
    """``out[ids[arg[r, k]], map(k)] += values[r, k]`` for every ``arg >= 0`` (serial: rows collide)."""
    has_ids = ids.shape[0] > 0
    for r in range(arg.shape[0]):
        for h in range(heads):
            for f in range(feats):
                e = arg[r, h * feats + f]
                if e >= 0:
                    row = ids[e] if has_ids else e
                    out[row, h * out_hs + f * out_fs] += values[r, h * feats + f]


def _make_sddmm(op: int):
    """The gSDDMM kernel with ``op`` frozen in (dot sums with reassociation, so it vectorises too)."""

    @numba.njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
    def sddmm(indptr, nbr, eids, lhs, rhs, out, lhs_target, rhs_target, heads, feats, lhs_hs, lhs_fs, rhs_hs, rhs_fs,
              bounds):
        """``out[e] = op(lhs[target(e)], rhs[target(e)])`` walking rows (target 0 row, 1 col, 2 edge); dot
        sums ``F`` into ``out[e, h]``. Rows read through a column (random) are prefetched."""
        nf = U(feats)
        zero = np.zeros(1, dtype=out.dtype)[0]
        last = indptr[indptr.shape[0] - 1] - AHEAD
        for chunk in prange(bounds.shape[0] - 1):
            for r in range(bounds[chunk], bounds[chunk + 1]):
                for j in range(indptr[r], indptr[r + 1]):
                    if j < last:  # rows read through a column or an edge id are random: prefetch them
                        if lhs_target != 0:
                            _prefetch_row(lhs, nbr[j + AHEAD] if lhs_target == 1 else eids[j + AHEAD])
                        if rhs_target != 0:
                            _prefetch_row(rhs, nbr[j + AHEAD] if rhs_target == 1 else eids[j + AHEAD])
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
                            elif lhs_fs == 1:
                                for f in range(nf):
                                    acc += lhs[li, lo + f]
                                acc *= rhs[ri, ro]
                            else:
                                for f in range(nf):
                                    acc += rhs[ri, ro + f]
                                acc *= lhs[li, lo]
                            out[e, h] = acc
                        elif lhs_fs == 1 and rhs_fs == 1:
                            for f in range(nf):
                                out[e, base + f] = _binop(op, lhs[li, lo + f], rhs[ri, ro + f])
                        elif lhs_fs == 1:
                            w = rhs[ri, ro]
                            for f in range(nf):
                                out[e, base + f] = _binop(op, lhs[li, lo + f], w)
                        else:
                            v = lhs[li, lo]
                            for f in range(nf):
                                out[e, base + f] = _binop(op, v, rhs[ri, ro + f])

    return sddmm


SDDMM = {op: _make_sddmm(op) for op in (MUL, ADD, SUB, DIV, DOT)}


@numba.njit(cache=True, nogil=True, parallel=True)
def softmax(indptr, eids, logits, out, bounds):
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
def softmax_backward(indptr, eids, y, grad, out, bounds):
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
