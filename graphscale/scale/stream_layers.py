"""Conv layers split for streaming: row-local ``pre`` -> sparse aggregation -> row-local ``post``.

:mod:`graphscale.scale.stream` runs a layer as three parts (NGra's SAGA-NN stages):

* ``pre(h) -> m``: a node-wise map of the layer input rows ``h [R, F_in]`` to the aggregation input
  ``m [R, width]`` (the projection ``h W^T`` when ``W`` comes before aggregation, else ``h`` itself);
* an :class:`Aggregation` of ``m`` over the in-edges, with a sum or a mean (the only reductions that
  accumulate over source-column tiles), optional self-loops and optional GCN weights;
* ``post(a, h, rows) -> out``: a node-wise map of the aggregated rows ``a [R, width]`` (and, when
  ``post_uses_input``, the layer input rows ``h``) to the layer output ``[R, F_out]``.

Two optional shortcuts let the executor skip recomputation:

* ``post_grad_a(g) -> g_a``: the gradient of ``post`` w.r.t. ``a`` given the output gradient, when ``post``
  is affine in ``a`` (GCN and GraphSAGE without normalisation): the last layer's ``G_A`` then needs no
  recomputed rows at all;
* ``pre_root(h) -> (m, r)`` with ``post_root(a, r, rows) == post(a, h, rows)``: the aggregation input and the
  root term ``r = h W_root^T [R, F_out]`` from one GEMM over ``h`` (GraphSAGE). The executor keeps ``r`` of
  the output rows from the forward pass instead of recomputing the hidden rows ``h`` for the output.

Both node-wise parts are plain torch code on the layer's own parameters, so gradients reach the model's
parameters and the same ``nn.Module`` keeps training, checkpointing and evaluating unchanged. Each adapter
follows its layer's ``forward`` (the NGra dataflow rule included: the projection runs on the side with the
narrower width), so the streamed model computes the same function as the unchunked one.

New layers stream once an adapter is registered with :func:`register`.

The row-wise dropout here draws the same masks as :func:`graphscale.nn.functional.dropout`: the decision
for element ``i`` of an ``[N, F]`` tensor is a hash of ``(seed, i)``, so rows ``[r0, r1)`` (or any row ids)
reproduce the unchunked mask exactly, in the forward pass and again when recomputed in backward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import torch
import torch.nn.functional as F
from numba import prange
from torch import Tensor, nn

from ..errors import ConfigError
from ..nn.conv import GCNConv, SAGEConv
from ..nn.functional import _keep, _relu_dropout_backward, _scale  # the unchunked dropout's hash and kernels


@dataclass(frozen=True)
class Aggregation:
    """How a layer aggregates: ``reduce`` "sum" or "mean", ``self_loops``, and ``gcn`` symmetric weights
    ``1 / sqrt(deg_out(src) deg_in(dst))`` (degrees counted with the loops)."""

    reduce: str = "sum"
    self_loops: bool = False
    gcn: bool = False


@dataclass
class RowContext:
    """What ``post`` may read besides its rows: the in-degrees (without self-loops) of those rows."""

    in_degrees: Tensor | None  # [R] int64 (None unless the layer's post_uses_degrees)


@dataclass
class StreamedLayer:
    """One conv layer split into ``pre`` -> aggregation -> ``post`` (see the module docstring)."""

    module: nn.Module
    aggregation: Aggregation
    width: int                       # features per aggregated row
    out_dim: int
    pre: Callable[[Tensor], Tensor]
    post: Callable[[Tensor, Tensor | None, RowContext], Tensor]
    pre_has_params: bool             # m depends on parameters (its gradient must be propagated)
    post_uses_input: bool            # post reads the layer input rows h (a root / self term)
    post_uses_degrees: bool = False  # post reads RowContext.in_degrees
    post_grad_a: Callable[[Tensor], Tensor] | None = None   # d post / d a applied to a gradient (affine post)
    pre_root: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None   # h -> (m, root term r)
    post_root: Callable[[Tensor, Tensor, RowContext], Tensor] | None = None   # (a, r, rows) -> out

    def finish(self, a: Tensor, h: Tensor | None, r: Tensor | None, rows: RowContext) -> Tensor:
        """The layer output of aggregated rows ``a``: from the root term ``r`` when given (``pre_root``
        layers), else ``post`` with the input rows ``h`` (read only when ``post_uses_input``)."""
        if r is not None:
            return self.post_root(a, r, rows)
        return self.post(a, h if self.post_uses_input else None, rows)


ADAPTERS: dict[type, Callable[[nn.Module], StreamedLayer]] = {}


def register(layer_type: type, adapter: Callable[[nn.Module], StreamedLayer]) -> None:
    """Make ``layer_type`` streamable: ``adapter(layer)`` returns its :class:`StreamedLayer`."""
    ADAPTERS[layer_type] = adapter


def split_layer(layer: nn.Module, where: str) -> StreamedLayer:
    """The :class:`StreamedLayer` of ``layer``.

    Raises:
        ConfigError: No adapter for the layer type, or a configuration the streamed path cannot run.
    """
    adapter = next((fn for cls, fn in ADAPTERS.items() if type(layer) is cls), None)
    if adapter is None:
        known = ", ".join(cls.__name__ for cls in ADAPTERS)
        raise ConfigError(f"{where}: expected layers with a stage split ({known}), got {type(layer).__name__}. "
                          "Run it block-wise (graphscale.scale.stream_blocks.BlockwiseStack).")
    return adapter(layer)


def _gcn(conv: GCNConv) -> StreamedLayer:
    weight, bias = conv.linear.weight, conv.bias
    project_first = conv.out_dim < conv.in_dim

    def pre(h: Tensor) -> Tensor:
        return F.linear(h, weight) if project_first else h

    def post(a: Tensor, h: Tensor | None, rows: RowContext) -> Tensor:
        if not project_first:
            return F.linear(a, weight, bias)
        return a if bias is None else a + bias

    def post_grad_a(grad: Tensor) -> Tensor:
        return grad if project_first else grad @ weight

    return StreamedLayer(conv, Aggregation("sum", conv.add_self_loops, conv.normalize),
                         conv.out_dim if project_first else conv.in_dim, conv.out_dim, pre, post,
                         pre_has_params=project_first, post_uses_input=False, post_grad_a=post_grad_a)


def _sage(conv: SAGEConv) -> StreamedLayer:
    if conv.aggregator not in ("mean", "gcn"):
        raise ConfigError(f"SAGEConv (streamed): expected aggregator 'mean' or 'gcn', got {conv.aggregator!r}. "
                          "A max over source tiles has no tiled backward; run it block-wise (BlockwiseStack).")
    neigh, root, bias = conv.lin_neigh.weight, conv.lin_root.weight if conv.lin_root is not None else None, conv.bias
    project_first = conv.out_dim < conv.in_dim
    gcn = conv.aggregator == "gcn"

    def pre(h: Tensor) -> Tensor:
        return F.linear(h, neigh) if project_first else h

    def post(a: Tensor, h: Tensor | None, rows: RowContext) -> Tensor:
        if gcn:  # (sum_u x_u + x_v) / (deg_v + 1)
            total = a + (F.linear(h, neigh) if project_first else h)
            a = total / (rows.in_degrees.to(total.dtype).unsqueeze(-1) + 1.0)
        out = a if project_first else F.linear(a, neigh)
        if bias is not None:
            out = out + bias
        if root is not None:
            out = torch.addmm(out, h, root.t())
        return F.normalize(out, p=2.0, dim=-1) if conv.normalize else out

    shortcuts: dict = {}
    if not gcn and not conv.normalize:
        shortcuts["post_grad_a"] = (lambda grad: grad) if project_first else (lambda grad: grad @ neigh)
    if not gcn and root is not None:
        out_dim = conv.out_dim

        def pre_root(h: Tensor) -> tuple[Tensor, Tensor]:
            if not project_first:
                return h, F.linear(h, root)
            m, r = F.linear(h, torch.cat([neigh, root], dim=0)).split(out_dim, dim=1)  # one GEMM, as SAGEConv
            return m, r

        def post_root(a: Tensor, r: Tensor, rows: RowContext) -> Tensor:
            out = a + r if project_first else torch.addmm(r, a, neigh.t())
            if bias is not None:
                out = out + bias
            return F.normalize(out, p=2.0, dim=-1) if conv.normalize else out

        shortcuts.update(pre_root=pre_root, post_root=post_root)
    return StreamedLayer(conv, Aggregation("sum" if gcn else "mean"), conv.out_dim if project_first else conv.in_dim,
                         conv.out_dim, pre, post, pre_has_params=project_first,
                         post_uses_input=gcn or root is not None, post_uses_degrees=gcn, **shortcuts)


register(GCNConv, _gcn)
register(SAGEConv, _sage)


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


__all__ = ["ADAPTERS", "Aggregation", "DropSite", "RowContext", "StreamedLayer", "register", "split_layer"]
