"""GatedGCNConv: residual gated graph convnet with edge features (Bresson & Laurent, 2017)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, check_edge_features, split_features


class GatedGCNConv(nn.Module):
    r"""Residual gated graph convnet of Bresson & Laurent, "Residual Gated Graph ConvNets", 2017
    (arXiv:1711.07553), with explicit edge features, batch norm and residuals as in Dwivedi et al.,
    "Benchmarking Graph Neural Networks", JMLR 2023 (arXiv:2003.00982).

    .. math::
        \hat e_{uv} = C e_{uv} + A x_v + B x_u, \qquad
        \eta_{uv} = \frac{\sigma(\hat e_{uv})}{\sum_{w \to v} \sigma(\hat e_{wv}) + \varepsilon}

        h'_v = x_v + \mathrm{ReLU}\Big(\mathrm{BN}\big(U x_v + \sum_{u \to v} \eta_{uv} \odot V x_u\big)\Big),
        \qquad e'_{uv} = e_{uv} + \mathrm{ReLU}(\mathrm{BN}(\hat e_{uv}))

    (dropout after the ReLUs). Edge features are ``[E, F]`` by nature; the gated aggregation runs as
    two fused gSpMMs (``mul``/``sum`` for the numerator, ``copy_rhs``/``sum`` for the denominator) on
    the node projections, so no further per-edge message tensor is built.

    Args:
        in_dim: Input node feature size ``F_in``.
        out_dim: Output node and edge feature size ``F_out``.
        edge_dim: Input edge feature size ``F_e``; defaults to ``in_dim``.
        batch_norm: Batch-normalise node and edge updates.
        residual: Add the inputs to the outputs; only possible when ``in_dim == out_dim`` (and
            ``edge_dim == out_dim`` for the edge stream), otherwise the corresponding residual is off.
        dropout: Dropout on the updates.
        eps: Stabiliser of the gate normalisation.
        edge_update: Compute ``e'``; False for a last layer whose edge output is unused (then the edge
            batch norm does not exist and ``e`` is returned as None), so no parameter is left without gradient.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes and ``E`` edges, or a ``Block``.
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``; edge_attr: ``[E, F_e]``.
        returns: ``(h [N_dst, F_out], e [E, F_out] or None)``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, edge_dim: int | None = None, batch_norm: bool = True,
                 residual: bool = True, dropout: float = 0.0, eps: float = 1e-6, edge_update: bool = True) -> None:
        super().__init__()
        edge_dim = in_dim if edge_dim is None else edge_dim
        self.in_dim, self.out_dim, self.edge_dim, self.eps = in_dim, out_dim, edge_dim, eps
        self.node_residual = residual and in_dim == out_dim
        self.edge_residual = residual and edge_dim == out_dim
        self.edge_update = edge_update
        self.lin_a = nn.Linear(in_dim, out_dim)   # destination term of the gate
        self.lin_b = nn.Linear(in_dim, out_dim)   # source term of the gate
        self.lin_c = nn.Linear(edge_dim, out_dim)  # edge term of the gate
        self.lin_u = nn.Linear(in_dim, out_dim)   # self update
        self.lin_v = nn.Linear(in_dim, out_dim)   # neighbour message
        self.bn_node = nn.BatchNorm1d(out_dim) if batch_norm else nn.Identity()
        self.bn_edge = nn.BatchNorm1d(out_dim) if batch_norm and edge_update else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, graph: Graph, x: NodeInput, edge_attr: Tensor) -> tuple[Tensor, Tensor | None]:
        where = "GatedGCNConv.forward"
        x_src, x_dst = split_features(graph, x, self.in_dim, where)
        check_edge_features(graph, edge_attr, self.edge_dim, "edge_attr", where)
        gate_dst, gate_src = self.lin_a(x_dst), self.lin_b(x_src)                 # [N_dst, F], [N_src, F]
        gate = saga(graph, src=gate_src, dst=gate_dst, apply_edge=fn.src_add_dst, gather=None) + self.lin_c(edge_attr)
        sigma = gate.sigmoid()
        numerator = saga(graph, src=self.lin_v(x_src), edge=sigma, apply_edge=fn.src_mul_edge)  # [N_dst, F]
        denominator = saga(graph, edge=sigma, apply_edge=fn.copy_edge)                       # [N_dst, F]
        h = self.lin_u(x_dst) + numerator / (denominator + self.eps)
        h = self.dropout(F.relu(self.bn_node(h)))
        if self.node_residual:
            h = x_dst + h
        if not self.edge_update:
            return h, None
        e = self.dropout(F.relu(self.bn_edge(gate)))
        return h, (edge_attr + e if self.edge_residual else e)

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, edge_dim={self.edge_dim}, node_residual={self.node_residual}, "
                f"edge_residual={self.edge_residual}")
