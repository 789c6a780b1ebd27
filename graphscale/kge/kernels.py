"""Fused distance kernels for the translational KGE models (numba on the CPU, torch ops elsewhere).

Two comparators need a sum over dimensions that no matrix product expresses:

* ``l1``: ``d(q, c) = sum_j |q_j - c_j|`` (TransE with the L1 norm);
* ``complex-l1``: ``d(q, c) = sum_j |q_j - c_j|`` over *complex* coordinates, i.e.
  ``sum_j sqrt((q_re_j - c_re_j)^2 + (q_im_j - c_im_j)^2)`` (RotatE), with vectors stored as
  ``[re | im]`` halves of one real row.

Written with broadcasting in torch, a ``[B, K]`` distance matrix materialises ``[B, K, D]``
differences, then as many again for the backward. The kernels here stream over ``D`` instead and keep
only ``[B, K]``: the forward writes the distances, the backward recomputes the differences and
accumulates both gradients in one pass (per-thread buffers for the shared candidates, reduced at the
end, so there are no write races). Both layouts are covered:

* shared: ``q [B, D]`` against one candidate set ``c [K, D]`` -> ``[B, K]`` (shared negatives,
  scoring against all entities);
* batched: ``q [B, D]`` against its own candidates ``c [B, K, D]`` -> ``[B, K]`` (per-positive
  negatives).

``pairwise_distance`` / ``batched_distance`` dispatch: float32/float64 CPU tensors go to numba, any
other device or dtype to the plain torch expression (which is also the test oracle).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..saga.kernels.cpu import num_threads

COMPARATORS = ("l1", "complex-l1")


# -- numba kernels -----------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _shared_forward(q, c, complex_mode, out):
    num_q, dim = q.shape
    num_c = c.shape[0]
    half = dim // 2
    for b in prange(num_q):
        for k in range(num_c):
            total = 0.0
            if complex_mode:
                for j in range(half):
                    dr = q[b, j] - c[k, j]
                    di = q[b, half + j] - c[k, half + j]
                    total += np.sqrt(dr * dr + di * di)
            else:
                for j in range(dim):
                    total += abs(q[b, j] - c[k, j])
            out[b, k] = total


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _shared_backward(q, c, grad, complex_mode, grad_q, buffers):
    """grad_q [B, D] (zeroed) and buffers [T, K, D] (zeroed) receive d(sum grad * dist)/dq and -/dc."""
    num_q, dim = q.shape
    num_c = c.shape[0]
    half = dim // 2
    num_chunks = buffers.shape[0]
    per_chunk = (num_q + num_chunks - 1) // num_chunks
    for chunk in prange(num_chunks):
        gc = buffers[chunk]
        for b in range(chunk * per_chunk, min(num_q, (chunk + 1) * per_chunk)):
            for k in range(num_c):
                g = grad[b, k]
                if g == 0.0:
                    continue
                if complex_mode:
                    for j in range(half):
                        dr = q[b, j] - c[k, j]
                        di = q[b, half + j] - c[k, half + j]
                        norm = np.sqrt(dr * dr + di * di)
                        scale = g / norm if norm > 0.0 else 0.0
                        grad_q[b, j] += scale * dr
                        grad_q[b, half + j] += scale * di
                        gc[k, j] -= scale * dr
                        gc[k, half + j] -= scale * di
                else:
                    for j in range(dim):
                        diff = q[b, j] - c[k, j]
                        step = g if diff > 0.0 else (-g if diff < 0.0 else 0.0)
                        grad_q[b, j] += step
                        gc[k, j] -= step


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _batched_forward(q, c, complex_mode, out):
    num_q, num_c, dim = c.shape
    half = dim // 2
    for b in prange(num_q):
        for k in range(num_c):
            total = 0.0
            if complex_mode:
                for j in range(half):
                    dr = q[b, j] - c[b, k, j]
                    di = q[b, half + j] - c[b, k, half + j]
                    total += np.sqrt(dr * dr + di * di)
            else:
                for j in range(dim):
                    total += abs(q[b, j] - c[b, k, j])
            out[b, k] = total


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _batched_backward(q, c, grad, complex_mode, grad_q, grad_c):
    num_q, num_c, dim = c.shape
    half = dim // 2
    for b in prange(num_q):
        for k in range(num_c):
            g = grad[b, k]
            if complex_mode:
                for j in range(half):
                    dr = q[b, j] - c[b, k, j]
                    di = q[b, half + j] - c[b, k, half + j]
                    norm = np.sqrt(dr * dr + di * di)
                    scale = g / norm if norm > 0.0 else 0.0
                    grad_q[b, j] += scale * dr
                    grad_q[b, half + j] += scale * di
                    grad_c[b, k, j] = -scale * dr
                    grad_c[b, k, half + j] = -scale * di
            else:
                for j in range(dim):
                    diff = q[b, j] - c[b, k, j]
                    step = g if diff > 0.0 else (-g if diff < 0.0 else 0.0)
                    grad_q[b, j] += step
                    grad_c[b, k, j] = -step


# -- torch reference (any device) ----------------------------------------------------------------------------------
def reference_distance(q: Tensor, c: Tensor, comparator: str) -> Tensor:
    """Plain torch broadcast of ``q [B, D]`` against ``c [K, D]`` (shared) or ``c [B, K, D]`` (batched)."""
    diff = q.unsqueeze(1) - (c.unsqueeze(0) if c.dim() == 2 else c)  # [B, K, D]
    if comparator == "l1":
        return diff.abs().sum(-1)
    half = diff.shape[-1] // 2
    return torch.sqrt(diff[..., :half] ** 2 + diff[..., half:] ** 2).sum(-1)


def _numba_ok(*tensors: Tensor) -> bool:
    return all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors) and \
        len({t.dtype for t in tensors}) == 1


class _SharedDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, c: Tensor, complex_mode: bool) -> Tensor:  # type: ignore[override]
        q, c = q.contiguous(), c.contiguous()
        out = torch.empty(q.shape[0], c.shape[0], dtype=q.dtype)
        num_threads(q.shape[0] * c.shape[0] * q.shape[1])
        _shared_forward(q.detach().numpy(), c.detach().numpy(), complex_mode, out.numpy())
        ctx.save_for_backward(q, c)
        ctx.complex_mode = complex_mode
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q, c = ctx.saved_tensors
        grad = grad.contiguous()
        threads = num_threads(q.shape[0] * c.shape[0] * q.shape[1])
        chunks = max(1, min(threads, q.shape[0]))
        grad_q = torch.zeros_like(q)
        buffers = torch.zeros(chunks, *c.shape, dtype=c.dtype)
        _shared_backward(q.numpy(), c.numpy(), grad.numpy(), ctx.complex_mode, grad_q.numpy(), buffers.numpy())
        return grad_q, buffers.sum(0) if chunks > 1 else buffers[0], None


class _BatchedDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, c: Tensor, complex_mode: bool) -> Tensor:  # type: ignore[override]
        q, c = q.contiguous(), c.contiguous()
        out = torch.empty(c.shape[0], c.shape[1], dtype=q.dtype)
        num_threads(c.numel())
        _batched_forward(q.detach().numpy(), c.detach().numpy(), complex_mode, out.numpy())
        ctx.save_for_backward(q, c)
        ctx.complex_mode = complex_mode
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q, c = ctx.saved_tensors
        grad = grad.contiguous()
        num_threads(c.numel())
        grad_q = torch.zeros_like(q)
        grad_c = torch.empty_like(c)
        _batched_backward(q.numpy(), c.numpy(), grad.numpy(), ctx.complex_mode, grad_q.numpy(), grad_c.numpy())
        return grad_q, grad_c, None


def pairwise_distance(q: Tensor, c: Tensor, comparator: str) -> Tensor:
    """Distance of every query to every shared candidate.

    Args:
        q: Query vectors (``h + r`` for TransE, ``h * r`` for RotatE ...).
        c: Candidate entity vectors shared by all queries.
        comparator: ``"l1"`` or ``"complex-l1"`` (``[re | im]`` halves).

    Shapes:
        q: ``[B, D]``; c: ``[K, D]``; return: ``[B, K]``.
    """
    if _numba_ok(q, c):
        return _SharedDistance.apply(q, c, comparator == "complex-l1")
    return reference_distance(q, c, comparator)


def batched_distance(q: Tensor, c: Tensor, comparator: str) -> Tensor:
    """Distance of each query to its own candidates.

    Shapes:
        q: ``[B, D]``; c: ``[B, K, D]``; return: ``[B, K]``.
    """
    if _numba_ok(q, c):
        return _BatchedDistance.apply(q, c, comparator == "complex-l1")
    return reference_distance(q, c, comparator)
