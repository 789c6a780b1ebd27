r"""ShaDow-GNN readout (Zeng et al., NeurIPS 2021, "Decoupling the Depth and Scope of Graph Neural Networks").

A node model of the zoo (any depth) runs on a batch of disjoint per-target subgraphs (``sampling/shadow.py``:
subgraph ``b`` owns rows ``node_ptr[b]:node_ptr[b+1]`` and its target is row ``node_ptr[b]``); the
prediction of target :math:`t` is read out of its own subgraph :math:`G_{[t]}` only (Section 3.3, Eq. 6):

.. math::
    y_t = \text{head}\big(h_t^{(L)}\big) \quad\text{(target)}, \qquad
    y_t = W \big[\, h_t^{(L)} \,\|\, \text{POOL}(\{h_v^{(L)} : v \in G_{[t]}\}) \,\big]
    \quad\text{(target-mean, target-max)}.

With ``target`` the base model outputs the logits and the readout keeps the target rows; with a pooled
readout the base model outputs ``hidden_dim`` features, and a linear layer maps the target's row concatenated
with its subgraph's mean (or max) to the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph
from .pool import graph_ptr, readout

SHADOW_READOUTS = ("target", "target-mean", "target-max")


def target_rows(graph: Graph) -> Tensor:
    """``[B]`` int64 row of every subgraph's target: its first row (``node_ptr[:-1]``; row 0 of a plain Graph)."""
    return graph_ptr(graph)[:-1]


class ShadowNet(nn.Module):
    """A node model on per-target subgraphs plus the target readout (see the module docstring).

    Args:
        base: Node model ``(graph, x) -> [N, D]``: ``D`` = classes for ``readout="target"``, else ``hidden_dim``.
        readout: "target", "target-mean" or "target-max".
        hidden_dim: ``D`` of a pooled readout (ignored for "target").
        out_dim: Number of classes of a pooled readout (ignored for "target").
        dropout: Dropout on the concatenated readout.

    Shapes:
        graph: a ``BatchedGraph`` of ``B`` subgraphs (a plain ``Graph`` is one subgraph);
        x: ``[N, F_in]``; returns ``[B, out_dim]``, subgraph order.

    Raises:
        ConfigError: Unknown readout.
    """

    def __init__(self, base: nn.Module, readout: str = "target", *, hidden_dim: int = 0, out_dim: int = 0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if readout not in SHADOW_READOUTS:
            raise ConfigError(f"ShadowNet: expected readout in {SHADOW_READOUTS}, got {readout!r}.")
        self.base, self.readout, self.dropout = base, readout, dropout
        self.head = nn.Linear(2 * hidden_dim, out_dim) if readout != "target" else None

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        h = self.base(graph, x)  # [N, D]
        rows = target_rows(graph)
        if self.head is None:
            return h[rows]
        h = F.relu(h)
        pooled = readout(graph, h, self.readout.split("-")[1])  # [B, D]
        both = torch.cat([h[rows], pooled], dim=1)
        return self.head(F.dropout(both, self.dropout, self.training))


__all__ = ["SHADOW_READOUTS", "ShadowNet", "target_rows"]
