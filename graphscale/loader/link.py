"""``LinkLoader``: link-level mini-batches (seed edges -> both endpoints' sampled neighbourhoods -> Blocks).

One batch (as DGL's ``as_edge_prediction_sampler`` / PyG's ``LinkNeighborLoader``):

1. a chunk of the seed pairs (positives, shuffled per epoch);
2. ``neg_per_pos`` negatives per positive drawn *in the loader* by uniform destination corruption
   (:func:`graphscale.sampling.link.uniform_negatives`), seeded by the batch seed;
3. the distinct endpoints of positives and negatives (sorted) are the seeds of the neighbour sampler
   (:class:`graphscale.sampling.NeighborSampler`), which returns Blocks, input layer first, whose last block's
   destination nodes are exactly those endpoints;
4. optionally the seed edges are removed from message passing (``exclude="self"``: the pair's edge; ``"reverse"``:
   the edge and its reverse, DGL's ``exclude='reverse_id'``): sampled block edges whose full-graph edge id is one
   of them are dropped after sampling, so a node next to a seed edge may keep one neighbour fewer than its fanout;
5. ``pos_index`` / ``neg_index`` give every pair as rows of the encoder's output (the last block's dst nodes).

Batches are sampled on background threads and come out in plan order (:class:`~graphscale.loader.NodeLoader`
does the threading): batch ``i`` of epoch ``e`` depends on ``(seed, e, i)`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import SamplingError, ShapeError
from ..graph import Block, Graph
from ..sampling.base import check_positive, chunks
from ..sampling.link import uniform_negatives
from ..sampling.neighbor import NeighborSampler
from .node import NodeLoader

EXCLUDE = ("none", "self", "reverse")


class LinkBatch(NamedTuple):
    """One link-level mini-batch.

    Attributes:
        blocks: ``len(fanouts)`` Blocks, input layer first; ``blocks[-1].dst_ids`` are the pairs' endpoints.
        input_ids: ``[N_in]`` int64 full-graph ids of the input rows: ``x_in = x[input_ids]``.
        pos_index: ``[B, 2]`` int64 rows of the encoder output (``blocks[-1]`` dst nodes) of the positives.
        neg_index: ``[B * neg_per_pos, 2]`` int64 rows of the negatives (positive ``i``'s are rows
            ``i * neg_per_pos ...``).
        pos_pairs: ``[B, 2]`` int64 full-graph node ids of the positives.
        neg_pairs: ``[B * neg_per_pos, 2]`` int64 full-graph node ids of the negatives.
        pair_ids: ``[B]`` int64 indices of the positives in the loader's seed pairs.
    """

    blocks: list[Block]
    input_ids: Tensor
    pos_index: Tensor
    neg_index: Tensor
    pos_pairs: Tensor
    neg_pairs: Tensor
    pair_ids: Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> LinkBatch:
        """Every tensor and block on ``device``."""
        return LinkBatch([b.to(device) for b in self.blocks],
                         *(t.to(device, non_blocking=non_blocking) for t in self[1:]))

    def pin_memory(self) -> LinkBatch:
        """Page-locked copies of the tensors (the blocks' ids included)."""
        from ..sampling.base import _pin_graph

        return LinkBatch([_pin_graph(b) for b in self.blocks], *(t.pin_memory() for t in self[1:]))


def check_pairs(pairs: Any, num_nodes: int, where: str) -> np.ndarray:
    """Node pairs as a contiguous int64 ``[P, 2]`` array with ids in range.

    Raises:
        ShapeError: Not ``[P, 2]`` integers.
        SamplingError: An id outside ``[0, num_nodes)``.
    """
    array = pairs.detach().cpu().numpy() if isinstance(pairs, Tensor) else np.asarray(pairs)
    if array.ndim != 2 or array.shape[1] != 2 or (array.size and array.dtype.kind not in "iu"):
        raise ShapeError(f"{where}: expected pairs as an integer array of shape [P, 2], got {array.dtype} of shape "
                         f"{tuple(array.shape)}.")
    array = np.ascontiguousarray(array, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_nodes):
        bad = int(array.min()) if array.min() < 0 else int(array.max())
        raise SamplingError(f"{where}: pairs hold node id {bad}, out of range for a graph with {num_nodes} nodes.")
    return array


def drop_edges(block: Block, excluded: np.ndarray) -> Block:
    """``block`` without the edges whose full-graph id is in ``excluded`` (sorted int64); nodes are kept."""
    eids = block.edge_ids.numpy()
    if excluded.size == 0 or eids.size == 0:
        return block
    where = np.minimum(np.searchsorted(excluded, eids), excluded.size - 1)
    keep = excluded[where] != eids
    if keep.all():
        return block
    mask = torch.from_numpy(keep)
    return Block(block.src[mask], block.dst[mask], block.num_src_nodes, block.num_dst_nodes, src_ids=block.src_ids,
                 dst_ids=block.dst_ids, edge_ids=block.edge_ids[mask], validate=False)


class LinkSampler:
    """Link-level sampling over the message-passing ``graph`` for the seed ``pairs`` (see the module docstring).

    Args:
        graph: The graph messages run on (the training graph: it must not hold valid / test edges).
        pairs: ``[P, 2]`` seed (positive) pairs.
        fanouts: Neighbours per hop, ``fanouts[0]`` at the endpoints (``-1``: all).
        neg_per_pos: Negatives drawn per positive.
        exclude: ``none``, ``self`` (drop the seed pair's edge from the blocks) or ``reverse`` (and its reverse).
        pair_edge_ids: ``[P, 2]`` int64 edge ids in ``graph`` of each pair's edge and its reverse (-1: none);
            default ``(i, i + P)``, the layout of :func:`graphscale.sampling.link.split_edges`' ``train_graph``.
        replace: Neighbour draws with replacement.

    Raises:
        SamplingError, ShapeError: Bad pairs, fanouts, ``neg_per_pos`` or ``exclude``.
    """

    def __init__(self, graph: Graph, pairs: Any, fanouts: Sequence[int], *, neg_per_pos: int = 1,
                 exclude: str = "none", pair_edge_ids: Any = None, replace: bool = False) -> None:
        where = "LinkSampler"
        self.neighbors = NeighborSampler(graph, fanouts, replace=replace)
        self.num_nodes = graph.num_nodes
        self.pairs = check_pairs(pairs, self.num_nodes, where)
        self.neg_per_pos = check_positive(neg_per_pos, "neg_per_pos", where)
        if exclude not in EXCLUDE:
            raise SamplingError(f"{where}: expected exclude in {EXCLUDE}, got {exclude!r}.")
        self.exclude = exclude
        num_pairs = self.pairs.shape[0]
        if pair_edge_ids is None:
            ids = np.arange(num_pairs, dtype=np.int64)
            pair_edge_ids = np.stack([ids, ids + num_pairs], axis=1)
        edge_ids = np.asarray(pair_edge_ids.numpy() if isinstance(pair_edge_ids, Tensor) else pair_edge_ids)
        if edge_ids.shape != (num_pairs, 2):
            raise ShapeError(f"{where}: expected pair_edge_ids of shape [{num_pairs}, 2], got {edge_ids.shape}.")
        if exclude != "none" and (edge_ids.max(initial=-1) >= graph.num_edges):
            raise SamplingError(f"{where}: pair_edge_ids holds edge id {int(edge_ids.max())}, but the graph has "
                                f"{graph.num_edges} edges. Pass the ids of each pair's edges in graph.")
        self.pair_edge_ids = np.ascontiguousarray(edge_ids, dtype=np.int64)

    @property
    def num_pairs(self) -> int:
        return int(self.pairs.shape[0])

    def excluded_edges(self, item: np.ndarray) -> np.ndarray:
        """Sorted edge ids removed from the blocks of the batch of pair indices ``item``."""
        if self.exclude == "none":
            return np.zeros(0, dtype=np.int64)
        ids = self.pair_edge_ids[item, :1] if self.exclude == "self" else self.pair_edge_ids[item]
        ids = ids.ravel()
        return np.unique(ids[ids >= 0])

    def sample(self, item: np.ndarray, seed: int) -> LinkBatch:
        """The batch of the seed pairs ``pairs[item]`` (``item``: int64 pair indices) with batch seed ``seed``."""
        pos = self.pairs[item]
        neg = uniform_negatives(pos, self.num_nodes, self.neg_per_pos, np.random.default_rng(seed))
        nodes, inverse = np.unique(np.concatenate([pos.ravel(), neg.ravel()]), return_inverse=True)
        blocks = self.neighbors.sample_blocks(nodes, seed)
        excluded = self.excluded_edges(item)
        if excluded.size:
            blocks = [drop_edges(block, excluded) for block in blocks]
        count = 2 * pos.shape[0]
        return LinkBatch(blocks, blocks[0].src_ids, torch.from_numpy(inverse[:count].reshape(-1, 2)),
                         torch.from_numpy(inverse[count:].reshape(-1, 2)), torch.from_numpy(pos),
                         torch.from_numpy(neg), torch.from_numpy(np.ascontiguousarray(item, dtype=np.int64)))


class _PairChunks:
    """The ``plan`` / ``sample`` view ``NodeLoader`` drives: its "seeds" are pair indices ``0 .. P - 1``."""

    def __init__(self, sampler: LinkSampler) -> None:
        self.sampler, self.num_nodes = sampler, sampler.num_pairs

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[np.ndarray]:
        size = check_positive(batch_size, "batch_size (seed edges per batch)", "LinkLoader")
        return chunks(rng.permutation(seeds) if shuffle else seeds, size)

    def sample(self, item: np.ndarray, seed: int) -> LinkBatch:
        return self.sampler.sample(item, seed)


class LinkLoader(NodeLoader):
    """Link-level mini-batches of a :class:`LinkSampler`, ``batch_size`` seed pairs each, sampled ahead on
    background threads (every option of :class:`~graphscale.loader.NodeLoader`).

    Yields:
        :class:`LinkBatch`.

    Example:
        >>> sampler = LinkSampler(split.train_graph, split.train_pos, [15, 10], exclude="reverse")
        >>> for batch in LinkLoader(sampler, batch_size=1024, num_workers=1):
        ...     z = model(batch.blocks, x[batch.input_ids])
        ...     loss = bce(model.score(z, batch.pos_index), model.score(z, batch.neg_index))
    """

    def __init__(self, sampler: LinkSampler, batch_size: int = 1024, **options: Any) -> None:
        if not isinstance(sampler, LinkSampler):
            raise SamplingError(f"LinkLoader: expected a LinkSampler, got {type(sampler).__name__}.")
        self.link_sampler = sampler
        super().__init__(_PairChunks(sampler), None, batch_size, **options)


__all__ = ["EXCLUDE", "LinkBatch", "LinkLoader", "LinkSampler", "check_pairs", "drop_edges"]
