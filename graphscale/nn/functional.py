"""Fused elementwise ops for large node-feature matrices on CPU.

``dropout``: the keep/drop decision of element ``i`` is a hash of ``(seed, i)`` (SplitMix64), so the
backward regenerates the mask instead of storing it: no ``[N, F]`` mask in memory, and the numba loop is
several times faster than ``torch.bernoulli_`` on CPU. The seed is drawn from torch's generator, so
``torch.manual_seed`` / ``graphscale.seed`` make it reproducible. Other devices and dtypes use
``torch.nn.functional.dropout``.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
import torch.nn.functional as F
from numba import prange
from torch import Tensor

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_CHUNK = 1 << 16


@numba.njit(cache=True, nogil=True, inline="always")
def _keep(seed, i, threshold):
    z = seed + np.uint64(i) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) >= threshold


@numba.njit(cache=True, nogil=True, parallel=True)
def _dropout_kernel(src, out, seed, threshold, scale, relu):
    n = src.shape[0]
    num_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(num_chunks):
        lo = c * _CHUNK
        hi = min(n, lo + _CHUNK)
        for i in range(lo, hi):
            value = src[i]
            if relu and value < 0:
                value = 0.0
            out[i] = value * scale if _keep(seed, i, threshold) else 0.0


@numba.njit(cache=True, nogil=True, parallel=True)
def _relu_dropout_backward(out, grad, grad_in, scale):
    n = out.shape[0]
    num_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(num_chunks):
        lo = c * _CHUNK
        hi = min(n, lo + _CHUNK)
        for i in range(lo, hi):
            grad_in[i] = grad[i] * scale if out[i] > 0 else 0.0


def _scale(x: Tensor, p: float) -> float:
    return x.new_tensor(1.0 / (1.0 - p)).item()


def _apply(x: Tensor, seed: int, p: float, relu: bool = False, out: Tensor | None = None) -> Tensor:
    from ..saga.kernels.cpu import num_threads

    out = torch.empty_like(x) if out is None else out
    threshold = np.uint64(min(int(p * 2.0**53), 2**53))
    num_threads(x.numel())
    _dropout_kernel(x.reshape(-1).numpy(), out.view(-1).numpy(), np.uint64(seed), threshold, _scale(x, p), relu)
    return out


class _HashDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, p: float, seed: int) -> Tensor:  # type: ignore[override]
        ctx.p, ctx.seed = p, seed
        return _apply(x.contiguous(), seed, p)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return _apply(grad.contiguous(), ctx.seed, ctx.p), None, None


class _HashReluDropout(torch.autograd.Function):
    """``dropout(relu(x))`` in one pass. The backward needs no mask at all: an element gets gradient
    exactly when its output is positive (kept and ``x > 0``)."""

    @staticmethod
    def forward(ctx, x: Tensor, p: float, seed: int) -> Tensor:  # type: ignore[override]
        out = _apply(x.contiguous(), seed, p, relu=True)
        ctx.p = p
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (out,) = ctx.saved_tensors
        grad = grad.contiguous()
        grad_in = torch.empty_like(grad)
        _relu_dropout_backward(out.view(-1).numpy(), grad.view(-1).numpy(), grad_in.view(-1).numpy(),
                               _scale(out, ctx.p))
        return grad_in, None, None


class _HashReluDropoutInplace(_HashReluDropout):
    """``_HashReluDropout`` written over its input: no new ``[N, F]`` buffer (on CPU, the page faults of a
    fresh one cost as much as the pass itself). Marked dirty, so autograd raises if a backward needed the
    overwritten values."""

    @staticmethod
    def forward(ctx, x: Tensor, p: float, seed: int) -> Tensor:  # type: ignore[override]
        _apply(x, seed, p, relu=True, out=x)
        ctx.mark_dirty(x)
        ctx.p = p
        ctx.save_for_backward(x)
        return x


def _fast_path(x: Tensor, p: float) -> bool:
    return 0.0 < p < 1.0 and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) \
        and x.numel() >= 4096


def dropout(x: Tensor, p: float = 0.5, training: bool = True, relu: bool = False, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by ``1 / (1 - p)``.

    With ``relu=True`` computes ``dropout(relu(x))`` in one fused pass (relu alone when not training).
    ``inplace=True`` (with ``relu``) lets it overwrite ``x`` when ``x`` is an intermediate result (not a leaf,
    not a view, contiguous); the caller promises nothing else reads ``x`` afterwards.

    Shapes:
        x: any shape; return: same shape and dtype.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout: expected p in [0, 1], got {p}.")
    if not training or p == 0.0:
        return F.relu(x) if relu else x
    if not _fast_path(x, p):
        return F.dropout(F.relu(x) if relu else x, p, training)
    seed = int(torch.randint(0, 2**62, (1,)).item())
    if relu:
        reusable = inplace and x.grad_fn is not None and x._base is None and x.is_contiguous()
        return (_HashReluDropoutInplace if reusable else _HashReluDropout).apply(x, p, seed)
    return _HashDropout.apply(x, p, seed)
