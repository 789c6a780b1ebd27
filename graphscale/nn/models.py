"""Model registries: ``build_node_model`` and ``build_graph_model`` by name, with paper defaults.

Names are looked up case-insensitively; a miss, an unknown hyper-parameter or an invalid value raises
``ConfigError`` with a "did you mean" suggestion. Node models map ``(graph, x) -> [N, out_dim]`` logits
(``graph`` may also be a list of sampled Blocks, one per message-passing layer); graph models map
``(batched_graph, x, edge_attr=None) -> [B, out_dim]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config.registry import Registry, did_you_mean
from ..errors import ConfigError, DatasetError, ShapeError, warn_once
from ..graph import Graph
from .conv import APPNP, ChebConv, EGConv, GATConv, GatedGCNConv, GATv2Conv, GCNConv, GINConv, SAGEConv, SGConv
from .conv.inputs import NodeInput
from .functional import dropout as fast_dropout
from .hparams import HPARAMS, check_hparam

GraphInput = Graph | Sequence[Graph]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: the builder ``(in_dim, out_dim, **hparams) -> nn.Module`` and every hparam's default."""

    builder: Callable[..., nn.Module]
    defaults: dict[str, Any]
    unused: tuple[str, ...] = ()   # common hparams accepted for uniform configs but meaningless here

    def __post_init__(self) -> None:
        untyped = sorted(set(self.defaults) - set(HPARAMS))
        if untyped:  # a programming error: every hyper-parameter is typed in nn/hparams.py
            raise TypeError(f"ModelSpec({self.builder.__name__}): hparams {untyped} have no entry in HPARAMS.")


NODE_MODELS: Registry[ModelSpec] = Registry("node model")
GRAPH_MODELS: Registry[ModelSpec] = Registry("graph model")

def resolve_hparams(where: str, spec: ModelSpec, hparams: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``hparams``, each key and value checked against :data:`.hparams.HPARAMS`.

    Raises:
        ConfigError: Unknown key (with the closest known one) or a value of the wrong type or range.
    """
    for key in hparams:
        if key not in spec.defaults:
            raise ConfigError(f"{where}: unknown hparam {key!r}; expected one of {sorted(spec.defaults)}."
                              f"{did_you_mean(key, spec.defaults)}")
    for key in hparams:
        if key in spec.unused:
            warn_once(f"{where}: hparam {key!r} does not apply to this model and is ignored.")
    out = {**spec.defaults, **hparams}
    for key, value in out.items():
        if value is None and spec.defaults[key] is None:  # optional: edge_dim, input_dropout (= dropout)
            continue
        out[key] = check_hparam(key, value, f"{where}: hparam {key}")
    if out.get("input_dropout", 0) is None:
        out["input_dropout"] = out.get("dropout", 0.0)
    return out


def build_node_model(name: str, in_dim: int, out_dim: int, **hparams: Any) -> nn.Module:
    """A node-classification model by registry name.

    Args:
        name: gcn, sage, gat, gatv2, gin, appnp, sgc, cheb or gatedgcn (any case).
        in_dim: Input feature size.
        out_dim: Number of classes (logit width).
        **hparams: ``hidden_dim``, ``num_layers`` (2), ``dropout``, ``input_dropout`` (defaults to
            ``dropout``) plus per model: gat/gatv2 ``heads`` (8), ``out_heads`` (1), ``attn_dropout``,
            ``negative_slope`` (0.2), ``residual``; sage ``aggregator`` ("mean"); gin ``learn_eps``;
            appnp ``K`` (10), ``alpha`` (0.1), ``edge_dropout``; sgc ``K`` (2), ``bias``; cheb ``K`` (3).

    Returns:
        A module with ``forward(graph, x) -> [N, out_dim]``; ``graph`` may be a list of Blocks.

    Raises:
        ConfigError: Unknown name or hparam, or an invalid value.
    """
    spec = NODE_MODELS.get(name, where="build_node_model")
    return spec.builder(in_dim, out_dim, **resolve_hparams(f"build_node_model({name!r})", spec, hparams))


def build_graph_model(name: str, in_dim: int, out_dim: int, **hparams: Any) -> nn.Module:
    """A graph-classification model by registry name.

    Args:
        name: gin, gcn, gat, gine or gatedgcn (any case).
        in_dim: Input node feature size.
        out_dim: Number of classes (logit width).
        **hparams: ``hidden_dim`` (64), ``num_layers`` (gin: 5 counting the input layer; others 4),
            ``dropout`` (0.5), ``readout`` ("sum"), ``learn_eps`` (gin, gine), ``edge_dim`` (gine,
            gatedgcn: size of ``edge_attr``; None for graphs without edge features), ``heads`` (gat).

    Returns:
        A module with ``forward(graph: BatchedGraph, x, edge_attr=None) -> [B, out_dim]``.

    Raises:
        ConfigError: Unknown name or hparam, or an invalid value.
    """
    from . import graph_models  # noqa: F401 - fills GRAPH_MODELS on first use

    spec = GRAPH_MODELS.get(name, where="build_graph_model")
    return spec.builder(in_dim, out_dim, **resolve_hparams(f"build_graph_model({name!r})", spec, hparams))


def per_layer_graphs(graph: GraphInput, num_layers: int, where: str) -> list[Graph]:
    """One graph per message-passing layer: the same full graph, or the given list of Blocks.

    Raises:
        ShapeError: A list whose length differs from the number of layers.
    """
    if isinstance(graph, Graph):
        return [graph] * num_layers
    graphs = list(graph)
    if len(graphs) != num_layers:
        raise ShapeError(f"{where}: expected {num_layers} blocks (one per layer), got {len(graphs)}. "
                         "Sample as many hops as the model has message-passing layers.")
    return graphs


class ConvStack(nn.Module):
    """Layers ``conv_1 .. conv_L`` with dropout before every layer and an activation between layers.

    Shapes:
        x: ``[N, F_in]`` (``[N_src of the first block, F_in]`` with blocks); returns ``[N_dst, F_out]``.
        edge_weight: optional ``[E]`` weights of a single ``graph``, passed to every layer (layers that take
        ``edge_weight``: GCN, SAGE with the mean aggregator).
    """

    def __init__(self, convs: Sequence[nn.Module], *, dropout: float, input_dropout: float,
                 activation: Callable[[Tensor], Tensor] = F.relu) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.dropout, self.input_dropout, self.activation = dropout, input_dropout, activation

    def forward(self, graph: GraphInput, x: NodeInput, edge_weight: Tensor | None = None) -> Tensor:
        graphs = per_layer_graphs(graph, len(self.convs), type(self).__name__)
        h = fast_dropout(x, self.input_dropout, self.training)
        fuse_relu = self.activation is F.relu  # relu + dropout as one pass, no mask kept for backward
        for i, (layer_graph, conv) in enumerate(zip(graphs, self.convs)):
            if i > 0:
                h = fast_dropout(h, self.dropout, self.training, relu=fuse_relu, inplace=True)  # h: a layer's output
            h = conv(layer_graph, h) if edge_weight is None else conv(layer_graph, h, edge_weight=edge_weight)
            if i < len(self.convs) - 1 and not fuse_relu:
                h = self.activation(h)
        return h


def _widths(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> list[tuple[int, int]]:
    dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
    return list(pairwise(dims))


def _gcn(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout):
    convs = [GCNConv(a, b) for a, b in _widths(in_dim, hidden_dim, out_dim, num_layers)]
    return ConvStack(convs, dropout=dropout, input_dropout=input_dropout)


def _sage(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, aggregator, normalize):
    convs = [SAGEConv(a, b, aggregator=aggregator, normalize=normalize and i < num_layers - 1)
             for i, (a, b) in enumerate(_widths(in_dim, hidden_dim, out_dim, num_layers))]
    return ConvStack(convs, dropout=dropout, input_dropout=input_dropout)


def _attention(layer: type) -> Callable[..., nn.Module]:
    def build(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, heads, out_heads, attn_dropout,
              negative_slope, residual):
        convs, width = [], in_dim
        for _ in range(num_layers - 1):
            convs.append(layer(width, hidden_dim, heads, attn_drop=attn_dropout, negative_slope=negative_slope,
                               residual=residual))
            width = hidden_dim * heads
        convs.append(layer(width, out_dim, out_heads, concat=False, attn_drop=attn_dropout,
                           negative_slope=negative_slope, residual=residual))
        return ConvStack(convs, dropout=dropout, input_dropout=input_dropout, activation=F.elu)

    return build


def _gin(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, learn_eps):
    convs = [GINConv(a, b, learn_eps=learn_eps) for a, b in _widths(in_dim, hidden_dim, out_dim, num_layers)]
    return ConvStack(convs, dropout=dropout, input_dropout=input_dropout)


def _cheb(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, K):
    convs = [ChebConv(a, b, K) for a, b in _widths(in_dim, hidden_dim, out_dim, num_layers)]
    return ConvStack(convs, dropout=dropout, input_dropout=input_dropout)


class APPNPNet(nn.Module):
    """Predict then propagate: an MLP of ``num_layers`` linear layers, then ``APPNP`` (Klicpera et al., 2019).

    Shapes:
        x: ``[N, F_in]``; returns ``[N, out_dim]``. ``graph`` may be a one-item list of Blocks (square).
        edge_weight: optional ``[E]`` weights of the adjacency that ``APPNP`` normalises.
    """

    def __init__(self, in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, K, alpha,
                 edge_dropout) -> None:
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in _widths(in_dim, hidden_dim, out_dim, num_layers))
        self.propagation = APPNP(K, alpha, edge_drop=edge_dropout)
        self.dropout, self.input_dropout = dropout, input_dropout

    def forward(self, graph: GraphInput, x: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        (graph,) = per_layer_graphs(graph, 1, "APPNPNet")
        h = fast_dropout(x, self.input_dropout, self.training)
        for i, linear in enumerate(self.linears):
            if i > 0:
                h = fast_dropout(F.relu(h), self.dropout, self.training)
            h = linear(h)
        return self.propagation(graph, h, edge_weight)


class SGCNet(nn.Module):
    """Simple graph convolution (Wu et al., 2019): ``S^K X W``, with :math:`S^K X` cached per graph, x and
    edge weights.

    Shapes:
        x: ``[N, F_in]``; edge_weight: optional ``[E]`` weights of the adjacency ``S`` normalises;
        returns ``[N, out_dim]``.
    """

    def __init__(self, in_dim, out_dim, *, K, bias, input_dropout, **_unused) -> None:
        super().__init__()
        self.conv = SGConv(in_dim, out_dim, K, cached=input_dropout == 0, bias=bias)
        self.input_dropout = input_dropout

    def forward(self, graph: GraphInput, x: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        (graph,) = per_layer_graphs(graph, 1, "SGCNet")
        return self.conv(graph, fast_dropout(x, self.input_dropout, self.training) if self.input_dropout else x,
                         edge_weight)


class GatedGCNNet(nn.Module):
    """Node model of Dwivedi et al.'s benchmark: ``Linear`` embedding, ``num_layers`` GatedGCN layers with
    edge features (a learnt constant edge embedding, since node datasets have none), ``Linear`` head.

    With a list of Blocks the edge stream restarts from the constant embedding at every block (the edges of
    consecutive sampled blocks differ), so the edge outputs of all layers but the last are unused and their
    edge batch norms get no gradient (use ``find_unused_parameters=True`` under DistributedDataParallel).

    Shapes:
        x: ``[N, F_in]``; returns ``[N, out_dim]``.
    """

    def __init__(self, in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden_dim)
        self.edge_embedding = nn.Parameter(torch.randn(1, hidden_dim) * 0.1)
        self.layers = nn.ModuleList(
            GatedGCNConv(hidden_dim, hidden_dim, dropout=dropout, edge_update=i < num_layers - 1)
            for i in range(num_layers))
        self.head = nn.Linear(hidden_dim, out_dim)
        self.input_dropout = input_dropout

    def forward(self, graph: GraphInput, x: Tensor) -> Tensor:
        graphs = per_layer_graphs(graph, len(self.layers), "GatedGCNNet")
        h = self.embed(fast_dropout(x, self.input_dropout, self.training))
        edge = None
        for i, (layer_graph, layer) in enumerate(zip(graphs, self.layers)):
            if i == 0 or graphs[i - 1] is not layer_graph:
                edge = self.edge_embedding.expand(layer_graph.num_edges, -1)
            h, edge = layer(layer_graph, h, edge)
        return self.head(h)


# Models that use the edge weights of a dataset, as ``graphscale train`` and its help list them.
EDGE_WEIGHT_MODELS = "gcn, sage (mean aggregator), appnp, sgc and sign"


def edge_weight_use(model: nn.Module) -> str | None:
    """How ``model``'s ``forward(graph, x, edge_weight=...)`` uses edge weights of a dataset.

    Returns:
        "gcn" (the weights enter the symmetric normalisation ``D^-1/2 (A_w + I) D^-1/2``: GCN stacks, APPNP,
        SGC), "mean" (the aggregation becomes the weighted mean ``sum_u w_uv x_u / sum_u w_uv``: GraphSAGE
        stacks with the mean aggregator) or None (the model cannot use edge weights: attention, GIN,
        Chebyshev, GatedGCN, SAGE pool / gcn aggregators).
    """
    if isinstance(model, (APPNPNet, SGCNet)):
        return "gcn"
    if isinstance(model, ConvStack) and len(model.convs) > 0:
        if all(type(conv) is GCNConv for conv in model.convs):
            return "gcn"
        if all(type(conv) is SAGEConv and conv.aggregator == "mean" for conv in model.convs):
            return "mean"
    return None


def check_edge_weight(graph: Graph, edge_weight: Tensor, where: str) -> None:
    """Reject edge weights a model cannot normalise.

    Raises:
        ShapeError: ``edge_weight`` not a floating ``[E]`` tensor.
        DatasetError: A NaN, infinite or negative weight (named by its edge ``src -> dst``).
    """
    if not isinstance(edge_weight, Tensor) or edge_weight.shape != (graph.num_edges,) \
            or not edge_weight.is_floating_point():
        got = (f"{edge_weight.dtype} of shape {tuple(edge_weight.shape)}" if isinstance(edge_weight, Tensor)
               else type(edge_weight).__name__)
        raise ShapeError(f"{where}: expected edge weights as a float tensor of shape [{graph.num_edges}] (one per "
                         f"edge of the graph), got {got}.")
    bad = (~torch.isfinite(edge_weight) | (edge_weight < 0)).nonzero().view(-1)
    if bad.numel():
        e = int(bad[0])
        raise DatasetError(f"{where}: expected finite, non-negative edge weights, got {float(edge_weight[e])} on "
                           f"edge {int(graph.src[e])} -> {int(graph.dst[e])} ({bad.numel()} such edges). Fix the "
                           "weight column of edges.csv, or drop it.")


def model_edge_weight(model: nn.Module, graph: Graph, edge_weight: Tensor | None) -> Tensor | None:
    """A dataset's ``[E]`` edge weights as ``model``'s forward takes them, or None (no weights, or a model
    that cannot use them: see :func:`edge_weight_use`).

    GCN, APPNP and SGC take them as they are; GraphSAGE (mean) takes ``w_uv / sum_{u'} w_u'v``, so all-one
    weights give the plain mean (a node whose in-edges weigh 0 in total aggregates zeros, as one without
    in-edges does).

    Raises:
        ShapeError, DatasetError: See :func:`check_edge_weight`.
    """
    use = edge_weight_use(model)
    if edge_weight is None or use is None:
        return None
    check_edge_weight(graph, edge_weight, f"{type(model).__name__} edge weights")
    weight = edge_weight.float()
    if use == "mean":
        total = torch.zeros(graph.num_dst_nodes, dtype=weight.dtype, device=weight.device)
        total.index_add_(0, graph.dst.long(), weight)
        total = total[graph.dst.long()]
        weight = torch.where(total > 0, weight / total.clamp(min=torch.finfo(weight.dtype).tiny),
                             torch.zeros_like(weight))
    return weight


_COMMON = {"hidden_dim": 16, "num_layers": 2, "dropout": 0.5, "input_dropout": None}
_ATTENTION = {"hidden_dim": 8, "num_layers": 2, "dropout": 0.6, "input_dropout": None, "heads": 8, "out_heads": 1,
              "attn_dropout": 0.6, "negative_slope": 0.2, "residual": False}

NODE_MODELS.register("gcn", ModelSpec(_gcn, dict(_COMMON)))
NODE_MODELS.register("sage", ModelSpec(_sage, {**_COMMON, "hidden_dim": 256, "aggregator": "mean",
                                               "normalize": False}))
NODE_MODELS.register("gat", ModelSpec(_attention(GATConv), dict(_ATTENTION)))
NODE_MODELS.register("gatv2", ModelSpec(_attention(GATv2Conv), dict(_ATTENTION)))
NODE_MODELS.register("gin", ModelSpec(_gin, {**_COMMON, "hidden_dim": 64, "learn_eps": False}))
NODE_MODELS.register("appnp", ModelSpec(APPNPNet, {**_COMMON, "hidden_dim": 64, "K": 10, "alpha": 0.1,
                                                   "edge_dropout": 0.0}))
NODE_MODELS.register("sgc", ModelSpec(SGCNet, {**_COMMON, "input_dropout": 0.0, "K": 2, "bias": True},
                                      unused=("hidden_dim", "num_layers", "dropout")))
NODE_MODELS.register("cheb", ModelSpec(_cheb, {**_COMMON, "K": 3}))
NODE_MODELS.register("gatedgcn", ModelSpec(GatedGCNNet, {**_COMMON, "hidden_dim": 64, "dropout": 0.0}))


# -- EGC and RevGNN (issue 30) --
def _egc(in_dim, out_dim, *, hidden_dim, num_layers, dropout, input_dropout, heads, num_bases, aggregators):
    """EGC stack (Tailor et al., 2022): hidden layers of ``heads`` heads, a one-head output layer."""
    widths = _widths(in_dim, hidden_dim, out_dim, num_layers)
    convs = [EGConv(a, b, heads if i < num_layers - 1 else 1, num_bases, aggregators=aggregators)
             for i, (a, b) in enumerate(widths)]
    return ConvStack(convs, dropout=dropout, input_dropout=input_dropout)


NODE_MODELS.register("egc", ModelSpec(_egc, {**_COMMON, "hidden_dim": 64, "heads": 8, "num_bases": 4,
                                             "aggregators": ["symnorm"]}))
from . import revgnn as _revgnn  # noqa: F401 - registers "revgnn" (it builds on this module)

__all__ = [
    "EDGE_WEIGHT_MODELS",
    "GRAPH_MODELS",
    "NODE_MODELS",
    "APPNPNet",
    "ConvStack",
    "GatedGCNNet",
    "ModelSpec",
    "SGCNet",
    "build_graph_model",
    "build_node_model",
    "check_edge_weight",
    "edge_weight_use",
    "model_edge_weight",
    "per_layer_graphs",
    "resolve_hparams",
]
