"""GCNConv: graph convolution with symmetric normalisation (Kipf & Welling, ICLR 2017)."""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import fn, saga
from .inputs import ConstantAggregate, NodeInput, check_edge_features, split_features
from .normalization import symmetric_norm, with_self_loops
from .stages import Aggregation, Stages


class GCNConv(nn.Module):
    r"""Graph convolution of Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
    Networks", ICLR 2017 (arXiv:1609.02907).

    .. math::
        H' = \hat D^{-1/2} \hat A \hat D^{-1/2} X W + b, \qquad \hat A = A + I

    i.e. :math:`h'_v = b + \sum_{u \to v} \frac{w_{uv}}{\sqrt{\hat d^{out}_u \hat d^{in}_v}} W x_u` with
    degrees summed over the (weighted) edges including the self-loop. On a ``Block`` the degrees are those
    of the block (DGL's convention for sampled mini-batches); they equal the full graph's when the block
    holds every edge of its source nodes.

    Dataflow (NGra): ``W`` is applied before aggregation when ``out_dim < in_dim`` and after it
    otherwise, so the sparse product always runs on the narrower feature width.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F_out``.
        add_self_loops: Add ``v -> v`` (weight 1) to every node before normalising.
        normalize: Apply the symmetric normalisation; False uses the raw (weighted) adjacency.
        cached: Keep the normalised edge weights of the last graph in the layer (transductive use with
            ``edge_weight``; without weights the normalisation is already cached on the graph). The cache is
            keyed by the graph object and holds detached weights: gradients do not reach ``edge_weight``.
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``.
        edge_weight: optional ``[E]`` float.
        returns: ``[N_dst, F_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, add_self_loops: bool = True, normalize: bool = True,
                 cached: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.add_self_loops, self.normalize, self.cached = add_self_loops, normalize, cached
        self.linear = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self._cache: tuple[weakref.ref, Graph, Tensor | None] | None = None
        self._constant = ConstantAggregate()  # propagation of a constant input (raw features), computed once
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.linear.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache = None

    def propagation_graph(self, graph: Graph, edge_weight: Tensor | None = None,
                          dtype: torch.dtype = torch.float32) -> tuple[Graph, Tensor | None]:
        """The graph messages run on (self-loops added) and its normalised ``[E']`` edge weights
        (None for an unweighted, unnormalised graph)."""
        if self.cached and self._cache is not None and self._cache[0]() is graph:
            return self._cache[1], self._cache[2]
        key = graph
        if self.add_self_loops:
            if edge_weight is None:
                graph = with_self_loops(graph)
            else:
                graph, edge_weight = with_self_loops(graph, edge_weight)
        norm = symmetric_norm(graph, dtype, edge_weight) if self.normalize else edge_weight
        if self.cached:
            norm = None if norm is None else norm.detach()
            self._cache = (weakref.ref(key), graph, norm)
        return graph, norm

    def forward(self, graph: Graph, x: NodeInput, edge_weight: Tensor | None = None) -> Tensor:
        x_src, _ = split_features(graph, x, self.in_dim, "GCNConv.forward")
        if edge_weight is not None:
            check_edge_features(graph, edge_weight, None, "edge_weight", "GCNConv.forward")
        prop_graph, norm = self.propagation_graph(graph, edge_weight, x_src.dtype)
        project_first = self.out_dim < self.in_dim
        h = self._pre(x_src)

        def propagate() -> Tensor:
            if norm is None:
                return saga(prop_graph, src=h, apply_edge=fn.copy_src)
            return saga(prop_graph, src=h, edge=norm.to(h.dtype), apply_edge=fn.src_mul_edge)

        # aggregating first over an input without gradient (raw features): the same every call
        constant = not project_first and edge_weight is None and (norm is None or not norm.requires_grad)
        out = self._constant(graph, x_src, propagate) if constant else propagate()
        return self._post(out)

    def _pre(self, h: Tensor) -> Tensor:
        """ApplyVertex before aggregation: ``h W^T`` when ``W`` comes first (``F_out < F_in``), else ``h``."""
        return F.linear(h, self.linear.weight) if self.out_dim < self.in_dim else h

    def _post(self, a: Tensor) -> Tensor:
        """ApplyVertex after aggregation: ``a W^T + b`` (bias fused into the addmm), or ``a + b`` when ``W``
        came first."""
        if self.out_dim >= self.in_dim:
            return F.linear(a, self.linear.weight, self.bias)
        return a if self.bias is None else a + self.bias

    def stages(self) -> Stages:
        """This layer as SAGA stages (:mod:`.stages`): ``_pre``, a sum over the (normalised) in-edges,
        ``_post``; what the streamed executor runs (no edge weights)."""
        first, weight = self.out_dim < self.in_dim, self.linear.weight
        return Stages(self, Aggregation("sum", self.add_self_loops, self.normalize),
                      self.out_dim if first else self.in_dim, self.out_dim, self._pre,
                      lambda a, h, rows: self._post(a), pre_has_params=first, post_uses_input=False,
                      post_grad_a=(lambda grad: grad) if first else (lambda grad: grad @ weight))

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, add_self_loops={self.add_self_loops}, "
                f"normalize={self.normalize}, cached={self.cached}")
