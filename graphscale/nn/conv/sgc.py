"""SGConv: simplified graph convolution (Wu et al., ICML 2019)."""

from __future__ import annotations

import weakref

import torch
from torch import Tensor, nn

from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, check_edge_features, require_square, split_features
from .normalization import symmetric_norm, with_self_loops


class SGConv(nn.Module):
    r"""Simple graph convolution of Wu et al., "Simplifying Graph Convolutional Networks", ICML 2019
    (arXiv:1902.07153).

    .. math::
        H' = \big(\hat D^{-1/2} \hat A \hat D^{-1/2}\big)^K X W + b, \qquad \hat A = A + I

    Dataflow (NGra): without caching, ``W`` is applied before the ``K`` propagation steps when
    ``out_dim < in_dim`` and after them otherwise. With ``cached=True`` (transductive training, the
    paper's set-up) :math:`S^K X` is computed once and reused while the same graph object, the same
    feature tensor object and the same ``edge_weight`` object (or None) come back; then ``W`` always runs
    after propagation, the cached product is detached (no gradient reaches ``x`` or ``edge_weight``), and
    in-place edits of ``x`` are not detected. With ``edge_weight`` ``S`` is the symmetric normalisation of
    the weighted adjacency (self-loops of weight 1, degrees summed over the weights), as in ``GCNConv``.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F_out``.
        K: Number of propagation steps.
        cached: Cache :math:`S^K X` (see above).
        add_self_loops: Use ``A + I``.
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes (a ``Block`` only with ``N_src == N_dst``).
        x: ``[N, F_in]``; edge_weight: optional ``[E]`` float; returns ``[N, F_out]``.

    Raises:
        GraphFormatError: A Block with more source than destination nodes.
    """

    def __init__(self, in_dim: int, out_dim: int, K: int = 2, *, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.K = in_dim, out_dim, int(K)
        self.cached, self.add_self_loops = cached, add_self_loops
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)
        self._cache: tuple[weakref.ref, weakref.ref, weakref.ref | None, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.linear.weight)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)
        self._cache = None

    def propagate(self, graph: Graph, h: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """:math:`S^K h` with the symmetric-normalised (self-looped, optionally weighted) adjacency ``S``."""
        if self.add_self_loops:
            if edge_weight is None:
                graph = with_self_loops(graph)
            else:
                graph, edge_weight = with_self_loops(graph, edge_weight)
        norm = symmetric_norm(graph, h.dtype, edge_weight)
        for _ in range(self.K):
            h = saga(graph, src=h, edge=norm, apply_edge=fn.src_mul_edge)
        return h

    def forward(self, graph: Graph, x: NodeInput, edge_weight: Tensor | None = None) -> Tensor:
        where = "SGConv.forward"
        require_square(graph, where, x)
        x, _ = split_features(graph, x, self.in_dim, where)
        if edge_weight is not None:
            check_edge_features(graph, edge_weight, None, "edge_weight", where)
        if self.cached:
            cache = self._cache
            same_weight = cache is not None and (cache[2] is None if edge_weight is None
                                                 else cache[2] is not None and cache[2]() is edge_weight)
            if cache is not None and cache[0]() is graph and cache[1]() is x and same_weight:
                return self.linear(cache[3])
            propagated = self.propagate(graph, x.detach(), None if edge_weight is None else edge_weight.detach())
            self._cache = (weakref.ref(graph), weakref.ref(x),
                           None if edge_weight is None else weakref.ref(edge_weight), propagated)
            return self.linear(propagated)
        if self.out_dim < self.in_dim:
            out = self.propagate(graph, torch.nn.functional.linear(x, self.linear.weight), edge_weight)
            return out if self.linear.bias is None else out + self.linear.bias
        return self.linear(self.propagate(graph, x, edge_weight))

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, K={self.K}, cached={self.cached}"
