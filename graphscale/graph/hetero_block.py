"""``HeteroBlock``: the heterogeneous message-flow graph a sampler emits."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from ..errors import GraphFormatError
from .block import Block
from .hetero import EdgeType, HeteroGraph


class HeteroBlock(HeteroGraph):
    """Heterogeneous message-flow graph: per node type ``num_src_nodes(t)`` sources whose first
    ``num_dst_nodes(t)`` are the destinations, and one bipartite :class:`Block` per relation.

    Attributes:
        src_ids / dst_ids: ``{ntype: [N] int64}`` original ids of the source / destination nodes.
        edge_ids: ``{etype: [E_r] int64}`` original edge ids of every relation's edges.
    """

    def __init__(self, num_src_nodes: Mapping[str, int], num_dst_nodes: Mapping[str, int],
                 relations: Mapping[EdgeType, Block], src_ids: Mapping[str, Tensor] | None = None,
                 dst_ids: Mapping[str, Tensor] | None = None, edge_ids: Mapping[EdgeType, Tensor] | None = None):
        for etype, block in relations.items():
            expected = (num_src_nodes[etype[0]], num_dst_nodes[etype[2]])
            if (block.num_src_nodes, block.num_dst_nodes) != expected:
                raise GraphFormatError(f"HeteroBlock: relation {'__'.join(etype)}: expected {expected[0]} source and "
                                       f"{expected[1]} destination nodes, got {block.num_src_nodes} and "
                                       f"{block.num_dst_nodes}.")
        for ntype in num_dst_nodes:
            if num_dst_nodes[ntype] > num_src_nodes.get(ntype, 0):
                raise GraphFormatError(f"HeteroBlock: node type {ntype!r}: expected its destinations to be a prefix "
                                       f"of its sources, got {num_dst_nodes[ntype]} destinations and "
                                       f"{num_src_nodes.get(ntype, 0)} sources.")
        self._init(dict(num_src_nodes), {t: int(num_dst_nodes.get(t, 0)) for t in num_src_nodes},
                   dict(relations))
        self.src_ids = dict(src_ids or {})
        self.dst_ids = dict(dst_ids or {})
        self.edge_ids = dict(edge_ids or {})

    @property
    def is_block(self) -> bool:
        return True

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}: {self._num_src[t]}->{self._num_dst[t]}" for t in self.ntypes)
        return f"HeteroBlock(nodes={{{nodes}}}, num_edges={self.num_edges()})"


__all__ = ["HeteroBlock"]
