"""Graph readouts: one vector per graph of a ``BatchedGraph`` from its node features.

Sum / mean / max / min pooling are segment reductions over ``graph.node_ptr`` (graph ``b`` owns nodes
``node_ptr[b]:node_ptr[b+1]``); a plain ``Graph`` counts as a batch of one. Graphs without nodes read
out as zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..graph import Graph, check_node_features
from ..saga import segment_reduce, segment_softmax

READOUTS = ("sum", "mean", "max", "min")


def graph_ptr(graph: Graph) -> Tensor:
    """``[B+1]`` int64 node offsets: ``graph.node_ptr`` for a BatchedGraph, ``[0, N]`` otherwise."""
    ptr = getattr(graph, "node_ptr", None)
    if ptr is not None:
        return ptr
    return torch.tensor([0, graph.num_nodes], dtype=torch.int64, device=graph.device)


def readout(graph: Graph, x: Tensor, reduce: str = "sum") -> Tensor:
    """Pool node features per graph with ``reduce`` in sum, mean, max, min.

    Args:
        graph: A ``BatchedGraph`` (or a plain ``Graph``, treated as one graph).
        x: Node features, nodes in batch order.
        reduce: "sum", "mean", "max" or "min".

    Shapes:
        x: ``[N, *]``; returns ``[B, *]``.

    Raises:
        ConfigError: Unknown ``reduce``.
        ShapeError: ``x`` does not have one row per node.
    """
    key = str(reduce).lower()
    if key not in READOUTS:
        raise ConfigError(f"readout: expected reduce in {READOUTS}, got {reduce!r}.")
    check_node_features(graph, x, name="x", where=f"readout({key!r})")
    return segment_reduce(x, graph_ptr(graph), key)


class _Pooling(nn.Module):
    reduce = "sum"

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        return readout(graph, x, self.reduce)


class SumPooling(_Pooling):
    r""":math:`r_b = \sum_{v \in G_b} x_v`. Shapes: x ``[N, F]`` -> ``[B, F]``."""

    reduce = "sum"


class MeanPooling(_Pooling):
    r""":math:`r_b = \frac{1}{|G_b|} \sum_{v \in G_b} x_v`. Shapes: x ``[N, F]`` -> ``[B, F]``."""

    reduce = "mean"


class MaxPooling(_Pooling):
    r""":math:`r_b = \max_{v \in G_b} x_v` (elementwise). Shapes: x ``[N, F]`` -> ``[B, F]``."""

    reduce = "max"


class GlobalAttentionPooling(nn.Module):
    r"""Soft-attention readout of Li et al., "Gated Graph Sequence Neural Networks", ICLR 2016
    (arXiv:1511.05493), eq. 7, as in PyG's ``AttentionalAggregation``.

    .. math::
        r_b = \sum_{v \in G_b} \operatorname{softmax}_{v \in G_b}\big(g(x_v)\big)\, f(x_v)

    The softmax runs within each graph (a segment softmax over ``batch_index``).

    Args:
        gate_nn: Network ``F -> 1`` giving one attention logit per node.
        feat_nn: Optional network ``F -> F'`` applied to the features; identity when None.

    Shapes:
        x: ``[N, F]``; returns ``[B, F']``; with ``return_gate`` also the ``[N, 1]`` attention weights.
    """

    def __init__(self, gate_nn: nn.Module, feat_nn: nn.Module | None = None) -> None:
        super().__init__()
        self.gate_nn, self.feat_nn = gate_nn, feat_nn

    def forward(self, graph: Graph, x: Tensor, return_gate: bool = False):
        check_node_features(graph, x, name="x", where="GlobalAttentionPooling.forward")
        gate = self.gate_nn(x)
        if gate.dim() != 2 or gate.shape[0] != x.shape[0] or gate.shape[1] != 1:
            raise ShapeError(
                f"GlobalAttentionPooling: expected gate_nn to return [N, 1], got shape {tuple(gate.shape)}. "
                "End the gate network with a Linear(F, 1)."
            )
        ptr = graph_ptr(graph)
        if hasattr(graph, "node_ptr"):
            index = graph.batch_index
        else:
            index = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
        weights = segment_softmax(gate, index, ptr.numel() - 1)
        feats = x if self.feat_nn is None else self.feat_nn(x)
        out = segment_reduce(weights * feats, ptr, "sum")
        return (out, weights) if return_gate else out


__all__ = ["READOUTS", "GlobalAttentionPooling", "MaxPooling", "MeanPooling", "SumPooling", "graph_ptr", "readout"]
