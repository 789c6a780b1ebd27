"""Models over heterogeneous graphs (entity classification): R-GCN and HGT stacks, full graph or typed blocks.

Every model takes ``(graph, x)`` where ``graph`` is a :class:`~graphscale.graph.HeteroGraph` (full batch: every
layer on it) or a list of :class:`~graphscale.graph.HeteroBlock` (input layer first, from
:class:`~graphscale.sampling.hetero.HeteroNeighborSampler`), and ``x`` is ``{ntype: [N_t, F_t]}`` for the node
types that have features. Types without features get a learnable embedding per node (``input_ids`` names the
rows of a mini-batch: ``blocks[0].src_ids``). The output is the logits of the target type's (destination)
nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..config.registry import Registry
from ..errors import ConfigError, ShapeError
from ..graph.hetero import EdgeType, HeteroGraph
from ..graph.hetero_view import typed_edges
from .conv.hgt import HGTConv
from .conv.rgcn import RGCNConv
from .functional import dropout
from .models import ModelSpec, resolve_hparams


@dataclass(frozen=True)
class HeteroSchema:
    """What a heterogeneous model is built for: the types, the feature sizes, the node counts, the target.

    Attributes:
        ntypes, canonical_etypes: Node and edge types (their order fixes the parameters).
        in_dims: ``{ntype: F_t}`` for the types with features (the others get embeddings).
        num_nodes: ``{ntype: N_t}`` (rows of the embedding tables).
        target: The labelled node type.
    """

    ntypes: tuple[str, ...]
    canonical_etypes: tuple[EdgeType, ...]
    in_dims: dict[str, int]
    num_nodes: dict[str, int]
    target: str

    @classmethod
    def of(cls, graph: HeteroGraph, x: Mapping[str, Tensor], target: str) -> HeteroSchema:
        return cls(graph.ntypes, graph.canonical_etypes, {t: int(v.shape[1]) for t, v in x.items()},
                   graph.num_nodes_dict, target)


class HeteroInput(nn.Module):
    """Per node type: a linear map of its features to ``hidden_dim``, or a learnable embedding per node."""

    def __init__(self, schema: HeteroSchema, hidden_dim: int) -> None:
        super().__init__()
        self.schema = schema
        self.linear = nn.ModuleDict({t: nn.Linear(schema.in_dims[t], hidden_dim) for t in schema.ntypes
                                     if t in schema.in_dims})
        self.embedding = nn.ModuleDict({t: nn.Embedding(schema.num_nodes[t], hidden_dim) for t in schema.ntypes
                                        if t not in schema.in_dims})
        for table in self.embedding.values():
            nn.init.xavier_uniform_(table.weight)

    def forward(self, x: Mapping[str, Tensor], input_ids: Mapping[str, Tensor] | None = None,
                counts: Mapping[str, int] | None = None) -> dict[str, Tensor]:
        """``{ntype: [rows, hidden]}``: features projected, or embedding rows ``input_ids[t]`` (all rows of the
        table when ``input_ids`` is None)."""
        out = {}
        for t in self.schema.ntypes:
            if t in self.linear:
                if t not in x:
                    raise ShapeError(f"{type(self).__name__}: expected features of node type {t!r}, got types "
                                     f"{sorted(x)}.")
                out[t] = self.linear[t](x[t])
            else:
                table = self.embedding[t].weight
                out[t] = table if input_ids is None else table[input_ids[t].to(table.device).long()]
        return out


def _layers(graph: HeteroGraph | Sequence[HeteroGraph], num_layers: int) -> list[HeteroGraph]:
    if isinstance(graph, HeteroGraph):
        return [graph] * num_layers
    blocks = list(graph)
    if len(blocks) != num_layers:
        raise ShapeError(f"expected {num_layers} blocks (one per layer), got {len(blocks)}.")
    return blocks


class RGCN(nn.Module):
    """R-GCN entity classifier (Schlichtkrull et al. 2018): typed inputs, ``num_layers`` :class:`RGCNConv`
    (ReLU and dropout between), logits of the target type."""

    def __init__(self, schema: HeteroSchema, out_dim: int, *, hidden_dim: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, regularizer: str = "basis", num_bases: int = 4, num_blocks: int = 1,
                 self_loop: bool = True) -> None:
        super().__init__()
        self.schema, self.num_layers, self.dropout = schema, num_layers, dropout
        self.inputs = HeteroInput(schema, hidden_dim)
        num_relations = len(schema.canonical_etypes)
        dims = [hidden_dim] * num_layers + [out_dim]
        self.convs = nn.ModuleList([
            RGCNConv(dims[i], dims[i + 1], num_relations, regularizer=regularizer,
                     num_bases=min(num_bases, num_relations), num_blocks=num_blocks if i < num_layers - 1 else 1,
                     self_loop=self_loop) for i in range(num_layers)])

    def forward(self, graph: HeteroGraph | Sequence[HeteroGraph], x: Mapping[str, Tensor],
                input_ids: Mapping[str, Tensor] | None = None) -> Tensor:
        h = self.inputs(x, input_ids)
        for i, (layer_graph, conv) in enumerate(zip(_layers(graph, self.num_layers), self.convs)):
            view = layer_graph.to_homogeneous()
            x_src = dropout(view.cat_src(h, "RGCN.forward"), self.dropout, self.training)
            x_dst = x_src.index_select(0, view.dst_positions()) if layer_graph.is_block else x_src
            out = conv(view.graph, (x_src, x_dst), typed_edges(layer_graph, self.schema.canonical_etypes))
            if i < self.num_layers - 1:
                out = F.relu(out)
            h = view.split_dst(out)
        return h[self.schema.target]


class HGT(nn.Module):
    """HGT entity classifier (Hu et al. 2020): typed input maps, ``num_layers`` :class:`HGTConv`, a linear
    classifier on the target type."""

    def __init__(self, schema: HeteroSchema, out_dim: int, *, hidden_dim: int = 64, num_layers: int = 2,
                 heads: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        if hidden_dim % heads:
            raise ConfigError(f"HGT: expected hidden_dim divisible by heads, got {hidden_dim} and {heads}.")
        self.schema, self.num_layers = schema, num_layers
        self.inputs = HeteroInput(schema, hidden_dim)
        self.convs = nn.ModuleList([HGTConv(hidden_dim, hidden_dim, list(schema.ntypes), list(schema.canonical_etypes),
                                            num_heads=heads, dropout=dropout) for _ in range(num_layers)])
        self.classifier = nn.Linear(hidden_dim, out_dim)

    def forward(self, graph: HeteroGraph | Sequence[HeteroGraph], x: Mapping[str, Tensor],
                input_ids: Mapping[str, Tensor] | None = None) -> Tensor:
        h = {t: F.gelu(v) for t, v in self.inputs(x, input_ids).items()}
        for layer_graph, conv in zip(_layers(graph, self.num_layers), self.convs):
            h = conv(layer_graph, h)  # every node type, a type without in-edges keeps its gated skip
        return self.classifier(h[self.schema.target])


HETERO_MODELS: Registry[ModelSpec] = Registry("heterogeneous model")
_COMMON = {"hidden_dim": 64, "num_layers": 2, "dropout": 0.5}
HETERO_MODELS.register("rgcn", ModelSpec(RGCN, {**_COMMON, "regularizer": "basis", "num_bases": 4, "num_blocks": 1,
                                                "self_loop": True}))
HETERO_MODELS.register("hgt", ModelSpec(HGT, {**_COMMON, "heads": 4, "dropout": 0.2}))


def build_hetero_model(name: str, schema: HeteroSchema, out_dim: int, **hparams: Any) -> nn.Module:
    """A registered heterogeneous model for ``schema`` with ``out_dim`` classes.

    Raises:
        ConfigError: Unknown model or hparam, or a value of the wrong type or range.
    """
    spec = HETERO_MODELS.get(name, where="build_hetero_model")
    return spec.builder(schema, out_dim, **resolve_hparams(f"build_hetero_model({name!r})", spec, hparams))


__all__ = ["HETERO_MODELS", "HGT", "RGCN", "HeteroInput", "HeteroSchema", "build_hetero_model"]
