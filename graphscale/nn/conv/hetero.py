"""HeteroConv: any homogeneous layer per relation, combined per destination type (DGL's ``HeteroGraphConv``,
PyG's ``HeteroConv``)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...graph.hetero import EdgeType, HeteroGraph
from ...saga.hetero import CROSS_REDUCERS, combine

SEPARATOR = "__"


def etype_key(etype: EdgeType) -> str:
    """``"src__relation__dst"``: the module key of a canonical edge type."""
    return SEPARATOR.join(etype)


class HeteroConv(nn.Module):
    r"""One message-passing layer per relation; each destination type combines what its relations produce:

    .. math::
        h'_{v} = \mathrm{AGG}_{r = (s, \cdot, t(v))}\ \mathrm{conv}_r\big(G_r, (h_s, h_{t(v)})\big)_v

    Args:
        convs: ``{(src_type, relation, dst_type): layer}``; each layer takes ``(graph, (x_src, x_dst))`` (a
            bipartite pair; SAGEConv, GATConv, GINConv ...) or ``(graph, x)`` when both ends are one node type.
        aggregate: "sum", "mean", "max", "min" or "stack" over the relations reaching a type.

    Shapes:
        graph: ``HeteroGraph`` or ``HeteroBlock``; x: ``{ntype: [N_src_t, F_t]}``; edge_weight: optional
        ``{etype: [E_r]}``; returns ``{ntype: [N_dst_t, F_out]}`` for every type some relation reaches.
    """

    def __init__(self, convs: Mapping[EdgeType, nn.Module], aggregate: str = "sum") -> None:
        super().__init__()
        if aggregate not in CROSS_REDUCERS:
            raise ConfigError(f"HeteroConv: expected aggregate among {list(CROSS_REDUCERS)}, got {aggregate!r}.")
        for etype in convs:
            if not (isinstance(etype, tuple) and len(etype) == 3):
                raise ConfigError(f"HeteroConv: expected canonical edge types (src_type, relation, dst_type) as keys, "
                                  f"got {etype!r}.")
        self.etypes = list(convs)
        self.convs = nn.ModuleDict({etype_key(e): conv for e, conv in convs.items()})
        self.aggregate = aggregate

    def forward(self, graph: HeteroGraph, x: Mapping[str, Tensor],
                edge_weight: Mapping[EdgeType, Tensor] | None = None) -> dict[str, Tensor]:
        per_type: dict[str, list[Tensor]] = {}
        for etype in self.etypes:
            relation = graph[etype]
            src_type, _, dst_type = etype
            if src_type not in x or dst_type not in x:
                missing = src_type if src_type not in x else dst_type
                raise ShapeError(f"HeteroConv.forward: relation {etype} needs features of node type {missing!r}, "
                                 f"got types {sorted(x)}.")
            x_src = x[src_type]
            x_dst = x[dst_type][: graph.num_dst_nodes(dst_type)] if graph.is_block else x[dst_type]
            inputs = x_src if (src_type == dst_type and not graph.is_block) else (x_src, x_dst)
            conv = self.convs[etype_key(etype)]
            weight = None if edge_weight is None else edge_weight.get(etype)
            out = conv(relation, inputs) if weight is None else conv(relation, inputs, weight)
            per_type.setdefault(dst_type, []).append(out)
        ordered = {t: per_type[t] for t in graph.ntypes if t in per_type}
        return combine(ordered, self.aggregate)
