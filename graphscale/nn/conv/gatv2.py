"""GATv2Conv: dynamic graph attention (Brody, Alon & Yahav, ICLR 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import Edges, edge_softmax, fn, saga
from .gat import finish_heads
from .inputs import NodeInput, split_features
from .normalization import with_self_loops


class GATv2Conv(nn.Module):
    r"""GATv2 layer of Brody et al., "How Attentive are Graph Attention Networks?", ICLR 2022
    (arXiv:2105.14491).

    .. math::
        e^k_{uv} = a^{k\top} \mathrm{LeakyReLU}\big(W^k_s x_u + W^k_t x_v\big), \qquad
        \alpha^k_{uv} = \operatorname{softmax}_{u \to v}(e^k_{uv}), \qquad
        h'_v = \big\Vert_{k=1}^{H} \sum_{u \to v} \alpha^k_{uv} W^k_s x_u

    (the paper's :math:`a^\top \mathrm{LeakyReLU}(W [x_v \Vert x_u])` with ``W = [W_t, W_s]``).

    Memory: unlike GAT, the nonlinearity sits *inside* the score, per edge and per feature, so the
    score cannot be split into per-node terms; ``[E, H, F]`` pre-activations are unavoidable. They are
    computed through SAGA's chunked fallback (``saga(..., gather=None)`` with a Python edge function),
    which holds at most one memory-budget-sized chunk of edges at a time and recomputes chunks in
    backward, so the full ``E x H x F`` tensor is never materialised (on graphs small enough for one
    chunk it is, briefly). Aggregation then uses the fused gSpMM with ``[E, H, 1]`` weights, as in GAT.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Feature size per head ``F``.
        num_heads: Number of attention heads ``H``.
        concat: Concatenate the heads (``[N, H * F]``); False averages them.
        feat_drop: Dropout on the input features.
        attn_drop: Dropout on the normalised attention weights.
        negative_slope: LeakyReLU slope inside the score.
        residual: Add a (projected, when sizes differ) skip connection from ``x_dst``.
        add_self_loops: Let every node attend to itself.
        share_weights: Use one matrix for ``W_s`` and ``W_t``.
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``.
        returns: ``[N_dst, H * F]`` (concat) or ``[N_dst, F]``; with ``return_attention`` also ``[E', H]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_heads: int = 1, *, concat: bool = True,
                 feat_drop: float = 0.0, attn_drop: float = 0.0, negative_slope: float = 0.2,
                 residual: bool = False, add_self_loops: bool = True, share_weights: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.num_heads, self.concat = in_dim, out_dim, num_heads, concat
        self.negative_slope, self.add_self_loops, self.share_weights = negative_slope, add_self_loops, share_weights
        self.lin_src = nn.Linear(in_dim, num_heads * out_dim, bias=False)
        self.lin_dst = None if share_weights else nn.Linear(in_dim, num_heads * out_dim, bias=False)
        self.attn = nn.Parameter(torch.empty(1, num_heads, out_dim))
        self.feat_drop = nn.Dropout(feat_drop)
        self.attn_drop = nn.Dropout(attn_drop)
        self.residual = None
        if residual:
            same = in_dim == num_heads * out_dim
            self.residual = nn.Identity() if same else nn.Linear(in_dim, num_heads * out_dim, bias=False)
        width = num_heads * out_dim if concat else out_dim
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        gain = nn.init.calculate_gain("relu")
        for module in (self.lin_src, self.lin_dst, self.residual):
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight, gain=gain)
        nn.init.xavier_normal_(self.attn, gain=gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _score(self, edges: Edges) -> Tensor:
        """Edge function: ``a . LeakyReLU(h_s[u] + h_t[v])`` per head, ``[E_c, H, 1]``."""
        pre = F.leaky_relu(edges.src + edges.dst, self.negative_slope)
        return (pre * self.attn).sum(-1, keepdim=True)

    def forward(self, graph: Graph, x: NodeInput, return_attention: bool = False):
        x_src, x_dst = split_features(graph, x, self.in_dim, "GATv2Conv.forward")
        heads, width = self.num_heads, self.out_dim
        lin_dst = self.lin_src if self.lin_dst is None else self.lin_dst
        x_src_dropped = self.feat_drop(x_src)
        x_dst_dropped = x_src_dropped[: graph.num_dst_nodes] if isinstance(x, Tensor) else self.feat_drop(x_dst)
        h_src = self.lin_src(x_src_dropped).view(-1, heads, width)                 # [N_src, H, F]
        h_dst = lin_dst(x_dst_dropped).view(-1, heads, width)                      # [N_dst, H, F]
        if self.add_self_loops:
            graph = with_self_loops(graph)
        logits = saga(graph, src=h_src, dst=h_dst, apply_edge=self._score, gather=None)  # [E, H, 1]
        attention = edge_softmax(graph, logits)
        out = saga(graph, src=h_src, edge=self.attn_drop(attention), apply_edge=fn.src_mul_edge)  # [N_dst, H, F]
        out = finish_heads(out, x_dst, self.residual, self.concat, self.bias)
        return (out, attention.squeeze(-1)) if return_attention else out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_heads={self.num_heads}, concat={self.concat}, "
                f"share_weights={self.share_weights}, add_self_loops={self.add_self_loops}")
