"""``Block``: a bipartite message-flow graph, the unit a mini-batch sampler emits (DGL's idea).

Edges go from ``num_src_nodes`` source nodes to ``num_dst_nodes`` destination nodes, in local ids.
By convention the first ``num_dst_nodes`` source nodes *are* the destination nodes, so
``x_dst = x_src[:block.num_dst_nodes]`` (src nodes ⊇ dst nodes). ``src_ids`` / ``dst_ids`` map local ids
back to ids of the full graph and ``edge_ids`` to its edges.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .graph import Graph, _as_index_tensor


class Block(Graph):
    """Bipartite graph ``src side -> dst side`` with local ids and the original ids beside them.

    Args:
        src: ``[E]`` local source ids in ``[0, num_src_nodes)``.
        dst: ``[E]`` local destination ids in ``[0, num_dst_nodes)``.
        num_src_nodes: Source-side node count.
        num_dst_nodes: Destination-side node count.
        src_ids: ``[num_src_nodes]`` original ids of the source nodes (optional).
        dst_ids: ``[num_dst_nodes]`` original ids of the destination nodes (optional).
        edge_ids: ``[E]`` original edge ids (optional).
    """

    def __init__(
        self,
        src: Tensor,
        dst: Tensor,
        num_src_nodes: int,
        num_dst_nodes: int,
        *,
        src_ids: Tensor | None = None,
        dst_ids: Tensor | None = None,
        edge_ids: Tensor | None = None,
        validate: bool = True,
    ) -> None:
        src_t = _as_index_tensor(src, "src")
        dst_t = _as_index_tensor(dst, "dst", device=src_t.device)
        if src_t.numel() != dst_t.numel():
            from ..errors import GraphFormatError

            raise GraphFormatError(
                f"Block: expected src and dst of equal length, got {src_t.numel()} and {dst_t.numel()}."
            )
        self._init(src_t, dst_t, int(num_src_nodes), int(num_dst_nodes), validate)
        self.src_ids = src_ids
        self.dst_ids = dst_ids
        self.edge_ids = edge_ids

    @property
    def is_block(self) -> bool:
        return True

    def to(self, device: torch.device | str) -> Block:
        """Copy to ``device`` with its ``src_ids`` / ``dst_ids`` / ``edge_ids``; self when already there."""
        moved = super().to(device)
        if moved is not self:
            for name in ("src_ids", "dst_ids", "edge_ids"):
                value = getattr(self, name)
                setattr(moved, name, None if value is None else value.to(device))
        return moved

    @property
    def num_nodes(self) -> int:
        return self.num_src_nodes

    def __repr__(self) -> str:
        return (f"Block(num_src_nodes={self.num_src_nodes}, num_dst_nodes={self.num_dst_nodes}, "
                f"num_edges={self.num_edges})")


def to_block(graph: Graph, dst_nodes: Tensor, include_dst_in_src: bool = True) -> Block:
    """All in-edges of ``dst_nodes`` in ``graph`` as a Block (a full-neighbourhood layer).

    Source ids are ``dst_nodes`` first, then the other neighbours in first-seen order.
    """
    dst_nodes = torch.as_tensor(dst_nodes, device=graph.device).long()
    indptr, nbr, eids = graph.csc()
    starts, ends = indptr[dst_nodes], indptr[dst_nodes + 1]
    counts = ends - starts
    local_dst = torch.repeat_interleave(torch.arange(dst_nodes.numel(), device=graph.device), counts)
    offsets = torch.repeat_interleave(starts - torch.cumsum(counts, 0) + counts, counts)
    pos = torch.arange(int(counts.sum()), device=graph.device) + offsets
    src_orig, edge_ids = nbr[pos].long(), eids[pos]
    seeds = dst_nodes if include_dst_in_src else dst_nodes[:0]
    all_src = torch.cat([seeds, src_orig])
    uniq, inverse = torch.unique(all_src, return_inverse=True)
    first = torch.full((uniq.numel(),), all_src.numel(), dtype=torch.int64, device=graph.device)
    first.scatter_reduce_(0, inverse, torch.arange(all_src.numel(), device=graph.device), reduce="amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=graph.device)
    local_src = rank[inverse[seeds.numel():]]
    return Block(local_src, local_dst, uniq.numel(), dst_nodes.numel(), src_ids=uniq[order],
                 dst_ids=dst_nodes, edge_ids=edge_ids, validate=False)
