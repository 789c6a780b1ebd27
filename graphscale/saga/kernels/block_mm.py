"""numba kernels of :func:`graphscale.saga.relational.segment_mm` with one small matrix per head / diagonal block.

Rows of ``x [M, H, F_in]`` come in consecutive segments, segment ``r`` multiplied per head by
``weight[r] [H, F_in, F_out]`` (R-GCN's block-diagonal weights: ``H`` blocks of ``F_in x F_out``, e.g. 100 blocks
of 5 x 5). Per relation this is a batch of ``H`` tiny matmuls, which torch runs as one batched matmul call (with
layout copies) per relation: hundreds of calls per layer. Here one pass over the rows does the forward and the
input gradient (parallel over rows), and one pass over the segments the weight gradient (parallel over segments,
each owning its ``weight[r]`` gradient: no write races). Tested equal to the torch path, values and gradients.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from .cpu import num_threads


@njit(cache=True, nogil=True, parallel=True)
def _forward(x, weight, row_segment, out):
    rows, heads, size_in = x.shape
    size_out = out.shape[2]
    for p in prange(rows):
        r = row_segment[p]
        for h in range(heads):
            for o in range(size_out):
                acc = x[p, h, 0] * weight[r, h, 0, o]
                for i in range(1, size_in):
                    acc += x[p, h, i] * weight[r, h, i, o]
                out[p, h, o] = acc


@njit(cache=True, nogil=True, parallel=True)
def _weight_grad(x, grad, starts, out):
    segments = starts.shape[0] - 1
    heads, size_in = x.shape[1], x.shape[2]
    size_out = grad.shape[2]
    for r in prange(segments):
        for p in range(starts[r], starts[r + 1]):
            for h in range(heads):
                for i in range(size_in):
                    xv = x[p, h, i]
                    for o in range(size_out):
                        out[r, h, i, o] += xv * grad[p, h, o]


def supported(x: Tensor, weight: Tensor) -> bool:
    """Whether the numba path runs: per-head CPU tensors of one float dtype."""
    return (x.dim() == 3 and weight.dim() == 4 and x.device.type == "cpu" and weight.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64) and weight.dtype == x.dtype)


def _layout(seglens: list[int]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.asarray(seglens, dtype=np.int64)
    starts = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths), starts


def block_mm(x: Tensor, weight: Tensor, seglens: list[int], transpose: bool = False) -> Tensor:
    """``out[p, h] = x[p, h] @ weight[seg(p), h]`` (``weight[seg(p), h].T`` with ``transpose``).

    Shapes: x ``[M, H, F_in]``; weight ``[R, H, F_in, F_out]``; returns ``[M, H, F_out]`` (``[M, H, F_in]``
    with ``transpose``, for ``x [M, H, F_out]``)."""
    row_segment, _ = _layout(seglens)
    if transpose:  # the weights are small (R x H x F x F): a transposed copy costs nothing beside the rows
        weight = weight.transpose(2, 3)
    size_out = weight.shape[3]
    out = torch.empty((x.shape[0], x.shape[1], size_out), dtype=x.dtype)
    num_threads(x.numel() * size_out)
    if x.shape[0] and x.shape[2]:
        _forward(x.detach().contiguous().numpy(), weight.detach().contiguous().numpy(), row_segment, out.numpy())
    else:
        out.zero_()
    return out


def block_weight_grad(x: Tensor, grad: Tensor, seglens: list[int], num_segments: int) -> Tensor:
    """``grad_w[r, h] = sum_{p in segment r} x[p, h]^T grad[p, h]``: ``[R, H, F_in, F_out]``."""
    _, starts = _layout(seglens)
    out = torch.zeros((num_segments, x.shape[1], x.shape[2], grad.shape[2]), dtype=x.dtype)
    num_threads(x.numel() * grad.shape[2])
    _weight_grad(x.detach().contiguous().numpy(), grad.detach().contiguous().numpy(), starts, out.numpy())
    return out


__all__ = ["block_mm", "block_weight_grad", "supported"]
