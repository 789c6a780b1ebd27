"""RGCNConv: relational graph convolution (Schlichtkrull et al., ESWC 2018), on the fused multi-relation path."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...graph import Graph
from ...saga.relational import relational_saga
from .inputs import NodeInput, split_features

REGULARIZERS = ("none", "basis", "block")


class RGCNConv(nn.Module):
    r"""R-GCN layer of Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional Networks",
    ESWC 2018 (arXiv:1703.06103), eq. (2):

    .. math::
        h'_i = W_0 h_i + \sum_{r} \sum_{j \in N_i^r} \frac{1}{c_{i,r}} W_r h_j + b,\qquad c_{i,r} = |N_i^r|

    with the weight regularisers of eq. (3) and (4):

    * ``"basis"``: :math:`W_r = \sum_{b=1}^{B} a_{rb} V_b` (``num_bases`` B shared matrices);
    * ``"block"``: :math:`W_r = \mathrm{diag}(Q_{1r}, \dots, Q_{Br})` (``num_blocks`` B diagonal blocks of size
      ``F_in / B x F_out / B``).

    Runs as one matmul per relation over the distinct ``(relation, source)`` pairs and one fused gather
    (:func:`graphscale.saga.relational.relational_saga`): no per-edge weight matrices, no ``E x F`` messages.

    Args:
        in_dim, out_dim: Feature sizes.
        num_relations: ``R``; edge types are ids in ``[0, R)``.
        regularizer: "none", "basis" or "block".
        num_bases: ``B`` for "basis" (default ``R``: no sharing).
        num_blocks: ``B`` for "block"; must divide both sizes.
        self_loop: Add the root term ``W_0 h_i``.
        norm: "right" (``1 / c_{i,r}``) or "none" (plain sum).
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph`` / ``Block`` (``N_src -> N_dst``); x: ``[N_src, F_in]`` or ``(x_src, x_dst)``;
        edge_type: ``[E]`` int relation ids; returns ``[N_dst, F_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_relations: int, *, regularizer: str = "none",
                 num_bases: int | None = None, num_blocks: int | None = None, self_loop: bool = True,
                 norm: str = "right", bias: bool = True) -> None:
        super().__init__()
        regularizer = str(regularizer).lower()
        if regularizer not in REGULARIZERS:
            raise ConfigError(f"RGCNConv: expected regularizer in {REGULARIZERS}, got {regularizer!r}.")
        if norm not in ("right", "none"):
            raise ConfigError(f"RGCNConv: expected norm 'right' or 'none', got {norm!r}.")
        if num_relations < 1:
            raise ConfigError(f"RGCNConv: expected num_relations >= 1, got {num_relations}.")
        self.in_dim, self.out_dim, self.num_relations = in_dim, out_dim, num_relations
        self.regularizer, self.norm = regularizer, norm
        if regularizer == "basis":
            self.num_bases = num_bases or num_relations
            self.bases = nn.Parameter(torch.empty(self.num_bases, in_dim, out_dim))
            self.coefficients = nn.Parameter(torch.empty(num_relations, self.num_bases))
        elif regularizer == "block":
            blocks = num_blocks or 1
            if in_dim % blocks or out_dim % blocks:
                raise ConfigError(f"RGCNConv: expected num_blocks to divide in_dim and out_dim, got num_blocks="
                                  f"{blocks} for {in_dim} -> {out_dim}.")
            self.num_blocks = blocks
            self.blocks = nn.Parameter(torch.empty(num_relations, blocks, in_dim // blocks, out_dim // blocks))
        else:
            self.weight = nn.Parameter(torch.empty(num_relations, in_dim, out_dim))
        self.root = nn.Linear(in_dim, out_dim, bias=False) if self_loop else None
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        gain = nn.init.calculate_gain("relu")
        if self.regularizer == "basis":
            nn.init.xavier_uniform_(self.bases.view(-1, self.out_dim), gain=gain)
            nn.init.xavier_uniform_(self.coefficients, gain=gain)
        elif self.regularizer == "block":
            bound = gain * math.sqrt(6.0 / (self.blocks.shape[-2] + self.blocks.shape[-1]))
            nn.init.uniform_(self.blocks, -bound, bound)
        else:
            for r in range(self.num_relations):
                nn.init.xavier_uniform_(self.weight[r], gain=gain)
        if self.root is not None:
            nn.init.xavier_uniform_(self.root.weight, gain=gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def relation_weights(self) -> Tensor:
        """``[R, F_in, F_out]`` (``[R, B, F_in/B, F_out/B]`` for block-diagonal weights)."""
        if self.regularizer == "basis":
            return torch.einsum("rb,bio->rio", self.coefficients, self.bases)
        return self.blocks if self.regularizer == "block" else self.weight

    def forward(self, graph: Graph, x: NodeInput, edge_type: Tensor) -> Tensor:
        x_src, x_dst = split_features(graph, x, self.in_dim, "RGCNConv.forward")
        if edge_type.dim() != 1 or edge_type.numel() != graph.num_edges:
            raise ShapeError(f"RGCNConv.forward: expected edge_type [{graph.num_edges}], got "
                             f"{tuple(edge_type.shape)}.")
        weight = self.relation_weights()
        if self.regularizer == "block":
            blocks = self.num_blocks
            out = relational_saga(graph, x_src.view(x_src.shape[0], blocks, -1), weight, edge_type, norm=self.norm)
            out = out.reshape(out.shape[0], self.out_dim)
        else:
            out = relational_saga(graph, x_src, weight, edge_type, norm=self.norm)
        if self.root is not None:
            out = out + self.root(x_dst)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_relations={self.num_relations}, "
                f"regularizer={self.regularizer!r}")
