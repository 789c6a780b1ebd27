"""SAGEConv: GraphSAGE neighbourhood aggregation (Hamilton, Ying & Leskovec, NeurIPS 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError
from ...graph import Graph
from ...saga import fn, saga
from .inputs import ConstantAggregate, NodeInput, check_edge_features, split_features
from .stages import Aggregation, RowContext, Stages

AGGREGATORS = ("mean", "pool", "gcn")


class SAGEConv(nn.Module):
    r"""GraphSAGE layer of Hamilton et al., "Inductive Representation Learning on Large Graphs",
    NeurIPS 2017 (arXiv:1706.02216).

    .. math::
        h'_v = W_{root}\, x_v + W_{neigh}\, \mathrm{AGG}(\{x_u : u \to v\}) + b

    with the aggregators

    * ``"mean"``: :math:`\mathrm{mean}_u\, x_u`;
    * ``"pool"`` (max-pooling): :math:`\max_u \sigma(W_{pool} x_u + b_{pool})`, elementwise max, ReLU;
    * ``"gcn"``: :math:`(x_v + \sum_u x_u) / (d^{in}_v + 1)`, the GCN-like variant (no root term by default).

    With ``normalize`` the output is L2-normalised per node (Algorithm 1, line 7). Nodes without in-edges
    aggregate a zero vector. With ``edge_weight`` (mean aggregator only) the mean becomes the weighted sum
    :math:`\sum_u w_{uv} x_u`: pass ``1 / d_v`` for the plain mean, or GraphSAINT's normalised weights.
    Dataflow (NGra): for "mean" and "gcn", ``W_neigh`` (linear, commutes with the mean) is applied before
    aggregation when ``out_dim < in_dim``.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F_out``.
        aggregator: "mean", "pool" or "gcn".
        root_weight: Add ``W_root x_v``; default True for "mean"/"pool", False for "gcn".
        normalize: L2-normalise the output rows.
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``; edge_weight: optional ``[E]`` float;
        returns ``[N_dst, F_out]``.

    Raises:
        ConfigError: Unknown aggregator, or ``edge_weight`` with an aggregator other than "mean".
    """

    def __init__(self, in_dim: int, out_dim: int, *, aggregator: str = "mean", root_weight: bool | None = None,
                 normalize: bool = False, bias: bool = True) -> None:
        super().__init__()
        aggregator = str(aggregator).lower()
        if aggregator not in AGGREGATORS:
            raise ConfigError(f"SAGEConv: expected aggregator in {AGGREGATORS}, got {aggregator!r}.")
        self.in_dim, self.out_dim, self.aggregator, self.normalize = in_dim, out_dim, aggregator, normalize
        self.root_weight = aggregator != "gcn" if root_weight is None else root_weight
        self.pool = nn.Linear(in_dim, in_dim) if aggregator == "pool" else None
        self.lin_neigh = nn.Linear(in_dim, out_dim, bias=False)
        self.lin_root = nn.Linear(in_dim, out_dim, bias=False) if self.root_weight else None
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self._constant = ConstantAggregate()  # mean of a constant input (raw features), computed once
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for linear in (self.pool, self.lin_neigh, self.lin_root):
            if linear is not None:
                nn.init.xavier_uniform_(linear.weight, gain=nn.init.calculate_gain("relu"))
                if linear.bias is not None:
                    nn.init.zeros_(linear.bias)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: NodeInput, edge_weight: Tensor | None = None) -> Tensor:
        x_src, x_dst = split_features(graph, x, self.in_dim, "SAGEConv.forward")
        if edge_weight is not None:
            if self.aggregator != "mean":
                raise ConfigError(f"SAGEConv.forward: expected edge_weight only with the mean aggregator, got "
                                  f"aggregator={self.aggregator!r}. Drop edge_weight or use aggregator='mean'.")
            check_edge_features(graph, edge_weight, None, "edge_weight", "SAGEConv.forward")
        project_first = self.out_dim < self.in_dim
        if (project_first and self.aggregator == "mean" and self.lin_root is not None
                and not isinstance(x, (tuple, list))):
            return self._project_first_fused(graph, x_src, edge_weight)
        # ``agg``: the aggregated neighbourhood, still [N_dst, F_in] unless W_neigh was applied first
        if self.aggregator == "pool":
            agg = saga(graph, src=F.relu(self.pool(x_src)), apply_edge=fn.copy_src, gather="max")
            return self._post(agg, x_dst, projected=False)  # pooled features are F_in wide
        if self.aggregator == "mean" and edge_weight is None and not project_first:
            agg = self._constant(graph, x_src, lambda: saga(graph, src=x_src, apply_edge=fn.copy_src, gather="mean"))
        elif self.aggregator == "mean":
            h = self._pre(x_src)
            agg = (saga(graph, src=h, apply_edge=fn.copy_src, gather="mean") if edge_weight is None
                   else saga(graph, src=h, edge=edge_weight.to(h.dtype), apply_edge=fn.src_mul_edge))
        else:  # gcn: (x_v + sum_u x_u) / (deg_v + 1)
            agg = self._gcn_mean(saga(graph, src=self._pre(x_src), apply_edge=fn.copy_src), x_dst,
                                 graph.in_degrees())
        return self._post(agg, x_dst)

    def _project_first_fused(self, graph: Graph, x: Tensor, edge_weight: Tensor | None) -> Tensor:
        """Mean aggregator with ``F_out < F_in``: ``W_neigh`` and ``W_root`` as one GEMM over ``x``
        (``_pre_root``); ``x_dst`` is the first ``N_dst`` rows of ``x``."""
        neigh_in, root = self._pre_root(x)
        neigh = (saga(graph, src=neigh_in, apply_edge=fn.copy_src, gather="mean") if edge_weight is None
                 else saga(graph, src=neigh_in, edge=edge_weight.to(neigh_in.dtype), apply_edge=fn.src_mul_edge))
        num_dst = graph.num_dst_nodes
        return self._post_root(neigh, root if root.shape[0] == num_dst else root[:num_dst])

    # -- SAGA stages of the mean / gcn aggregators (pool reduces with a max: no stage split) -----------------
    def _pre(self, h: Tensor) -> Tensor:
        """ApplyVertex before aggregation: ``h W_neigh^T`` when ``W_neigh`` comes first, else ``h``."""
        return F.linear(h, self.lin_neigh.weight) if self.out_dim < self.in_dim else h

    def _gcn_mean(self, total: Tensor, x_dst: Tensor, in_degrees: Tensor) -> Tensor:
        """The gcn aggregator's ``(x_v + sum_u x_u) / (deg_v + 1)`` from the aggregated sum ``total``."""
        total = total + self._pre(x_dst)
        return total / (in_degrees.to(total.dtype).unsqueeze(-1) + 1.0)

    def _post(self, agg: Tensor, x_dst: Tensor | None, projected: bool | None = None) -> Tensor:
        """ApplyVertex after aggregation: ``W_neigh`` (unless it came first: ``projected``, by default when
        ``F_out < F_in``), bias, root term, normalisation."""
        if self.out_dim < self.in_dim if projected is None else projected:
            out = agg if self.bias is None else agg + self.bias
        else:  # one addmm writes the output (bias fused)
            out = (torch.addmm(self.bias, agg, self.lin_neigh.weight.t()) if self.bias is not None
                   else agg @ self.lin_neigh.weight.t())
        if self.lin_root is not None:
            # in place into a fresh output (addmm saves its matrices, never its output); never into ``agg``
            root = self.lin_root.weight.t()
            out = torch.addmm(out, x_dst, root) if out is agg else out.addmm_(x_dst, root)
        return self._finish(out)

    def _pre_root(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """The aggregation input and the root term from one pass over ``h``: ``h [W_neigh; W_root]^T`` when
        ``W_neigh`` comes first (one ``[N, 2 F_out]`` GEMM forward and one for the input gradient)."""
        if self.out_dim < self.in_dim:
            weight = torch.cat([self.lin_neigh.weight, self.lin_root.weight], dim=0)  # [2 F_out, F_in]
            neigh_in, root = F.linear(h, weight).split(self.out_dim, dim=1)
            return neigh_in, root
        return h, F.linear(h, self.lin_root.weight)

    def _post_root(self, agg: Tensor, root: Tensor) -> Tensor:
        """``_post`` given the root term of ``_pre_root``."""
        out = agg + root if self.out_dim < self.in_dim else torch.addmm(root, agg, self.lin_neigh.weight.t())
        if self.bias is not None:
            out = out.add_(self.bias)
        return self._finish(out)

    def stages(self) -> Stages:
        """This layer as SAGA stages (:mod:`.stages`), for the mean and gcn aggregators.

        Raises:
            ConfigError: The pool aggregator (a max over source tiles has no tiled backward).
        """
        if self.aggregator not in ("mean", "gcn"):
            raise ConfigError(f"SAGEConv.stages: expected aggregator 'mean' or 'gcn', got {self.aggregator!r}. "
                              "A max over source tiles has no tiled backward; run it block-wise (BlockwiseStack).")
        first, gcn, neigh = self.out_dim < self.in_dim, self.aggregator == "gcn", self.lin_neigh.weight

        def post(a: Tensor, h: Tensor | None, rows: RowContext) -> Tensor:
            return self._post(self._gcn_mean(a, h, rows.in_degrees) if gcn else a, h)

        shortcuts: dict = {}
        if not gcn and not self.normalize:
            shortcuts["post_grad_a"] = (lambda grad: grad) if first else (lambda grad: grad @ neigh)
        if not gcn and self.lin_root is not None:
            shortcuts.update(pre_root=self._pre_root, post_root=lambda a, r, rows: self._post_root(a, r))
        return Stages(self, Aggregation("sum" if gcn else "mean"), self.out_dim if first else self.in_dim,
                      self.out_dim, self._pre, post, pre_has_params=first,
                      post_uses_input=gcn or self.lin_root is not None, post_uses_degrees=gcn, **shortcuts)

    def _finish(self, out: Tensor) -> Tensor:
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, aggregator={self.aggregator!r}, root_weight={self.root_weight}, "
                f"normalize={self.normalize}")
