"""Differentiable sparse ops on top of a kernel backend (``cpu.py`` or ``cuda.py``).

The backward of every op is itself a sparse op (DGL's rule): the gradient of a gSpMM over the CSC
(rows = destinations) w.r.t. the node operand is a gSpMM over the CSR (the transposed ``CompressedAdjacency``),
w.r.t. the edge operand a gSDDMM; max/min route the gradient to the arg element; mean divides by the
in-degree. Common paths (copy_lhs / mul with one weight per edge or per head, sum / mean) never build an
``[E, F]`` tensor, forward or backward.

A backend is a module with four raw (non-differentiable) primitives over an ``CompressedAdjacency``:
``spmm(adj, op, reduce, lhs, rhs, plan) -> (out, arg)``, ``sddmm(adj, op, lhs, rhs, lhs_target,
rhs_target, plan) -> out``, ``softmax(adj, logits)`` and ``softmax_backward(adj, y, grad)``, plus
``supports(dtype) -> bool``. Targets are "row", "col" or "edge" of the adjacency.

Broadcasting: operands are first aligned (``reference.align``) and then viewed as ``[rows, H, F]`` by
``plan``: each operand's leading feature dims must be all 1 or equal to the output's (``H``) and its
trailing ones likewise (``F``). Other (exotic) patterns, and dtypes a backend does not support, run
through ``reference.py`` (materialised ``[E, *]`` messages, torch autograd).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...graph import Graph
from . import reference
from .structure import CompressedAdjacency, Plan, SegmentAdjacency, make_plan  # noqa: F401 (Plan: the backends' type)


def _shape(t: Tensor | None) -> tuple | None:
    return None if t is None else tuple(t.shape[1:])


def _gather(adj, value: Tensor, target: str) -> Tensor:
    if target == "edge":
        return value
    ids = adj.row_ids() if target == "row" else adj.col_ids()
    return value.index_select(0, ids)


def _per_row(x: Tensor, rows: Tensor) -> Tensor:
    return rows.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def spmm(backend, adj, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None) -> Tensor:
    """``out[r] = reduce_{e: row(e)=r} op(lhs[col(e)], rhs[e])`` (rows without edges give 0).

    Shapes:
        lhs: ``[C, *]`` column-node operand (None for copy_rhs); rhs: ``[E, *]`` edge operand in edge order
        (None for copy_lhs); return ``[R, *broadcast]``.
    """
    if lhs is not None and rhs is not None:
        lhs, rhs = reference.align(lhs, rhs.to(lhs.dtype))
    plan = make_plan(_shape(lhs), _shape(rhs))
    dtype = (lhs if lhs is not None else rhs).dtype
    if plan is None or backend is None or not backend.supports(dtype):
        cols = adj.col_ids() if lhs is not None else adj.row_ids()
        return reference.gspmm(cols, adj.row_ids(), adj.num_rows, op, reduce, lhs, rhs)
    return GSpMM.apply(backend, adj, op, reduce, plan, lhs, rhs)


def sddmm(backend, adj, op: str, lhs: Tensor | None, rhs: Tensor | None, lhs_target: str,
          rhs_target: str) -> Tensor:
    """``out[e] = op(lhs[target(e)], rhs[target(e)])`` in edge order; targets "row", "col", "edge".

    Shapes:
        lhs, rhs: ``[R|C|E, *]`` by target; return ``[E, *broadcast]`` (last dim 1 for dot).
    """
    if lhs is not None and rhs is not None:
        lhs, rhs = reference.align(lhs, rhs.to(lhs.dtype))
    plan = make_plan(_shape(lhs), _shape(rhs), dot=op == "dot")
    dtype = (lhs if lhs is not None else rhs).dtype
    if plan is None or backend is None or not backend.supports(dtype):
        left = _gather(adj, lhs, lhs_target) if lhs is not None else None
        right = _gather(adj, rhs, rhs_target) if rhs is not None else None
        return reference.binary(op, left, right)
    return GSDDMM.apply(backend, adj, op, plan, lhs_target, rhs_target, lhs, rhs)


def softmax(backend, adj, logits: Tensor) -> Tensor:
    """Softmax of edge scores over the edges of every row.

    Shapes:
        logits: ``[E, *]``; return ``[E, *]``.
    """
    if backend is None or not backend.supports(logits.dtype):
        return reference.edge_softmax(adj.row_ids(), adj.num_rows, logits)
    return EdgeSoftmax.apply(backend, adj, logits)


def _sum_to(x: Tensor, shape: torch.Size) -> Tensor:
    """Reduce broadcast dims of ``x`` to ``shape`` (expanding first where ``x`` itself was broadcast, as a
    dot's gradient is along its summed dim)."""
    if x.shape == shape:
        return x
    return x.expand(torch.broadcast_shapes(x.shape, shape)).sum_to_size(shape)


class GSpMM(torch.autograd.Function):
    """gSpMM with its sparse backward (inputs aligned and planned by ``spmm``)."""

    @staticmethod
    def forward(ctx, backend, adj, op, reduce, plan, lhs, rhs):
        out, arg = backend.spmm(adj, op, reduce, lhs, rhs, plan)
        ctx.backend, ctx.adj, ctx.op, ctx.reduce, ctx.plan, ctx.arg = backend, adj, op, reduce, plan, arg
        ctx.save_for_backward(lhs, rhs)
        return out

    @staticmethod
    def backward(ctx, grad):
        lhs, rhs = ctx.saved_tensors
        need_lhs, need_rhs = ctx.needs_input_grad[5], ctx.needs_input_grad[6]
        if ctx.reduce in ("max", "min"):
            grads = _arg_backward(ctx, grad, lhs, rhs, need_lhs, need_rhs)
        else:
            grads = _sum_backward(ctx, grad.contiguous(), lhs, rhs, need_lhs, need_rhs)
        return (None,) * 5 + grads


def _sum_backward(ctx, grad: Tensor, lhs, rhs, need_lhs: bool, need_rhs: bool):
    backend, adj, op = ctx.backend, ctx.adj, ctx.op
    if ctx.reduce == "mean":
        grad = grad / _per_row(grad, adj.degrees().clamp(min=1))
    grad_lhs = grad_rhs = None
    if need_lhs:
        if op in ("mul", "div"):
            grad_lhs = spmm(backend, adj.t(), op, "sum", grad, rhs)
        else:  # copy_lhs, add, sub: reduce broadcast dims on nodes before moving along edges
            grad_lhs = spmm(backend, adj.t(), "copy_lhs", "sum", _sum_to(grad, (grad.shape[0], *lhs.shape[1:])), None)
        grad_lhs = _sum_to(grad_lhs, lhs.shape)
    if need_rhs:
        if op in ("mul", "div"):
            # d(l*r)/dr = l; d(l/r)/dr = -l/r^2. A weight broadcast over the last dim only needs a dot.
            by_dot = rhs.shape[-1] == 1 and grad.shape[-1] > 1
            part = sddmm(backend, adj, "dot" if by_dot else "mul", grad, lhs, "row", "col")
            grad_rhs = _sum_to(part, rhs.shape)
            if op == "div":
                grad_rhs = -grad_rhs / (rhs * rhs)
        else:  # copy_rhs, add, sub
            summed = _sum_to(grad, (grad.shape[0], *rhs.shape[1:]))
            grad_rhs = summed.index_select(0, adj.row_ids())
            if op == "sub":
                grad_rhs = -grad_rhs
    return grad_lhs, grad_rhs


def _arg_backward(ctx, grad: Tensor, lhs, rhs, need_lhs: bool, need_rhs: bool):
    """Route each output element's gradient to the operand elements of its arg edge (no E x F)."""
    plan, op, adj, num_rows = ctx.plan, ctx.op, ctx.adj, ctx.adj.num_rows
    if adj.num_edges == 0:
        return (lhs.new_zeros(lhs.shape) if need_lhs else None, rhs.new_zeros(rhs.shape) if need_rhs else None)
    heads, feats = plan.num_heads, plan.num_feats
    arg = ctx.arg.view(num_rows, heads, feats)
    grad = grad.reshape(num_rows, heads, feats)
    fused = not torch.is_grad_enabled() and hasattr(ctx.backend, "arg_scatter")
    if not fused:  # index_put_ needs valid indices: empty rows point at row 0 with a zero gradient
        grad = grad * (arg >= 0)
    edge = arg.clamp(min=0).long() if not fused or op in ("mul", "div") else None

    def index(ids: Tensor | None, h: int, f: int) -> tuple:
        hh = torch.arange(heads if h > 1 else 1, device=grad.device).view(1, -1, 1)
        ff = torch.arange(feats if f > 1 else 1, device=grad.device).view(1, 1, -1)
        return (edge if ids is None else ids.long()[edge], hh, ff)

    lhs_idx = rhs_idx = lhs_val = rhs_val = None
    if lhs is not None and edge is not None:
        lhs_idx = index(adj.col_ids(), plan.lhs_h, plan.lhs_f)
        lhs_val = lhs.reshape(lhs.shape[0], plan.lhs_h, plan.lhs_f)[lhs_idx]
    if rhs is not None and edge is not None:
        rhs_idx = index(None, plan.rhs_h, plan.rhs_f)
        rhs_val = rhs.reshape(rhs.shape[0], plan.rhs_h, plan.rhs_f)[rhs_idx]
    grad_lhs = grad_rhs = None
    if need_lhs:
        part = grad * rhs_val if op == "mul" else (grad / rhs_val if op == "div" else grad)
        out = lhs.new_zeros(lhs.shape[0], plan.lhs_h, plan.lhs_f)
        grad_lhs = _scatter(ctx.backend, fused, arg, adj.col_ids(), lhs_idx, part, out).view(lhs.shape)
    if need_rhs:
        part = {"mul": lambda: grad * lhs_val, "div": lambda: -grad * lhs_val / (rhs_val * rhs_val),
                "sub": lambda: -grad}.get(op, lambda: grad)()
        out = rhs.new_zeros(rhs.shape[0], plan.rhs_h, plan.rhs_f)
        grad_rhs = _scatter(ctx.backend, fused, arg, None, rhs_idx, part, out).view(rhs.shape)
    return grad_lhs, grad_rhs


def _scatter(backend, fused: bool, arg: Tensor, ids: Tensor | None, index: tuple | None, values: Tensor,
             out: Tensor) -> Tensor:
    """``out[ids[arg]] += values``: the backend's serial kernel, or (differentiable) ``index_put_``."""
    if fused:
        return backend.arg_scatter(arg, ids, values, out)
    return out.index_put_(index, values, accumulate=True)


class GSDDMM(torch.autograd.Function):
    """gSDDMM with a backward made of gSpMMs grouped by each operand's target."""

    @staticmethod
    def forward(ctx, backend, adj, op, plan, lhs_target, rhs_target, lhs, rhs):
        if op == "copy_lhs":
            out = _gather(adj, lhs, lhs_target)
        elif op == "copy_rhs":
            out = _gather(adj, rhs, rhs_target)
        else:
            out = backend.sddmm(adj, op, lhs, rhs, lhs_target, rhs_target, plan)
        ctx.backend, ctx.adj, ctx.op, ctx.targets = backend, adj, op, (lhs_target, rhs_target)
        ctx.save_for_backward(lhs, rhs)
        return out

    @staticmethod
    def backward(ctx, grad):
        lhs, rhs = ctx.saved_tensors
        backend, adj, op = ctx.backend, ctx.adj, ctx.op
        lhs_target, rhs_target = ctx.targets
        grad = grad.contiguous()
        if op == "dot" and lhs.dim() == 1:  # 1-D operands: the dot is a product with a trailing dim of 1
            grad = grad.view(-1)
        grad_lhs = grad_rhs = None
        if ctx.needs_input_grad[6]:
            if op in ("mul", "dot", "div"):
                other = rhs if op != "div" else 1.0 / rhs
                grad_lhs = _group_sum(backend, adj, lhs_target, grad, other, rhs_target)
            else:
                grad_lhs = _group_sum(backend, adj, lhs_target, _sum_to(grad, (grad.shape[0], *lhs.shape[1:])))
            grad_lhs = _sum_to(grad_lhs, lhs.shape)
        if ctx.needs_input_grad[7]:
            if op in ("mul", "dot", "div"):
                grad_rhs = _sum_to(_group_sum(backend, adj, rhs_target, grad, lhs, lhs_target), rhs.shape)
                if op == "div":
                    grad_rhs = -grad_rhs / (rhs * rhs)
            else:
                grad_rhs = _group_sum(backend, adj, rhs_target, _sum_to(grad, (grad.shape[0], *rhs.shape[1:])))
                grad_rhs = -_sum_to(grad_rhs, rhs.shape) if op == "sub" else _sum_to(grad_rhs, rhs.shape)
        return (None,) * 6 + (grad_lhs, grad_rhs)


def _group_sum(backend, adj, target: str, grad: Tensor, other: Tensor | None = None,
               other_target: str | None = None) -> Tensor:
    """``sum_{e: target(e)=x} grad[e] * other[other_target(e)]`` for every ``x`` (per edge for "edge")."""
    if target == "edge":
        return grad if other is None else grad * _gather(adj, other, other_target)
    side = adj if target == "row" else adj.t()
    opposite = "col" if target == "row" else "row"
    if other is None:
        return spmm(backend, side, "copy_rhs", "sum", None, grad)
    if other_target == opposite:
        return spmm(backend, side, "mul", "sum", other, grad)
    if other_target == target:
        return other * spmm(backend, side, "copy_rhs", "sum", None, grad)
    return spmm(backend, side, "copy_rhs", "sum", None, grad * other)


class EdgeSoftmax(torch.autograd.Function):
    """Edge softmax; backward ``grad_x = y * (grad - sum_{edges of the row}(grad * y))``."""

    @staticmethod
    def forward(ctx, backend, adj, logits):
        out = backend.softmax(adj, logits)
        ctx.backend, ctx.adj = backend, adj
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: the same formula with differentiable ops
            total = spmm(ctx.backend, ctx.adj, "copy_rhs", "sum", None, grad * out)
            return None, None, out * (grad - total.index_select(0, ctx.adj.row_ids()))
        return None, None, ctx.backend.softmax_backward(ctx.adj, out, grad.contiguous())


def gspmm(backend, graph: Graph, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None) -> Tensor:
    """gSpMM on ``graph`` (rows = destinations) with ``backend``; see ``ops.gspmm``.

    Shapes:
        lhs: ``[N_src, *]``; rhs: ``[E, *]``; return ``[N_dst, *broadcast]``.
    """
    return spmm(backend, CompressedAdjacency(graph), op, reduce, lhs, rhs)


def gsddmm(backend, graph: Graph, op: str, lhs: Tensor | None, rhs: Tensor | None, lhs_target: str,
           rhs_target: str) -> Tensor:
    """gSDDMM on ``graph`` with targets "src", "dst", "edge"; see ``ops.gsddmm``.

    Shapes:
        lhs, rhs: ``[N_src|N_dst|E, *]`` by target; return ``[E, *broadcast]``.
    """
    names = {"src": "col", "dst": "row", "edge": "edge"}
    return sddmm(backend, CompressedAdjacency(graph), op, lhs, rhs, names[lhs_target], names[rhs_target])


def edge_softmax(backend, graph: Graph, logits: Tensor) -> Tensor:
    """Softmax over the incoming edges of every destination; see ``ops.edge_softmax``.

    Shapes:
        logits: ``[E, *]``; return ``[E, *]``.
    """
    return softmax(backend, CompressedAdjacency(graph), logits)


def segment_reduce(backend, data: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    """Reduce ``data[ptr[i]:ptr[i+1]]`` (validated by the caller).

    Shapes:
        data: ``[E, *]``; ptr: ``[S+1]``; return ``[S, *]``.
    """
    return spmm(backend, SegmentAdjacency(ptr.long()), "copy_rhs", reduce, None, data)


def scatter_reduce(backend, data: Tensor, index: Tensor, num_segments: int, reduce: str, sort) -> Tensor:
    """Reduce rows sharing ``index``; ``sort(index, num_segments) -> (ptr, perm)`` groups them (stable).

    Shapes:
        data: ``[E, *]``; index: ``[E]``; return ``[num_segments, *]``.
    """
    ptr, perm = sort(index, num_segments)
    return spmm(backend, SegmentAdjacency(ptr, perm, index), "copy_rhs", reduce, None, data)
