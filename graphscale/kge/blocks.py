"""Entity blocks for training embedding tables larger than the device memory (PyTorch-BigGraph, GraphVite).

Entities are split into ``P`` blocks of near-equal size by a seeded random permutation (so block sizes do
not depend on how ids were assigned). The triples whose head lies in block ``i`` and tail in block ``j``
form bucket ``(i, j)``. An epoch walks every non-empty bucket once in a seeded random order; an *episode*
moves the two blocks' rows (weights and optimiser state) to the device, trains on that bucket's triples
with negatives drawn from the same two blocks (heads from ``i``, tails from ``j``), and writes them back.
Only two blocks are ever on the device, so the table itself may be any size the host holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class BlockPlan:
    """Assignment of entities to ``num_blocks`` blocks.

    Attributes:
        order: ``[N]`` entity ids grouped by block: block ``b`` is ``order[offsets[b]:offsets[b + 1]]``.
        offsets: ``[P + 1]`` block boundaries in ``order``.
        block_of: ``[N]`` block of each entity.
        local_of: ``[N]`` position of each entity inside its block.
    """

    order: Tensor
    offsets: list[int]
    block_of: Tensor
    local_of: Tensor

    @property
    def num_blocks(self) -> int:
        return len(self.offsets) - 1

    def members(self, block: int) -> Tensor:
        return self.order[self.offsets[block]:self.offsets[block + 1]]

    def size(self, block: int) -> int:
        return self.offsets[block + 1] - self.offsets[block]


def plan_blocks(num_entities: int, num_blocks: int, seed: int = 0) -> BlockPlan:
    """Split ``num_entities`` entities into ``num_blocks`` near-equal random blocks."""
    num_blocks = max(1, min(num_blocks, num_entities))
    if num_blocks == 1:
        order = torch.arange(num_entities)
    else:
        order = torch.randperm(num_entities, generator=torch.Generator().manual_seed(seed + 7919))
    bounds = [round(b * num_entities / num_blocks) for b in range(num_blocks + 1)]
    block_of = torch.empty(num_entities, dtype=torch.int64)
    local_of = torch.empty(num_entities, dtype=torch.int64)
    for b in range(num_blocks):
        members = order[bounds[b]:bounds[b + 1]]
        block_of[members] = b
        local_of[members] = torch.arange(members.numel())
    return BlockPlan(order, bounds, block_of, local_of)


def bucketize(triples: Tensor, plan: BlockPlan) -> dict[tuple[int, int], Tensor]:
    """Triples per bucket ``(block of head, block of tail)``, ids unchanged; empty buckets are left out."""
    num = plan.num_blocks
    key = plan.block_of[triples[:, 0]] * num + plan.block_of[triples[:, 2]]
    order = torch.argsort(key, stable=True)
    counts = torch.bincount(key, minlength=num * num).tolist()
    out, start = {}, 0
    for bucket, count in enumerate(counts):
        if count:
            out[(bucket // num, bucket % num)] = triples[order[start:start + count]]
        start += count
    return out


def episode_rows(plan: BlockPlan, head_block: int, tail_block: int) -> tuple[Tensor, tuple[int, int], tuple[int, int]]:
    """Entity ids held on the device for bucket ``(i, j)``, and the local id ranges of heads and tails.

    Returns:
        ``(rows, head_range, tail_range)``: local id ``k`` is entity ``rows[k]``; block ``i`` occupies
        ``head_range``, block ``j`` ``tail_range`` (the same range when ``i == j``).
    """
    head_rows = plan.members(head_block)
    if head_block == tail_block:
        return head_rows, (0, head_rows.numel()), (0, head_rows.numel())
    tail_rows = plan.members(tail_block)
    n_head = head_rows.numel()
    return torch.cat([head_rows, tail_rows]), (0, n_head), (n_head, n_head + tail_rows.numel())


def localize(triples: Tensor, plan: BlockPlan, head_block: int, tail_block: int) -> Tensor:
    """Triples of bucket ``(i, j)`` with entity ids replaced by their local ids of :func:`episode_rows`."""
    out = triples.clone()
    out[:, 0] = plan.local_of[triples[:, 0]]
    out[:, 2] = plan.local_of[triples[:, 2]]
    if head_block != tail_block:
        out[:, 2] += plan.size(head_block)
    return out
