"""Plain-torch oracle for every sparse kernel. Materialises ``[E, F]`` messages: correct, not fast.

This file *defines* the semantics the fused kernels (cpu.py, cuda.py) must match, value and gradient.

Broadcasting: node and edge operands broadcast over their feature dims with torch rules, e.g.
``lhs [N, H, F]`` with ``rhs [E, H, 1]`` (one attention weight per head) gives messages ``[E, H, F]``.
Destinations without incoming edges get 0 for every reducer.
"""

from __future__ import annotations

import torch
from torch import Tensor

SPMM_OPS = ("copy_lhs", "copy_rhs", "mul", "add", "sub", "div")
SDDMM_OPS = ("copy_lhs", "copy_rhs", "mul", "add", "sub", "div", "dot")
REDUCES = ("sum", "mean", "max", "min")


def align(lhs: Tensor, rhs: Tensor) -> tuple[Tensor, Tensor]:
    """Left-pad the feature dims (not the row dim) of the lower-rank operand with 1s, so that
    ``[E, F]`` and ``[E]`` broadcast as a per-row scalar, not along the feature axis."""
    if lhs.dim() < rhs.dim():
        lhs = lhs.reshape(lhs.shape[0], *([1] * (rhs.dim() - lhs.dim())), *lhs.shape[1:])
    elif rhs.dim() < lhs.dim():
        rhs = rhs.reshape(rhs.shape[0], *([1] * (lhs.dim() - rhs.dim())), *rhs.shape[1:])
    return lhs, rhs


def binary(op: str, lhs: Tensor | None, rhs: Tensor | None) -> Tensor:
    """Elementwise edge operator on row-aligned operands (``dot`` sums the last dim, keeping size 1)."""
    if lhs is not None and rhs is not None:
        lhs, rhs = align(lhs, rhs)
    if op == "copy_lhs":
        return lhs
    if op == "copy_rhs":
        return rhs
    if op == "mul":
        return lhs * rhs
    if op == "add":
        return lhs + rhs
    if op == "sub":
        return lhs - rhs
    if op == "div":
        return lhs / rhs
    if op == "dot":  # 1-D operands hold one value per row: the dot is their product
        product = lhs * rhs
        return product.unsqueeze(-1) if product.dim() == 1 else product.sum(-1, keepdim=True)
    raise ValueError(f"unknown operator {op!r}")


def scatter(messages: Tensor, index: Tensor, num_segments: int, reduce: str) -> Tensor:
    """Reduce rows of ``messages [E, *]`` into ``[num_segments, *]`` by ``index [E]``; empty rows are 0."""
    shape = (num_segments, *messages.shape[1:])
    idx = index.long().view(-1, *([1] * (messages.dim() - 1))).expand_as(messages)
    if reduce == "sum":
        return torch.zeros(shape, dtype=messages.dtype, device=messages.device).scatter_add(0, idx, messages)
    if reduce == "mean":
        total = torch.zeros(shape, dtype=messages.dtype, device=messages.device).scatter_add(0, idx, messages)
        count = torch.bincount(index.long(), minlength=num_segments).clamp(min=1)
        return total / count.view(-1, *([1] * (messages.dim() - 1))).to(messages.dtype)
    if reduce in ("max", "min"):
        out = torch.zeros(shape, dtype=messages.dtype, device=messages.device)
        return out.scatter_reduce(0, idx, messages, reduce="amax" if reduce == "max" else "amin",
                                  include_self=False)
    raise ValueError(f"unknown reducer {reduce!r}")


def gspmm(src: Tensor, dst: Tensor, num_dst: int, op: str, reduce: str,
          lhs: Tensor | None, rhs: Tensor | None) -> Tensor:
    """``out[v] = reduce_{e: dst[e]=v} op(lhs[src[e]], rhs[e])``.

    Shapes:
        src, dst: ``[E]``; lhs: ``[N_src, *]`` node operand; rhs: ``[E, *]`` edge operand;
        return: ``[num_dst, *broadcast]``.
    """
    lhs_e = lhs[src.long()] if lhs is not None else None
    messages = binary(op, lhs_e, rhs)
    return scatter(messages, dst, num_dst, reduce)


def _pick(target: str, src: Tensor, dst: Tensor, value: Tensor) -> Tensor:
    if target == "src":
        return value[src.long()]
    if target == "dst":
        return value[dst.long()]
    if target == "edge":
        return value
    raise ValueError(f"unknown target {target!r}")


def gsddmm(src: Tensor, dst: Tensor, op: str, lhs: Tensor | None, rhs: Tensor | None,
           lhs_target: str = "src", rhs_target: str = "dst") -> Tensor:
    """``out[e] = op(lhs[target(e)], rhs[target(e)])`` for every edge; target is src, dst or edge.

    Shapes:
        lhs, rhs: ``[N, *]`` node operands (or ``[E, *]`` with target "edge"); return ``[E, *broadcast]``
        (last dim 1 for ``dot``).
    """
    left = _pick(lhs_target, src, dst, lhs) if lhs is not None else None
    right = _pick(rhs_target, src, dst, rhs) if rhs is not None else None
    return binary(op, left, right)


def edge_softmax(dst: Tensor, num_dst: int, logits: Tensor) -> Tensor:
    """Softmax of ``logits [E, *]`` over the incoming edges of every destination node."""
    top = scatter(logits, dst, num_dst, "max")
    exp = (logits - top[dst.long()]).exp()
    denom = scatter(exp, dst, num_dst, "sum")
    return exp / denom[dst.long()]


def segment_reduce(data: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    """Reduce consecutive row ranges ``data[ptr[i]:ptr[i+1]]``; empty segments are 0.

    Shapes:
        data: ``[E, *]``; ptr: ``[S+1]`` non-decreasing, ``ptr[-1] == E``; return ``[S, *]``.
    """
    counts = ptr.long().diff()
    index = torch.repeat_interleave(torch.arange(counts.numel(), device=data.device), counts)
    return scatter(data, index, counts.numel(), reduce)
