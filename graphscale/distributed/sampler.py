"""Distributed neighbour sampling: every rank samples its own seeds, the in-edges of nodes owned by other ranks
are sampled by their owners, one batched request per hop and destination rank (``all_to_all``).

Hop ``l`` groups its destination nodes by owner (the partition book), sends each owner the ids it must
sample, and the owner draws up to ``fanouts[l]`` in-neighbours of each from its part's CSC with the random
stream of ``(seed, l, v)`` keyed on the *global* id ``v`` (:func:`graphscale.sampling.neighbor.draw_node`);
the drawn sources and edge ids travel back in one more exchange. The requester lays the edges out in the
single-process sampler's visiting order and relabels the sources the same way, so the Blocks are **identical**
to :class:`graphscale.sampling.NeighborSampler`'s for the same seeds, fanouts and seed (uniform draws; the
test compares them edge for edge), not only equal in distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numba
import numpy as np
import torch
from numba import prange

from ..errors import SamplingError
from ..graph import Block
from ..sampling.base import ScratchMap
from ..sampling.neighbor import check_fanouts, draw_node, locality_order, relabel
from ..sampling.rng import stream
from .comm import Traffic, all_to_all
from .load import Partition, PartitionBook


@numba.njit(cache=True, nogil=True, parallel=True)
def _sample_owned(indptr, indices, eids, rows, nodes, fanout, replace, seed, layer):
    """Draws for owned rows ``rows`` (global ids ``nodes``): ``(counts [R], drawn [T, 2])`` with a draw's source
    and edge id per row of ``drawn``."""
    n = rows.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    for k in prange(n):
        deg = indptr[rows[k] + 1] - indptr[rows[k]]
        offsets[k + 1] = deg if fanout < 0 else (0 if deg == 0 else (fanout if replace else min(fanout, deg)))
    counts = offsets[1:].copy()
    for k in range(n):
        offsets[k + 1] += offsets[k]
    total = offsets[n]
    picks = np.empty(total, dtype=np.int64)
    empty = np.zeros(0, dtype=np.float64)
    drawn = np.empty((total, 2), dtype=np.int64)
    order = locality_order(rows, indptr.shape[0] - 1)  # CSC rows visited in (nearly) ascending order
    for j in prange(n):
        k = order[j]
        start, deg, out = indptr[rows[k]], indptr[rows[k] + 1] - indptr[rows[k]], offsets[k]
        count = offsets[k + 1] - out
        if fanout < 0:
            for q in range(count):
                picks[out + q] = start + q
        else:
            draw_node(stream(seed, layer, nodes[k]), start, deg, count, replace, False, empty, empty, picks,
                      empty, out)
        for q in range(out, out + count):
            drawn[q, 0] = indices[picks[q]]
            drawn[q, 1] = eids[picks[q]]
    return counts, drawn


@numba.njit(cache=True, nogil=True)
def _group_by_owner(owner, world):
    """``(positions of owner 0's items, then owner 1's, ... (stable), items per owner)``: a counting sort."""
    counts = np.zeros(world, dtype=np.int64)
    for i in range(owner.shape[0]):
        counts[owner[i]] += 1
    starts = np.zeros(world, dtype=np.int64)
    for r in range(1, world):
        starts[r] = starts[r - 1] + counts[r - 1]
    order = np.empty(owner.shape[0], dtype=np.int64)
    for i in range(owner.shape[0]):
        order[starts[owner[i]]] = i
        starts[owner[i]] += 1
    return order, counts


@numba.njit(cache=True, nogil=True)
def _assemble(dst, counts, starts, drawn, num_nodes, scratch):
    """One Block's arrays from the draws of ``dst`` (``counts[i]`` rows of ``drawn`` from ``starts[i]``): edges
    in the single-process sampler's visiting order, sources relabelled as it does (:func:`relabel`)."""
    order = locality_order(dst, num_nodes)
    total = 0
    for i in range(dst.shape[0]):
        total += counts[i]
    dst_local = np.empty(total, dtype=np.int32)
    edge_ids = np.empty(total, dtype=np.int64)
    src_global = np.empty(total, dtype=np.int64)
    pos = 0
    for k in range(dst.shape[0]):
        i = order[k]
        for q in range(starts[i], starts[i] + counts[i]):
            dst_local[pos] = i
            src_global[pos] = drawn[q, 0]
            edge_ids[pos] = drawn[q, 1]
            pos += 1
    src_local, src_nodes, duplicate = relabel(dst, src_global, scratch)
    return src_local, dst_local, edge_ids, src_nodes, duplicate


def _split_sizes(counts: np.ndarray, sizes: list[int]) -> list[int]:
    """Sums of ``counts`` over consecutive runs of ``sizes`` items (the rows per rank of a grouped array)."""
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return [int(counts[a:b].sum()) for a, b in pairwise(bounds)]


class DistNeighborSampler:
    """``sample_blocks(seeds, seed)`` across the ranks: Blocks input layer first, full-graph ids, as
    :class:`graphscale.sampling.NeighborSampler` gives them. Every rank must call it the same number of times
    (it exchanges once per hop), with its own seeds (possibly none).

    Args:
        part, book: This rank's part and the partition book.
        fanouts: Per hop, ``fanouts[0]`` at the seeds; -1 takes every in-edge.
        world_size: Ranks.
        replace: Draw with replacement.
    """

    def __init__(self, part: Partition, book: PartitionBook, fanouts: Sequence[int], world_size: int, *,
                 replace: bool = False, traffic: Traffic | None = None) -> None:
        self.part, self.book, self.world = part, book, world_size
        self.fanouts = check_fanouts(fanouts, "DistNeighborSampler")
        self.replace = bool(replace)
        self.num_nodes = int(part.manifest["num_nodes"])
        self.csc = (part.indptr.numpy(), part.indices.numpy(), part.edge_ids.numpy())  # int32 ids stay int32
        self.traffic = traffic if traffic is not None else Traffic()
        self.scratch = ScratchMap(self.num_nodes)

    def _hop(self, dst: np.ndarray, fanout: int, seed: int, layer: int) -> tuple[np.ndarray, ...]:
        """``(counts [D], sources, edge ids)`` of ``dst``'s draws, each node's from its owner, in ``dst`` order."""
        owner = self.book.node_part[torch.from_numpy(dst)].numpy()
        by_owner, per_owner = _group_by_owner(owner, self.world)
        send = per_owner.tolist()
        recv = all_to_all(torch.tensor(send), [1] * self.world, [1] * self.world).tolist()
        asked = all_to_all(torch.from_numpy(dst[by_owner]), send, recv, self.traffic).numpy()
        rows = self.book.node_local[torch.from_numpy(asked)].numpy()
        counts, drawn = _sample_owned(*self.csc, rows, asked, fanout, self.replace, seed, layer)
        back = all_to_all(torch.from_numpy(counts), recv, send, self.traffic).numpy()
        drawn = all_to_all(torch.from_numpy(drawn), _split_sizes(counts, recv),
                           _split_sizes(back, send), self.traffic).numpy()
        counts_dst = np.empty(dst.size, dtype=np.int64)
        counts_dst[by_owner] = back
        starts = np.zeros(dst.size, dtype=np.int64)
        starts[by_owner] = np.concatenate([[0], np.cumsum(back)[:-1]]) if back.size else back
        return counts_dst, starts, drawn

    def sample_blocks(self, seeds: Any, seed: int = 0) -> list[Block]:
        """Blocks for this rank's ``seeds`` (distinct global ids), input layer first."""
        dst = torch.as_tensor(seeds).long().view(-1).numpy()
        blocks: list[Block] = []
        scratch = self.scratch.get()
        for layer, fanout in enumerate(self.fanouts):
            counts, starts, drawn = self._hop(dst, fanout, int(seed), layer)
            src_local, dst_local, edge_ids, src_nodes, duplicate = _assemble(dst, counts, starts, drawn,
                                                                             self.num_nodes, scratch)
            if duplicate >= 0:
                raise SamplingError(f"DistNeighborSampler.sample_blocks: expected distinct seed ids, got node "
                                    f"{duplicate} more than once. De-duplicate with torch.unique(seeds).")
            blocks.append(Block(torch.from_numpy(src_local), torch.from_numpy(dst_local), src_nodes.size, dst.size,
                                src_ids=torch.from_numpy(src_nodes), dst_ids=torch.from_numpy(dst.copy()),
                                edge_ids=torch.from_numpy(edge_ids), validate=False))
            dst = src_nodes
        blocks.reverse()
        return blocks


__all__ = ["DistNeighborSampler"]
