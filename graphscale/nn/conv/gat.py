"""GATConv: multi-head graph attention (Veličković et al., ICLR 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import edge_softmax, fn, saga
from .inputs import NodeInput, split_features
from .normalization import with_self_loops


class GATConv(nn.Module):
    r"""Graph attention layer of Veličković et al., "Graph Attention Networks", ICLR 2018 (arXiv:1710.10903).

    .. math::
        \alpha^k_{uv} = \operatorname{softmax}_{u \to v}\big(\mathrm{LeakyReLU}(a_l^{k\top} W^k x_u
            + a_r^{k\top} W^k x_v)\big), \qquad
        h'_v = \big\Vert_{k=1}^{H} \sum_{u \to v} \alpha^k_{uv} W^k x_u \quad(\text{or the mean over } k)

    Never builds ``E x H x F`` messages: features are projected once on the nodes to ``[N, H, F]``; the
    per-node terms ``el = (h * a_l).sum(-1)`` and ``er = (h * a_r).sum(-1)`` are combined per edge by one
    gSDDMM (``[E, H, 1]``), followed by LeakyReLU, ``edge_softmax``, attention dropout and one fused
    gSpMM (``mul``, ``sum``) of ``[N, H, F]`` node features with ``[E, H, 1]`` edge weights.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Feature size per head ``F``.
        num_heads: Number of attention heads ``H``.
        concat: Concatenate the heads (``[N, H * F]``); False averages them (``[N, F]``).
        feat_drop: Dropout on the input features.
        attn_drop: Dropout on the normalised attention weights.
        negative_slope: LeakyReLU slope of the attention logits.
        residual: Add a (projected, when sizes differ) skip connection from ``x_dst``.
        add_self_loops: Let every node attend to itself (the paper's neighbourhood includes ``v``).
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``.
        returns: ``[N_dst, H * F]`` (concat) or ``[N_dst, F]``; with ``return_attention`` also the
        attention ``[E', H]`` over the edges of the graph it ran on (self-loops appended after the edges).
    """

    def __init__(self, in_dim: int, out_dim: int, num_heads: int = 1, *, concat: bool = True,
                 feat_drop: float = 0.0, attn_drop: float = 0.0, negative_slope: float = 0.2,
                 residual: bool = False, add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.num_heads, self.concat = in_dim, out_dim, num_heads, concat
        self.negative_slope, self.add_self_loops = negative_slope, add_self_loops
        self.linear = nn.Linear(in_dim, num_heads * out_dim, bias=False)
        self.attn_src = nn.Parameter(torch.empty(1, num_heads, out_dim))
        self.attn_dst = nn.Parameter(torch.empty(1, num_heads, out_dim))
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
        nn.init.xavier_normal_(self.linear.weight, gain=gain)
        nn.init.xavier_normal_(self.attn_src, gain=gain)
        nn.init.xavier_normal_(self.attn_dst, gain=gain)
        if isinstance(self.residual, nn.Linear):
            nn.init.xavier_normal_(self.residual.weight, gain=gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: NodeInput, return_attention: bool = False):
        x_src, x_dst = split_features(graph, x, self.in_dim, "GATConv.forward")
        heads, width = self.num_heads, self.out_dim
        h_src = self.linear(self.feat_drop(x_src)).view(-1, heads, width)          # [N_src, H, F]
        if isinstance(x, Tensor):  # one tensor: destination nodes are the first source nodes
            h_dst = h_src if h_src.shape[0] == graph.num_dst_nodes else h_src[: graph.num_dst_nodes]
        else:
            h_dst = self.linear(self.feat_drop(x_dst)).view(-1, heads, width)      # [N_dst, H, F]
        el = (h_src * self.attn_src).sum(-1, keepdim=True)                          # [N_src, H, 1]
        er = (h_dst * self.attn_dst).sum(-1, keepdim=True)                          # [N_dst, H, 1]
        if self.add_self_loops:
            graph = with_self_loops(graph)
        logits = F.leaky_relu(saga(graph, src=el, dst=er, apply_edge=fn.src_add_dst, gather=None),
                              self.negative_slope)  # [E, H, 1]
        attention = edge_softmax(graph, logits)
        out = saga(graph, src=h_src, edge=self.attn_drop(attention), apply_edge=fn.src_mul_edge)  # [N_dst, H, F]
        out = finish_heads(out, x_dst, self.residual, self.concat, self.bias)
        return (out, attention.squeeze(-1)) if return_attention else out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_heads={self.num_heads}, concat={self.concat}, "
                f"negative_slope={self.negative_slope}, add_self_loops={self.add_self_loops}")


def finish_heads(out: Tensor, x_dst: Tensor, residual: nn.Module | None, concat: bool,
                 bias: Tensor | None) -> Tensor:
    """Residual, head concatenation or mean, bias: the tail every attention layer shares.

    Shapes:
        out: ``[N_dst, H, F]``; x_dst: ``[N_dst, F_in]``; returns ``[N_dst, H * F]`` or ``[N_dst, F]``.
    """
    if residual is not None:
        out = out + residual(x_dst).view_as(out)
    out = out.flatten(1) if concat else out.mean(1)
    return out if bias is None else out + bias
