"""APPNP: personalised-PageRank propagation (Klicpera, Bojchevski & Günnemann, ICLR 2019)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, check_edge_features, require_square, split_features
from .normalization import symmetric_norm, with_self_loops


class APPNP(nn.Module):
    r"""Approximate personalised propagation of neural predictions, Klicpera et al., "Predict then
    Propagate: Graph Neural Networks meet Personalized PageRank", ICLR 2019 (arXiv:1810.05997).

    .. math::
        Z^{(0)} = H, \qquad Z^{(k+1)} = (1 - \alpha)\, \hat D^{-1/2} \hat A \hat D^{-1/2} Z^{(k)} + \alpha H,
        \qquad \hat A = A + I

    returning :math:`Z^{(K)}`. A parameter-free propagation: put it after any predictor (an MLP in the
    paper). With ``edge_drop`` each step uses its own dropout mask on the normalised edge weights
    (the paper's dropout on the adjacency), in training mode only.

    Args:
        K: Number of power-iteration steps.
        alpha: Teleport (restart) probability.
        edge_drop: Dropout probability of the edge weights per step.
        add_self_loops: Use ``A + I`` (the paper's choice).

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes (a ``Block`` only with ``N_src == N_dst``).
        x: ``[N, F]`` (or a pair whose first item is used); edge_weight: optional ``[E]``.
        returns: ``[N, F]``.

    Raises:
        GraphFormatError: A Block with more source than destination nodes (K steps need one node set).
    """

    def __init__(self, K: int = 10, alpha: float = 0.1, *, edge_drop: float = 0.0,
                 add_self_loops: bool = True) -> None:
        super().__init__()
        self.K, self.alpha, self.edge_drop, self.add_self_loops = int(K), float(alpha), float(edge_drop), add_self_loops

    def forward(self, graph: Graph, x: NodeInput, edge_weight: Tensor | None = None) -> Tensor:
        where = "APPNP.forward"
        require_square(graph, where, x)
        h, _ = split_features(graph, x, None, where)
        if edge_weight is not None:
            check_edge_features(graph, edge_weight, None, "edge_weight", where)
        if self.add_self_loops and edge_weight is None:
            graph = with_self_loops(graph)
        elif self.add_self_loops:
            graph, edge_weight = with_self_loops(graph, edge_weight)
        norm = symmetric_norm(graph, h.dtype, edge_weight)
        z = h
        for _ in range(self.K):
            weight = F.dropout(norm, self.edge_drop, self.training) if self.edge_drop > 0 else norm
            z = (1.0 - self.alpha) * saga(graph, src=z, edge=weight, apply_edge=fn.src_mul_edge) + self.alpha * h
        return z

    def extra_repr(self) -> str:
        return f"K={self.K}, alpha={self.alpha}, edge_drop={self.edge_drop}, add_self_loops={self.add_self_loops}"
