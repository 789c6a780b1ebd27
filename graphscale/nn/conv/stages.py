"""A layer's SAGA stages, declared once by the layer: ``pre`` -> aggregation -> ``post``.

A layer whose aggregation is a sum or a mean over in-edges (GCN, GraphSAGE mean / gcn) declares itself as

* ``pre(h) -> m``: ApplyVertex before aggregation, a node-wise map of the input rows ``h [R, F_in]`` to the
  aggregation input ``m [R, width]`` (the projection ``h W^T`` when ``W`` comes first, else ``h``);
* an :class:`Aggregation` of ``m`` over the in-edges (Scatter + Gather): a sum or a mean, optional
  self-loops and optional GCN weights;
* ``post(a, h, rows) -> out``: ApplyVertex after aggregation, a node-wise map of the aggregated rows
  ``a [R, width]`` (and, when ``post_uses_input``, the input rows ``h``) to the output ``[R, F_out]``.

The layer's own ``forward`` runs these same functions around one ``saga()`` call, and the streamed
executor (:mod:`graphscale.scale.stream`) runs them around its tiled aggregation: the math exists once.

Two optional shortcuts let an executor skip recomputation:

* ``post_grad_a(g) -> g_a``: the gradient of ``post`` w.r.t. ``a`` given the output gradient, when ``post``
  is affine in ``a`` (GCN and GraphSAGE without normalisation);
* ``pre_root(h) -> (m, r)`` with ``post_root(a, r, rows) == post(a, h, rows)``: the aggregation input and the
  root term ``r = h W_root^T [R, F_out]`` from one GEMM over ``h`` (GraphSAGE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn


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
class Stages:
    """One conv layer as ``pre`` -> aggregation -> ``post`` (see the module docstring)."""

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


__all__ = ["Aggregation", "RowContext", "Stages"]
