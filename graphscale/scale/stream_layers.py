"""The streamed executor's view of a layer, and row-wise dropout with the unchunked masks.

:func:`split_layer` returns a layer's own SAGA stages (``layer.stages()``, declared once in
``graphscale.nn.conv``: :mod:`graphscale.nn.conv.stages`); :mod:`graphscale.scale.stream` runs them over
adjacency tiles. A layer without a stage split (attention, max-pooling, GIN) streams block-wise instead
(:mod:`.stream_blocks`).

The row-wise dropout here draws the same masks as :func:`graphscale.nn.functional.dropout`: the decision
for element ``i`` of an ``[N, F]`` tensor is a hash of ``(seed, i)``, so rows ``[r0, r1)`` (or any row ids)
reproduce the unchunked mask exactly, in the forward pass and again when recomputed in backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
import torch.nn.functional as F
from numba import prange
from torch import Tensor, nn

from ..errors import ConfigError
from ..nn.conv.stages import Aggregation, RowContext, Stages
from ..nn.functional import _keep, _relu_dropout_backward, _scale  # the unchunked dropout's hash and kernels


def split_layer(layer: nn.Module, where: str) -> Stages:
    """The :class:`~graphscale.nn.conv.stages.Stages` of ``layer`` (its ``stages()``).

    Raises:
        ConfigError: A layer without a stage split, or a configuration of it that has none.
    """
    stages = getattr(layer, "stages", None)
    if stages is None:
        raise ConfigError(f"{where}: expected layers with a stage split (GCNConv, SAGEConv), got "
                          f"{type(layer).__name__}. Run it block-wise (graphscale.scale.stream_blocks.BlockwiseStack).")
    return stages()


# -- dropout on row chunks, with the unchunked masks ---------------------------------------------------------
@numba.njit(cache=True, nogil=True, parallel=True)
def _dropout_rows(src, out, row_ids, seed, threshold, scale, relu):
    """``out[r, f] = relu?(src[r, f]) * scale`` if element ``row_ids[r] * F + f`` is kept, else 0."""
    width = src.shape[1]
    for r in prange(src.shape[0]):
        base = row_ids[r] * width
        for f in range(width):
            value = src[r, f]
            if relu and value < 0:
                value = 0.0
            out[r, f] = value * scale if _keep(seed, base + f, threshold) else 0.0


def _apply_rows(x: Tensor, row_ids: Tensor, seed: int, p: float, relu: bool) -> Tensor:
    from ..saga.kernels.cpu import num_threads

    x = x.contiguous()
    out = torch.empty_like(x)
    threshold = np.uint64(min(int(p * 2.0**53), 2**53))
    num_threads(x.numel())
    _dropout_rows(x.numpy(), out.numpy(), row_ids.numpy(), np.uint64(seed), threshold, _scale(x, p), relu)
    return out


class _RowDropout(torch.autograd.Function):
    """Hash dropout (optionally fused with relu) of some rows of a larger ``[N, F]`` tensor."""

    @staticmethod
    def forward(ctx, x: Tensor, row_ids: Tensor, seed: int, p: float, relu: bool) -> Tensor:  # type: ignore[override]
        out = _apply_rows(x, row_ids, seed, p, relu)
        ctx.p, ctx.seed, ctx.relu = p, seed, relu
        ctx.save_for_backward(out if relu else row_ids)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (saved,) = ctx.saved_tensors
        if ctx.relu:  # kept and positive <=> output > 0 (graphscale.nn.functional's kernel)
            grad = grad.contiguous()
            grad_in = torch.empty_like(grad)
            _relu_dropout_backward(saved.view(-1).numpy(), grad.view(-1).numpy(), grad_in.view(-1).numpy(),
                                   _scale(saved, ctx.p))
            return grad_in, None, None, None, None
        return _apply_rows(grad, saved, ctx.seed, ctx.p, False), None, None, None, None


@dataclass
class DropSite:
    """One dropout of the stack, drawn once per forward pass: a hash seed (the fast path of
    ``graphscale.nn.functional.dropout``) or, for small tensors, the whole ``[N, F]`` mask."""

    p: float
    relu: bool
    seed: int | None = None
    mask: Tensor | None = None

    @classmethod
    def draw(cls, p: float, relu: bool, shape: tuple[int, int], dtype: torch.dtype, training: bool) -> DropSite:
        """Consume the generator exactly as the unchunked ``dropout`` call on a tensor of ``shape`` would."""
        if not training or p == 0.0:
            return cls(0.0, relu)
        if dtype in (torch.float32, torch.float64) and shape[0] * shape[1] >= 4096 and p < 1.0:
            return cls(p, relu, seed=int(torch.randint(0, 2**62, (1,)).item()))
        return cls(p, relu, mask=F.dropout(torch.ones(shape, dtype=dtype), p, True))

    def __call__(self, h: Tensor, row_ids: Tensor) -> Tensor:
        """Apply to rows ``row_ids`` of the full tensor (``h``: those rows only)."""
        if self.seed is not None:
            return _RowDropout.apply(h, row_ids, self.seed, self.p, self.relu)
        h = F.relu(h) if self.relu else h
        return h if self.mask is None else h * self.mask.index_select(0, row_ids)


__all__ = ["Aggregation", "DropSite", "RowContext", "Stages", "split_layer"]
