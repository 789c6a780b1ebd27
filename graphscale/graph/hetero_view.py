"""The homogeneous view of a heterogeneous graph: node types numbered one after another, relations one after
another, with the type id of every node and edge (the layout of the fused multi-relation kernels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..errors import ShapeError
from .graph import Graph

if TYPE_CHECKING:
    from .hetero import EdgeType, HeteroGraph


@dataclass(frozen=True)
class Homogeneous:
    """The homogeneous view of a heterogeneous graph (or block).

    Attributes:
        graph: Over all nodes; its edges are the relations' edges, relation after relation.
        node_type: ``[N_src]`` int64 type id of every (source-side) node.
        edge_type: ``[E]`` int64 relation id of every edge (non-decreasing).
        src_offsets / dst_offsets: ``{ntype: first id}`` of each type's range on either side.
        edge_offsets: ``[R+1]`` int64 first edge of every relation (relation ``r`` owns ``[off[r], off[r+1])``).
        ntypes, canonical_etypes: the type names the ids index.
    """

    graph: Graph
    node_type: Tensor
    dst_node_type: Tensor
    edge_type: Tensor
    src_offsets: dict[str, int]
    dst_offsets: dict[str, int]
    edge_offsets: Tensor
    ntypes: tuple[str, ...]
    canonical_etypes: tuple[EdgeType, ...]

    def dst_positions(self) -> Tensor:
        """``[N_dst_total]`` int64 row of every destination node among the sources (a block's destinations of
        type ``t`` are the first sources of type ``t``), for ``x_dst = x_src[dst_positions]``."""
        device = self.node_type.device
        parts = [torch.arange(self.src_offsets[t], self.src_offsets[t] + count, device=device)
                 for t, count in self.dst_counts().items()]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64, device=device)

    def dst_counts(self) -> dict[str, int]:
        """``{ntype: destination nodes}``."""
        starts = list(self.dst_offsets.values())
        ends = starts[1:] + [int(self.dst_node_type.numel())]
        return {t: end - start for t, start, end in zip(self.dst_offsets, starts, ends)}

    def split_dst(self, out: Tensor) -> dict[str, Tensor]:
        """``{ntype: rows}`` of a ``[N_dst_total, *]`` result, per destination type."""
        return {t: out[self.dst_offsets[t]:self.dst_offsets[t] + count] for t, count in self.dst_counts().items()}

    def cat_src(self, x: Mapping[str, Tensor], where: str = "features") -> Tensor:
        """Concatenate per-type source features into ``[N_src_total, *]`` (every type must be given)."""
        missing = [t for t in self.ntypes if t not in x]
        if missing:
            raise ShapeError(f"{where}: expected features for every node type {list(self.ntypes)}, missing "
                             f"{missing}.")
        return torch.cat([x[t] for t in self.ntypes]) if len(self.ntypes) > 1 else x[self.ntypes[0]]


def _offsets(counts: Mapping[str, int]) -> dict[str, int]:
    out, total = {}, 0
    for t, n in counts.items():
        out[t] = total
        total += n
    return out


def to_homogeneous(hg: HeteroGraph) -> Homogeneous:
    ntypes = hg.ntypes
    src_off, dst_off = _offsets(hg._num_src), _offsets(hg._num_dst)
    device = hg.device
    srcs, dsts, counts = [], [], []
    for etype, graph in hg.relations():
        srcs.append(graph.src.long() + src_off[etype[0]])
        dsts.append(graph.dst.long() + dst_off[etype[2]])
        counts.append(graph.num_edges)
    empty = torch.zeros(0, dtype=torch.int64, device=device)
    src = torch.cat(srcs) if srcs else empty
    dst = torch.cat(dsts) if dsts else empty
    num_src, num_dst = hg.num_nodes(), sum(hg._num_dst.values())
    graph = Graph._trusted(src, dst, num_src, num_dst)
    type_ids = torch.arange(len(ntypes), device=device)
    node_type = torch.repeat_interleave(type_ids, torch.tensor([hg._num_src[t] for t in ntypes], device=device))
    dst_node_type = torch.repeat_interleave(type_ids, torch.tensor([hg._num_dst[t] for t in ntypes], device=device))
    count_t = torch.tensor(counts, dtype=torch.int64, device=device)
    edge_type = torch.repeat_interleave(torch.arange(len(counts), device=device), count_t)
    edge_offsets = torch.zeros(len(counts) + 1, dtype=torch.int64, device=device)
    torch.cumsum(count_t, 0, out=edge_offsets[1:])
    return Homogeneous(graph, node_type, dst_node_type, edge_type, src_off, dst_off, edge_offsets, ntypes,
                       hg.canonical_etypes)


def typed_edges(graph: HeteroGraph, canonical_etypes: list[EdgeType] | tuple[EdgeType, ...]) -> Tensor:
    """``[E]`` int64 relation id of every edge of ``graph.to_homogeneous()`` in the numbering of
    ``canonical_etypes`` (a model's own order), cached on the graph.

    Raises:
        GraphFormatError: ``graph`` has a relation that ``canonical_etypes`` does not list.
    """
    from ..errors import GraphFormatError

    order = tuple(tuple(e) for e in canonical_etypes)

    def build() -> Tensor:
        index = {e: i for i, e in enumerate(order)}
        unknown = [e for e in graph.canonical_etypes if e not in index]
        if unknown:
            raise GraphFormatError(f"typed_edges: expected the relations {list(order)}, got unknown relations "
                                   f"{unknown}.")
        view = graph.to_homogeneous()
        ids = torch.tensor([index[e] for e in graph.canonical_etypes], dtype=torch.int64, device=view.edge_type.device)
        return ids[view.edge_type]

    return graph.cached(f"typed_edges:{order}", build)


__all__ = ["Homogeneous", "to_homogeneous", "typed_edges"]
