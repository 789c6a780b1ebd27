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
* batched: ``q [B, D]`` against its own candidates ``c [B, K, D]`` -> ``[B, K]``;
* indexed: ``q [B, D]`` against its own candidates given as rows ``index [B, K]`` of a table ``[U, D]``
  (per-positive negatives): no ``[B, K, D]`` gather forward; the backward visits the pairs once, counting-sorted
  by table row and cut into one chunk of whole rows per thread (a chunk owns its table rows and keeps its own
  small ``[B, D]`` query-gradient buffer, so there are no write races).

``pairwise_distance`` / ``batched_distance`` dispatch: float32/float64 CPU tensors go to numba, any
other device or dtype to the plain torch expression (which is also the test oracle).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..errors import ShapeError
from ..saga.kernels.cpu import num_threads

COMPARATORS = ("l1", "complex-l1")


# -- numba kernels -----------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True, inline="always", fastmath=True)
def _distance(q, c, complex_mode):
    """``d(q, c)`` of two ``[D]`` rows (``[re | im]`` halves when ``complex_mode``)."""
    total = 0.0
    if complex_mode:
        half = q.shape[0] // 2
        for j in range(half):
            dr = q[j] - c[j]
            di = q[half + j] - c[half + j]
            total += np.sqrt(dr * dr + di * di)
    else:
        for j in range(q.shape[0]):
            total += abs(q[j] - c[j])
    return total


@numba.njit(cache=True, nogil=True, inline="always", fastmath=True)
def _pair_backward(q, c, g, complex_mode, grad_q, grad_c):
    """``grad_q += g * d dist(q, c) / dq`` and ``grad_c -= the same`` for two ``[D]`` rows."""
    if complex_mode:
        half = q.shape[0] // 2
        for j in range(half):
            dr = q[j] - c[j]
            di = q[half + j] - c[half + j]
            norm = np.sqrt(dr * dr + di * di)
            scale = g / norm if norm > 0.0 else 0.0
            grad_q[j] += scale * dr
            grad_q[half + j] += scale * di
            grad_c[j] -= scale * dr
            grad_c[half + j] -= scale * di
    else:
        for j in range(q.shape[0]):
            diff = q[j] - c[j]
            step = g if diff > 0.0 else (-g if diff < 0.0 else 0.0)
            grad_q[j] += step
            grad_c[j] -= step


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _shared_forward(q, c, complex_mode, out):
    for b in prange(q.shape[0]):
        for k in range(c.shape[0]):
            out[b, k] = _distance(q[b], c[k], complex_mode)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _shared_backward(q, c, grad, complex_mode, grad_q, buffers):
    """grad_q [B, D] (zeroed) and buffers [T, K, D] (zeroed) receive d(sum grad * dist)/dq and -/dc."""
    num_q = q.shape[0]
    num_c = c.shape[0]
    num_chunks = buffers.shape[0]
    per_chunk = (num_q + num_chunks - 1) // num_chunks
    for chunk in prange(num_chunks):
        gc = buffers[chunk]
        for b in range(chunk * per_chunk, min(num_q, (chunk + 1) * per_chunk)):
            for k in range(num_c):
                g = grad[b, k]
                if g != 0.0:
                    _pair_backward(q[b], c[k], g, complex_mode, grad_q[b], gc[k])


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _batched_forward(q, c, complex_mode, out):
    for b in prange(c.shape[0]):
        for k in range(c.shape[1]):
            out[b, k] = _distance(q[b], c[b, k], complex_mode)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _batched_backward(q, c, grad, complex_mode, grad_q, grad_c):
    """grad_q [B, D] and grad_c [B, K, D] (both zeroed) receive d(sum grad * dist)/dq and /dc."""
    for b in prange(c.shape[0]):
        for k in range(c.shape[1]):
            if grad[b, k] != 0.0:
                _pair_backward(q[b], c[b, k], grad[b, k], complex_mode, grad_q[b], grad_c[b, k])


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _indexed_forward(q, table, index, complex_mode, out):
    for b in prange(index.shape[0]):
        for k in range(index.shape[1]):
            out[b, k] = _distance(q[b], table[index[b, k]], complex_mode)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _indexed_backward(q, table, index, grad, complex_mode, grad_q_parts, grad_table):
    """Gradients of ``sum grad * dist`` in one pass over the (query, candidate) pairs: grad_table [U, D] is written
    whole (rows without pairs get zeros), grad_q_parts [C, B, D] gets one partial query gradient per chunk (the
    caller sums them; they need no zeroing either).

    The pairs are counting-sorted by table row and cut into C chunks of whole rows with about equal pair counts:
    a chunk owns its table rows (no write races) and its own query buffer, and every distance is recomputed once.
    """
    num_q, num_c = index.shape
    num_rows = table.shape[0]
    num_chunks = grad_q_parts.shape[0]
    starts = np.zeros(num_rows + 1, dtype=np.int64)
    for b in range(num_q):
        for k in range(num_c):
            starts[index[b, k] + 1] += 1
    for u in range(num_rows):
        starts[u + 1] += starts[u]
    fill = starts[:-1].copy()
    pairs = np.empty(num_q * num_c, dtype=np.int64)
    for b in range(num_q):
        for k in range(num_c):
            u = index[b, k]
            pairs[fill[u]] = b * num_c + k
            fill[u] += 1
    bounds = np.searchsorted(starts, (np.arange(num_chunks + 1) * (num_q * num_c)) // num_chunks)
    bounds[0] = 0
    bounds[num_chunks] = num_rows
    for c in prange(num_chunks):
        gq = grad_q_parts[c]
        gq[:, :] = 0.0
        for u in range(bounds[c], bounds[c + 1]):
            gt = grad_table[u]
            gt[:] = 0.0
            for p in range(starts[u], starts[u + 1]):
                b = pairs[p] // num_c
                g = grad[b, pairs[p] - b * num_c]
                if g != 0.0:
                    _pair_backward(q[b], table[u], g, complex_mode, gq[b], gt)


@numba.njit(cache=True, nogil=True)
def _unique_ids(ids, num_ids, rows, inverse):
    """Sorted distinct values of ``ids`` (all in ``[0, num_ids)``) into ``rows``, their count returned, and
    ``inverse`` with ``rows[inverse[i]] == ids[i]``: two linear passes over a ``num_ids`` mark array."""
    slot = np.full(num_ids, -1, dtype=np.int64)
    for i in range(ids.shape[0]):
        slot[ids[i]] = 0
    count = 0
    for u in range(num_ids):
        if slot[u] == 0:
            slot[u] = count
            rows[count] = u
            count += 1
    for i in range(ids.shape[0]):
        inverse[i] = slot[ids[i]]
    return count


def unique_ids(ids: Tensor, num_ids: int) -> tuple[Tensor, Tensor]:
    """``torch.unique(ids, return_inverse=True)`` for int64 ids in ``[0, num_ids)``, in O(len + num_ids) on the
    CPU (torch sorts). Falls back to ``torch.unique`` on other devices.

    Shapes:
        ids: ``[M]``; returns rows ``[U]`` (sorted) and inverse ``[M]``.
    """
    if ids.device.type != "cpu" or ids.numel() == 0:
        return torch.unique(ids, return_inverse=True)
    ids = ids.contiguous().to(torch.int64)
    rows = torch.empty(min(num_ids, ids.numel()), dtype=torch.int64)
    inverse = torch.empty_like(ids)
    count = _unique_ids(ids.numpy(), num_ids, rows.numpy(), inverse.numpy())
    return rows[:count], inverse


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
        grad_q, grad_c = torch.zeros_like(q), torch.zeros_like(c)
        _batched_backward(q.numpy(), c.numpy(), grad.numpy(), ctx.complex_mode, grad_q.numpy(), grad_c.numpy())
        return grad_q, grad_c, None


class _IndexedDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, table: Tensor, index: Tensor, complex_mode: bool) -> Tensor:  # type: ignore[override]
        q, table, index = q.contiguous(), table.contiguous(), index.contiguous().to(torch.int64)
        out = torch.empty(index.shape[0], index.shape[1], dtype=q.dtype)
        num_threads(index.numel() * q.shape[1])
        _indexed_forward(q.detach().numpy(), table.detach().numpy(), index.numpy(), complex_mode, out.numpy())
        ctx.save_for_backward(q, table, index)
        ctx.complex_mode = complex_mode
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q, table, index = ctx.saved_tensors
        grad = grad.contiguous()
        threads = num_threads(index.numel() * q.shape[1])
        chunks = max(1, min(threads, table.shape[0]))
        parts, grad_table = torch.empty(chunks, *q.shape, dtype=q.dtype), torch.empty_like(table)  # written whole
        _indexed_backward(q.detach().numpy(), table.detach().numpy(), index.numpy(), grad.numpy(),
                          ctx.complex_mode, parts.numpy(), grad_table.numpy())
        return (parts.sum(0) if chunks > 1 else parts[0]), grad_table, None, None


def indexed_distance(q: Tensor, table: Tensor, index: Tensor, comparator: str) -> Tensor:
    """Distance of each query to its own candidates, rows ``index`` of ``table`` (never gathered).

    Shapes:
        q: ``[B, D]``; table: ``[U, D]``; index: ``[B, K]`` int (values in ``[0, U)``); return: ``[B, K]``.
    """
    if index.dim() != 2 or index.shape[0] != q.shape[0] or table.shape[-1] != q.shape[-1]:
        raise ShapeError(f"indexed_distance: expected q [B, D], table [U, D], index [B, K], got q "
                         f"{tuple(q.shape)}, table {tuple(table.shape)}, index {tuple(index.shape)}.")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= table.shape[0]):
        raise ShapeError(f"indexed_distance: expected index values in [0, {table.shape[0]}), got "
                         f"{int(index.min())} .. {int(index.max())}.")
    if _numba_ok(q, table) and index.device.type == "cpu":
        return _IndexedDistance.apply(q, table, index, comparator == "complex-l1")
    return reference_distance(q, torch.nn.functional.embedding(index, table), comparator)


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
