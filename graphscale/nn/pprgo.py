r"""PPRGo (Bojchevski, Klicpera, Perozzi, Kapoor, Blais, Rózemberczki, Lukasik & Günnemann, "Scaling Graph
Neural Networks with Approximate PageRank", KDD 2020, arXiv:2007.01570).

.. math::
    Z_i = \sum_{j \in \mathcal{N}^{k}(i)} \pi^{(\epsilon)}_{ij}\, H_j, \qquad H = \mathrm{MLP}(X)

an MLP on each node's own features, its logits averaged over the top-``k`` nodes of the approximate
personalised PageRank row :math:`\pi^{(\epsilon)}_i` (push; :mod:`graphscale.sampling.ppr`). Training needs the
PPR rows of the training nodes only (:meth:`PPRGo.aggregate`). Inference (the paper's) computes ``H`` for all
nodes in batches and propagates it with ``K`` power-iteration steps of the PPR recursion with the same
normalisation as the training scores (:func:`ppr_propagate`):

.. math::
    Z^{(0)} = H, \qquad Z^{(t+1)} = \alpha H + (1 - \alpha)\, S Z^{(t)},

``S = D^{-1} A`` (``row``), ``D^{-1/2} A D^{-1/2}`` (``sym``) or ``A D^{-1}`` (``col``), where ``A`` is the
adjacency along which messages flow (``A_ij = 1`` for an edge ``j -> i``) and ``D`` the in-degrees (clamped to 1);
as ``K`` grows ``Z^{(K)}`` tends to the exact ``Pi H`` whose top-``k`` truncation training uses.

The model is registered as ``pprgo`` in ``NODE_MODELS``: ``model(graph, x)`` is that inference on a full graph.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ShapeError
from ..graph import Graph
from ..saga import fn, saga, segment_sum
from .functional import dropout as fast_dropout
from .models import NODE_MODELS, ModelSpec, per_layer_graphs

PPR_NORMALIZATIONS = ("row", "sym", "col")


def propagation_weights(graph: Graph, normalization: str, dtype: torch.dtype = torch.float32) -> Tensor:
    """Edge weights ``[E]`` of ``S`` (see the module docstring), cached on ``graph`` per normalisation and dtype."""
    def build() -> Tensor:
        degree = graph.in_degrees().to(dtype).clamp(min=1)
        src, dst = graph.src, graph.dst  # int32 or int64 indices (no int64 copies of a large graph's ids)
        if normalization == "row":
            return degree.reciprocal()[dst]
        if normalization == "col":
            return degree.reciprocal()[src]
        inv_sqrt = degree.rsqrt()
        return inv_sqrt[src] * inv_sqrt[dst]

    if normalization not in PPR_NORMALIZATIONS:
        raise ShapeError(f"propagation_weights: expected normalization in {PPR_NORMALIZATIONS}, got {normalization!r}.")
    return graph.cached(f"nn.pprgo.{normalization}.{dtype}", build)


def ppr_propagate(graph: Graph, h: Tensor, alpha: float, steps: int, normalization: str = "sym") -> Tensor:
    """``steps`` power-iteration steps ``Z <- alpha H + (1 - alpha) S Z`` from ``Z = H`` (PPRGo's inference).

    Shapes:
        graph: ``N`` nodes; h: ``[N, C]``; returns ``[N, C]``.
    """
    weight = propagation_weights(graph, normalization, h.dtype)
    z = h
    for _ in range(steps):
        z = (1.0 - alpha) * saga(graph, src=z, edge=weight, apply_edge=fn.src_mul_edge) + alpha * h
    return z


class PPRGo(nn.Module):
    """PPRGo's model: an MLP of ``num_layers`` linear layers (ReLU and dropout between them, dropout on the
    input), whose logits are combined with personalised-PageRank weights (see the module docstring).

    Args:
        in_dim, out_dim: Feature and class counts.
        hidden_dim, num_layers, dropout, input_dropout, bias: The MLP (the paper: 2 layers of 32, no biases).
        alpha: Teleport probability of the PPR (training scores and inference propagation alike).
        K: Power-iteration steps of the inference propagation (the paper's ``nprop``; 0: plain MLP logits).
        ppr_eps, ppr_topk, ppr_norm, inference, batch_size: Used by the trainer
            (:mod:`graphscale.train.pprgo`): push threshold, neighbours per node, score normalisation,
            ``propagate`` (``K`` steps, the paper's default) or ``topk`` (the top-k PPR rows of every node),
            training nodes per batch.

    Shapes:
        forward: graph with ``N`` nodes, x ``[N, F_in]``; returns ``[N, out_dim]``.
        aggregate: see :meth:`aggregate`.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden_dim: int, num_layers: int, dropout: float,
                 input_dropout: float, bias: bool, alpha: float, K: int, ppr_eps: float = 1e-4, ppr_topk: int = 32,
                 ppr_norm: str = "sym", inference: str = "propagate", batch_size: int | None = 512) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in pairwise(dims))
        self.dropout, self.input_dropout = dropout, input_dropout
        self.alpha, self.K = float(alpha), int(K)
        self.ppr_eps, self.ppr_topk, self.ppr_norm = float(ppr_eps), int(ppr_topk), ppr_norm
        self.inference, self.batch_size = inference, batch_size

    def mlp(self, x: Tensor) -> Tensor:
        """``H = MLP(x)``: ``[M, F_in] -> [M, out_dim]``."""
        h = fast_dropout(x, self.input_dropout, self.training)
        for i, linear in enumerate(self.linears):
            if i > 0:
                h = fast_dropout(F.relu(h), self.dropout, self.training)
            h = linear(h)
        return h

    def aggregate(self, x_neighbors: Tensor, scores: Tensor, ptr: Tensor, index: Tensor | None = None) -> Tensor:
        """Logits of ``B`` nodes from their PPR neighbourhoods: ``Z_b = sum_{m in [ptr_b, ptr_b+1)} s_m H_m``.

        With ``index``, ``x_neighbors`` holds the distinct neighbours once (``U`` rows) and ``index [M]`` points
        each list entry at its row: the MLP (and its dropout) runs once per distinct node.

        Shapes:
            x_neighbors: ``[M, F_in]`` (or ``[U, F_in]`` with ``index``) features of the concatenated top-k lists;
            scores: ``[M]``; ptr: ``[B+1]`` int64 offsets of each node's list; returns ``[B, out_dim]``.
        """
        rows = x_neighbors.shape[0] if index is None else index.shape[0]
        if rows != scores.shape[0] or int(ptr[-1]) != scores.shape[0]:
            raise ShapeError(f"PPRGo.aggregate: expected one score per neighbour row and ptr[-1] = rows, got "
                             f"{rows} rows, {scores.shape[0]} scores and ptr[-1] = {int(ptr[-1])}.")
        h = self.mlp(x_neighbors)
        h = (h if index is None else h[index]) * scores.to(h.dtype)[:, None]  # [M, C]
        return segment_sum(h, ptr)

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        """Full-graph inference: ``K`` propagation steps of ``MLP(x)`` (see :func:`ppr_propagate`)."""
        (graph,) = per_layer_graphs(graph, 1, "PPRGo")
        return ppr_propagate(graph, self.mlp(x), self.alpha, self.K, self.ppr_norm)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, K={self.K}, ppr_eps={self.ppr_eps}, ppr_topk={self.ppr_topk}, "
                f"ppr_norm={self.ppr_norm!r}, inference={self.inference!r}")


# The paper's defaults (its demo config): 2 layers of 32, dropout 0.1, alpha 0.5, eps 1e-4, top 32, sym, 2 steps.
PPRGO_DEFAULTS = {"hidden_dim": 32, "num_layers": 2, "dropout": 0.1, "input_dropout": None, "bias": False,
                  "alpha": 0.5, "K": 2, "ppr_eps": 1e-4, "ppr_topk": 32, "ppr_norm": "sym", "inference": "propagate",
                  "batch_size": 512}
NODE_MODELS.register("pprgo", ModelSpec(PPRGo, dict(PPRGO_DEFAULTS)))

__all__ = ["PPRGO_DEFAULTS", "PPR_NORMALIZATIONS", "PPRGo", "ppr_propagate", "propagation_weights"]
