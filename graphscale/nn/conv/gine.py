"""GINEConv: GIN with edge features (Hu et al., ICLR 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import Edges, saga
from .gin import default_mlp
from .inputs import NodeInput, check_edge_features, split_features


def _relu_src_plus_edge(edges: Edges) -> Tensor:
    """Edge function ``ReLU(x_u + e_uv)``, ``[E_c, F]``."""
    return F.relu(edges.src + edges.data)


class GINEConv(nn.Module):
    r"""GIN layer with edge features of Hu et al., "Strategies for Pre-training Graph Neural Networks",
    ICLR 2020 (arXiv:1905.12265), in the form of PyG's ``GINEConv``.

    .. math::
        h'_v = \mathrm{MLP}\Big((1 + \epsilon)\, x_v + \sum_{u \to v} \mathrm{ReLU}(x_u + W_e e_{uv})\Big)

    The ReLU acts on each message, so messages are per edge; they run through SAGA's chunked fallback
    (a Python edge function, reduced chunk by chunk under a memory budget), never all at once.
    ``W_e`` exists only when ``edge_dim`` is given; otherwise edge features must already be ``F_in`` wide.

    Args:
        in_dim: Input node feature size ``F_in``.
        out_dim: Output feature size ``F_out`` (of the default MLP).
        edge_dim: Edge feature size ``F_e``; None when edge features are ``F_in`` wide.
        mlp: The update network ``F_in -> F_out``; default ``Linear -> ReLU -> Linear``.
        eps: Initial value of epsilon.
        learn_eps: Make epsilon a trainable parameter.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes and ``E`` edges, or a ``Block``.
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``; edge_attr: ``[E, F_e]``.
        returns: ``[N_dst, F_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, edge_dim: int | None = None, mlp: nn.Module | None = None,
                 eps: float = 0.0, learn_eps: bool = False) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.edge_dim, self.learn_eps = in_dim, out_dim, edge_dim, learn_eps
        self.edge_linear = nn.Linear(edge_dim, in_dim) if edge_dim is not None else None
        self.mlp = default_mlp(in_dim, out_dim) if mlp is None else mlp
        if learn_eps:
            self.eps = nn.Parameter(torch.tensor([float(eps)]))
        else:
            self.register_buffer("eps", torch.tensor([float(eps)]))

    def forward(self, graph: Graph, x: NodeInput, edge_attr: Tensor) -> Tensor:
        where = "GINEConv.forward"
        x_src, x_dst = split_features(graph, x, self.in_dim, where)
        check_edge_features(graph, edge_attr, self.in_dim if self.edge_dim is None else self.edge_dim,
                            "edge_attr", where)
        edge = edge_attr if self.edge_linear is None else self.edge_linear(edge_attr)
        messages = saga(graph, src=x_src, edge=edge.to(x_src.dtype), apply_edge=_relu_src_plus_edge, gather="sum")
        return self.mlp((1 + self.eps) * x_dst + messages)

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, edge_dim={self.edge_dim}, learn_eps={self.learn_eps}"
