"""HGTConv: Heterogeneous Graph Transformer layer (Hu, Dong, Wang & Sun, WWW 2020)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError, GraphFormatError
from ...graph.hetero import EdgeType, HeteroGraph
from ...graph.hetero_view import typed_edges
from ...saga import edge_softmax, fn, saga
from ...saga.relational import gather_mm, relation_pairs
from .typed_linear import TypedLinear


class HGTConv(nn.Module):
    r"""HGT layer of Hu et al., "Heterogeneous Graph Transformer", WWW 2020 (arXiv:2003.01332).

    For an edge :math:`e = (s, r, t)` and head :math:`i` (eq. 3–6):

    .. math::
        \mathrm{ATT}^i(e) = \mathrm{softmax}_{s \in N(t)}\Big(K^i(s)\, W^{ATT}_{i,r}\, Q^i(t)^\top
            \cdot \frac{\mu_{\langle \tau(s), r, \tau(t)\rangle}}{\sqrt{d}}\Big),\quad
        \mathrm{MSG}^i(e) = V^i(s)\, W^{MSG}_{i,r}

    with ``K``, ``Q``, ``V`` linear per node type; the softmax runs over all in-edges of ``t`` across relations.
    The update (eq. 7) is :math:`H'_t = \sigma(\alpha_{\tau(t)})\,\text{A-Linear}_{\tau(t)}(\mathrm{GELU}(\tilde
    H_t)) + (1 - \sigma(\alpha_{\tau(t)}))\, H_t` (the gated skip needs ``in_dim == out_dim``; without it the
    residual is dropped).

    Runs on the homogeneous view: ``K W^{ATT}_r`` and ``V W^{MSG}_r`` are one matmul per relation over the
    distinct ``(relation, source)`` pairs, the scores one fused gSDDMM, the aggregation one fused gSpMM.

    Args:
        in_dim, out_dim: Feature sizes (``out_dim`` divisible by ``num_heads``).
        ntypes, canonical_etypes: The graph's types (their order fixes the parameters).
        num_heads: Heads ``H``.
        dropout: Dropout on the updated features.
        layer_norm: Layer normalisation of the output (per node type), as the reference code's ``use_norm``.

    Shapes:
        graph: ``HeteroGraph`` / ``HeteroBlock`` with these types; x: ``{ntype: [N_src_t, F_in]}`` (every type);
        returns ``{ntype: [N_dst_t, F_out]}``.
    """

    def __init__(self, in_dim: int, out_dim: int, ntypes: list[str], canonical_etypes: list[EdgeType], *,
                 num_heads: int = 4, dropout: float = 0.2, layer_norm: bool = False) -> None:
        super().__init__()
        if out_dim % num_heads:
            raise ConfigError(f"HGTConv: expected out_dim divisible by num_heads, got {out_dim} and {num_heads}.")
        self.in_dim, self.out_dim, self.num_heads, self.head_dim = in_dim, out_dim, num_heads, out_dim // num_heads
        self.ntypes, self.canonical_etypes = list(ntypes), [tuple(e) for e in canonical_etypes]
        num_t, num_r = len(self.ntypes), len(self.canonical_etypes)
        self.key = TypedLinear(in_dim, out_dim, num_t)
        self.query = TypedLinear(in_dim, out_dim, num_t)
        self.value = TypedLinear(in_dim, out_dim, num_t)
        self.out = TypedLinear(out_dim, out_dim, num_t)
        self.w_att = nn.Parameter(torch.empty(num_r, num_heads, self.head_dim, self.head_dim))
        self.w_msg = nn.Parameter(torch.empty(num_r, num_heads, self.head_dim, self.head_dim))
        self.prior = nn.Parameter(torch.ones(num_r, num_heads))
        self.skip = nn.Parameter(torch.ones(num_t)) if in_dim == out_dim else None
        self.norms = nn.ModuleList([nn.LayerNorm(out_dim) for _ in self.ntypes]) if layer_norm else None
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.key, self.query, self.value, self.out):
            module.reset_parameters()
        nn.init.xavier_uniform_(self.w_att.view(-1, self.head_dim, self.head_dim))
        nn.init.xavier_uniform_(self.w_msg.view(-1, self.head_dim, self.head_dim))
        nn.init.ones_(self.prior)
        if self.skip is not None:
            nn.init.ones_(self.skip)

    def forward(self, graph: HeteroGraph, x: Mapping[str, Tensor]) -> dict[str, Tensor]:
        view = graph.to_homogeneous()
        try:
            edge_type = typed_edges(graph, self.canonical_etypes)
        except GraphFormatError as err:
            raise ConfigError(f"HGTConv: expected a graph with the layer's types: {err}") from None
        type_pos = {t: i for i, t in enumerate(self.ntypes)}
        if [t for t in graph.ntypes if t not in type_pos]:
            raise ConfigError(f"HGTConv: expected a graph with the layer's types {self.ntypes}, got node types "
                              f"{list(graph.ntypes)}.")
        src_counts = [graph.num_src_nodes(t) if t in graph.ntypes else 0 for t in self.ntypes]
        dst_counts = [graph.num_dst_nodes(t) if t in graph.ntypes else 0 for t in self.ntypes]
        order = sorted(graph.ntypes, key=type_pos.__getitem__)
        if order != list(graph.ntypes):
            raise ConfigError(f"HGTConv: expected the graph's node types in the layer's order {self.ntypes}, got "
                              f"{list(graph.ntypes)}.")
        x_src = view.cat_src(x, "HGTConv.forward")
        x_dst = torch.cat([x[t][: graph.num_dst_nodes(t)] for t in graph.ntypes])
        heads, width = self.num_heads, self.head_dim
        k = self.key(x_src, src_counts).view(-1, heads, width)
        v = self.value(x_src, src_counts).view(-1, heads, width)
        q = self.query(x_dst, dst_counts).view(-1, heads, width)
        pairs = relation_pairs(view.graph, edge_type, len(self.canonical_etypes))
        k_pair = gather_mm(k, pairs.pair_src, self.w_att, pairs.pair_counts)
        v_pair = gather_mm(v, pairs.pair_src, self.w_msg, pairs.pair_counts)
        score = saga(pairs.graph, src=k_pair, dst=q, apply_edge=fn.src_dot_dst, gather=None)  # [E, H, 1]
        score = score * (self.prior[edge_type[pairs.edge_order]] / math.sqrt(width)).unsqueeze(-1)
        attn = edge_softmax(pairs.graph, score)
        agg = saga(pairs.graph, src=v_pair, edge=attn, apply_edge=fn.src_mul_edge, gather="sum")
        h = self.dropout(self.out(F.gelu(agg.reshape(-1, self.out_dim)), dst_counts))
        if self.skip is not None:
            alpha = torch.sigmoid(self.skip).repeat_interleave(torch.tensor(dst_counts, device=h.device)).unsqueeze(1)
            h = alpha * h + (1 - alpha) * x_dst
        out = view.split_dst(h)
        if self.norms is not None:
            out = {t: self.norms[type_pos[t]](value) for t, value in out.items()}
        return out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_heads={self.num_heads}, ntypes={len(self.ntypes)}, "
                f"relations={len(self.canonical_etypes)}")
