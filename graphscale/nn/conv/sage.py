"""SAGEConv: GraphSAGE neighbourhood aggregation (Hamilton, Ying & Leskovec, NeurIPS 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError
from ...graph import Graph
from ...saga import fn, saga
from .utils import ConstantAggregate, NodeInput, check_edge_features, split_features

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
        elif self.aggregator == "mean" and edge_weight is None and not project_first:
            agg = self._constant(graph, x_src, lambda: saga(graph, src=x_src, apply_edge=fn.copy_src, gather="mean"))
        elif self.aggregator == "mean":
            h = self.lin_neigh(x_src) if project_first else x_src
            agg = (saga(graph, src=h, apply_edge=fn.copy_src, gather="mean") if edge_weight is None
                   else saga(graph, src=h, edge=edge_weight.to(h.dtype), apply_edge=fn.src_mul_edge))
        else:  # gcn: (x_v + sum_u x_u) / (deg_v + 1)
            h_src = self.lin_neigh(x_src) if project_first else x_src
            h_dst = self.lin_neigh(x_dst) if project_first else x_dst
            total = saga(graph, src=h_src, apply_edge=fn.copy_src) + h_dst
            agg = total / (graph.in_degrees().to(total.dtype).unsqueeze(-1) + 1.0)
        if project_first and self.aggregator != "pool":
            out = agg if self.bias is None else agg + self.bias
        else:
            # one addmm writes the output (bias fused); the root GEMM below adds into it in place
            out = (torch.addmm(self.bias, agg, self.lin_neigh.weight.t()) if self.bias is not None
                   else agg @ self.lin_neigh.weight.t())
        if self.lin_root is not None:
            # in place: addmm saves its matrices, never its output, so autograd allows the update
            out = out.addmm_(x_dst, self.lin_root.weight.t())
        return self._finish(out)

    def _project_first_fused(self, graph: Graph, x: Tensor, edge_weight: Tensor | None) -> Tensor:
        """Mean aggregator with ``F_out < F_in``: ``W_neigh`` and ``W_root`` as one GEMM over ``x``.

        ``x [W_neigh; W_root]^T`` gives both projections in one pass over ``x`` forward and one
        ``[N, 2 F_out] x [2 F_out, F_in]`` GEMM for the input gradient backward (instead of two GEMMs
        writing ``[N, F_in]`` each plus their sum). ``x_dst`` is the first ``N_dst`` rows of ``x``.
        """
        weight = torch.cat([self.lin_neigh.weight, self.lin_root.weight], dim=0)  # [2 F_out, F_in]
        neigh_in, root = (x @ weight.t()).split(self.out_dim, dim=1)
        neigh = (saga(graph, src=neigh_in, apply_edge=fn.copy_src, gather="mean") if edge_weight is None
                 else saga(graph, src=neigh_in, edge=edge_weight.to(neigh_in.dtype), apply_edge=fn.src_mul_edge))
        num_dst = graph.num_dst_nodes
        out = neigh + (root if root.shape[0] == num_dst else root[:num_dst])
        if self.bias is not None:
            out = out.add_(self.bias)
        return self._finish(out)

    def _finish(self, out: Tensor) -> Tensor:
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, aggregator={self.aggregator!r}, root_weight={self.root_weight}, "
                f"normalize={self.normalize}")
