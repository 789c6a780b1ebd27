"""Graph-classification models registered in ``GRAPH_MODELS`` (built with ``build_graph_model``).

Every model maps ``(graph: BatchedGraph, x [N, F_in], edge_attr [E, F_e] | None) -> [B, out_dim]``.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..graph import Graph
from .conv import EGConv, GATConv, GatedGCNConv, GCNConv, GINConv, GINEConv
from .conv.gin import default_mlp
from .models import GRAPH_MODELS, ModelSpec
from .pool import readout


class GIN(nn.Module):
    """GIN for graph classification as in Xu et al.'s reference implementation (``models/graphcnn.py``).

    ``num_layers`` counts the input layer: ``num_layers - 1`` GIN layers, each a 2-layer MLP with batch
    norm followed by batch norm and ReLU. Every layer's representation (the input included) is pooled per
    graph (sum or mean), fed to its own linear head with dropout, and the heads' outputs are summed.

    Shapes:
        x: ``[N, F_in]``; returns ``[B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden_dim: int, num_layers: int, dropout: float,
                 readout: str, learn_eps: bool) -> None:
        super().__init__()
        if num_layers < 2:
            raise ConfigError(f"build_graph_model('gin'): hparam num_layers: expected an int >= 2 (it counts the "
                              f"input layer), got {num_layers}.")
        self.readout, self.dropout = readout, dropout
        widths = [in_dim] + [hidden_dim] * (num_layers - 1)
        self.convs = nn.ModuleList(GINConv(a, b, mlp=default_mlp(a, b, batch_norm=True), learn_eps=learn_eps)
                                   for a, b in pairwise(widths))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) for _ in self.convs)
        self.heads = nn.ModuleList(nn.Linear(width, out_dim) for width in widths)

    def forward(self, graph: Graph, x: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        _reject_edge_attr(edge_attr, "gin")
        states = [x]
        for conv, norm in zip(self.convs, self.norms):
            states.append(F.relu(norm(conv(graph, states[-1]))))
        score = 0
        for head, state in zip(self.heads, states):
            score = score + F.dropout(head(readout(graph, state, self.readout)), self.dropout, self.training)
        return score


class EdgeEncoder(nn.Module):
    """``Linear(edge_dim, hidden)`` on given edge features, or a learnt constant for graphs without them.

    Shapes:
        edge_attr: ``[E, edge_dim]`` or None; returns ``[E, hidden_dim]``.
    """

    def __init__(self, edge_dim: int | None, hidden_dim: int, where: str) -> None:
        super().__init__()
        self.edge_dim, self.where = edge_dim, where
        self.linear = nn.Linear(edge_dim, hidden_dim) if edge_dim is not None else None
        self.constant = None if edge_dim is not None else nn.Parameter(torch.randn(1, hidden_dim) * 0.1)

    def forward(self, graph: Graph, edge_attr: Tensor | None) -> Tensor:
        if self.linear is None:
            if edge_attr is not None:
                raise ShapeError(f"{self.where}: expected no edge_attr (model built without edge_dim), got shape "
                                 f"{tuple(edge_attr.shape)}. Build it with edge_dim={edge_attr.shape[-1]}.")
            return self.constant.expand(graph.num_edges, -1)
        if edge_attr is None or edge_attr.dim() != 2 or edge_attr.shape != (graph.num_edges, self.edge_dim):
            got = None if edge_attr is None else tuple(edge_attr.shape)
            raise ShapeError(f"{self.where}: expected edge_attr of shape [{graph.num_edges}, {self.edge_dim}], got "
                             f"{got}. Pass the edge features the model was built for (edge_dim).")
        return self.linear(edge_attr)


class ReadoutHead(nn.Module):
    """Readout then ``Linear -> ReLU -> Dropout -> Linear``. Shapes: ``[N, H]`` -> ``[B, out_dim]``."""

    def __init__(self, hidden_dim: int, out_dim: int, readout: str, dropout: float) -> None:
        super().__init__()
        self.readout = readout
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, out_dim))

    def forward(self, graph: Graph, h: Tensor) -> Tensor:
        return self.mlp(readout(graph, h, self.readout))


class ConvGraphNet(nn.Module):
    """Stack of ``num_layers`` node-only convolutions (GCN or GAT), each followed by batch norm, ReLU and
    dropout, then readout and a 2-layer MLP head.

    Shapes:
        x: ``[N, F_in]``; returns ``[B, out_dim]``.
    """

    def __init__(self, convs: list[nn.Module], hidden_dim: int, out_dim: int, readout: str, dropout: float,
                 name: str) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) for _ in convs)
        self.head = ReadoutHead(hidden_dim, out_dim, readout, dropout)
        self.dropout, self.name = dropout, name

    def forward(self, graph: Graph, x: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        _reject_edge_attr(edge_attr, self.name)
        h = x
        for conv, norm in zip(self.convs, self.norms):
            h = F.dropout(F.relu(norm(conv(graph, h))), self.dropout, self.training)
        return self.head(graph, h)


class EdgeGraphNet(nn.Module):
    """Node embedding, ``num_layers`` GINE or GatedGCN layers with edge features, readout and MLP head.

    Shapes:
        x: ``[N, F_in]``; edge_attr: ``[E, edge_dim]`` or None; returns ``[B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, kind: str, hidden_dim: int, num_layers: int, dropout: float,
                 readout: str, edge_dim: int | None, learn_eps: bool = False) -> None:
        super().__init__()
        self.kind, self.dropout = kind, dropout
        self.node_encoder = nn.Linear(in_dim, hidden_dim)
        self.edge_encoder = EdgeEncoder(edge_dim, hidden_dim, f"{kind}.forward")
        if kind == "gine":
            self.convs = nn.ModuleList(
                GINEConv(hidden_dim, hidden_dim, mlp=default_mlp(hidden_dim, hidden_dim, batch_norm=True),
                         learn_eps=learn_eps) for _ in range(num_layers))
            self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) for _ in range(num_layers))
        else:
            self.convs = nn.ModuleList(GatedGCNConv(hidden_dim, hidden_dim, dropout=dropout,
                                                    edge_update=i < num_layers - 1) for i in range(num_layers))
            self.norms = None
        self.head = ReadoutHead(hidden_dim, out_dim, readout, dropout)

    def forward(self, graph: Graph, x: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        h = self.node_encoder(x)
        edge = self.edge_encoder(graph, edge_attr)
        for i, conv in enumerate(self.convs):
            if self.norms is None:
                h, edge = conv(graph, h, edge)
            else:
                h = F.dropout(F.relu(self.norms[i](conv(graph, h, edge))), self.dropout, self.training)
        return self.head(graph, h)


def _reject_edge_attr(edge_attr: Tensor | None, name: str) -> None:
    if edge_attr is not None:
        raise ShapeError(f"{name}: expected edge_attr=None (this model ignores edge features), got shape "
                         f"{tuple(edge_attr.shape)}. Use 'gine' or 'gatedgcn' for graphs with edge features.")


def _gcn(in_dim, out_dim, *, hidden_dim, num_layers, dropout, readout):
    widths = [in_dim] + [hidden_dim] * num_layers
    convs = [GCNConv(a, b) for a, b in pairwise(widths)]
    return ConvGraphNet(convs, hidden_dim, out_dim, readout, dropout, "gcn")


def _gat(in_dim, out_dim, *, hidden_dim, num_layers, dropout, readout, heads, attn_dropout):
    if hidden_dim % heads:
        raise ConfigError(f"build_graph_model('gat'): expected hidden_dim divisible by heads, got {hidden_dim} "
                          f"and {heads}. Each head gets hidden_dim // heads features.")
    widths = [in_dim] + [hidden_dim] * num_layers
    convs = [GATConv(a, hidden_dim // heads, heads, attn_drop=attn_dropout) for a in widths[:-1]]
    return ConvGraphNet(convs, hidden_dim, out_dim, readout, dropout, "gat")


def _edge_model(kind: str):
    def build(in_dim, out_dim, **hparams):
        return EdgeGraphNet(in_dim, out_dim, kind=kind, **hparams)

    return build


_BASE = {"hidden_dim": 64, "num_layers": 4, "dropout": 0.5, "readout": "sum"}

GRAPH_MODELS.register("gin", ModelSpec(GIN, {**_BASE, "num_layers": 5, "learn_eps": False}))
GRAPH_MODELS.register("gcn", ModelSpec(_gcn, dict(_BASE)))
GRAPH_MODELS.register("gat", ModelSpec(_gat, {**_BASE, "heads": 4, "attn_dropout": 0.0}))
GRAPH_MODELS.register("gine", ModelSpec(_edge_model("gine"), {**_BASE, "edge_dim": None, "learn_eps": False}))
GRAPH_MODELS.register("gatedgcn", ModelSpec(_edge_model("gatedgcn"), {**_BASE, "edge_dim": None,
                                                                      "dropout": 0.0}))


# -- EGC (issue 30) --
def _egc(in_dim, out_dim, *, hidden_dim, num_layers, dropout, readout, heads, num_bases, aggregators):
    """``num_layers`` EGC layers (Tailor et al., 2022) with batch norm, ReLU and dropout, readout, MLP head."""
    widths = [in_dim] + [hidden_dim] * num_layers
    convs = [EGConv(a, hidden_dim, heads, num_bases, aggregators=aggregators) for a in widths[:-1]]
    return ConvGraphNet(convs, hidden_dim, out_dim, readout, dropout, "egc")


GRAPH_MODELS.register("egc", ModelSpec(_egc, {**_BASE, "heads": 8, "num_bases": 4, "aggregators": ["symnorm"]}))

__all__ = ["GIN", "ConvGraphNet", "EdgeEncoder", "EdgeGraphNet", "ReadoutHead"]
