"""Entity partitions for training embedding tables larger than the device memory (PyTorch-BigGraph, GraphVite).

Vocabulary of docs/glossary (GraphVite calls partitions "blocks"): entities are split into ``P`` *partitions*
of near-equal size by a seeded random permutation (so sizes do not depend on how ids were assigned). The
triples whose head lies in partition ``i`` and tail in partition ``j`` form *bucket* ``(i, j)``. An epoch
walks every non-empty bucket once in a seeded random order; an *episode* moves the two partitions' rows
(weights and optimiser state) to the device, trains on that bucket's triples with negatives drawn from the
same two partitions (heads from ``i``, tails from ``j``), and writes them back. Only two partitions are ever
on the device, so the table itself may be any size the host holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PartitionPlan:
    """Assignment of entities to ``num_partitions`` partitions.

    Attributes:
        order: ``[N]`` entity ids grouped by partition: partition ``b`` is ``order[offsets[b]:offsets[b + 1]]``.
        offsets: ``[P + 1]`` partition boundaries in ``order``.
        part_of: ``[N]`` partition of each entity.
        local_of: ``[N]`` position of each entity inside its partition.
    """

    order: Tensor
    offsets: list[int]
    part_of: Tensor
    local_of: Tensor

    @property
    def num_partitions(self) -> int:
        return len(self.offsets) - 1

    def members(self, part: int) -> Tensor:
        return self.order[self.offsets[part]:self.offsets[part + 1]]

    def size(self, part: int) -> int:
        return self.offsets[part + 1] - self.offsets[part]


def plan_partitions(num_entities: int, num_partitions: int, seed: int = 0) -> PartitionPlan:
    """Split ``num_entities`` entities into ``num_partitions`` near-equal random partitions."""
    num_partitions = max(1, min(num_partitions, num_entities))
    if num_partitions == 1:
        order = torch.arange(num_entities)
    else:
        order = torch.randperm(num_entities, generator=torch.Generator().manual_seed(seed + 7919))
    bounds = [round(b * num_entities / num_partitions) for b in range(num_partitions + 1)]
    part_of = torch.empty(num_entities, dtype=torch.int64)
    local_of = torch.empty(num_entities, dtype=torch.int64)
    for b in range(num_partitions):
        members = order[bounds[b]:bounds[b + 1]]
        part_of[members] = b
        local_of[members] = torch.arange(members.numel())
    return PartitionPlan(order, bounds, part_of, local_of)


def bucketize(triples: Tensor, plan: PartitionPlan) -> dict[tuple[int, int], Tensor]:
    """Triples per bucket ``(partition of head, partition of tail)``, ids unchanged; empty buckets are left out."""
    num = plan.num_partitions
    key = plan.part_of[triples[:, 0]] * num + plan.part_of[triples[:, 2]]
    order = torch.argsort(key, stable=True)
    counts = torch.bincount(key, minlength=num * num).tolist()
    out, start = {}, 0
    for bucket, count in enumerate(counts):
        if count:
            out[(bucket // num, bucket % num)] = triples[order[start:start + count]]
        start += count
    return out


def episode_rows(plan: PartitionPlan, head_part: int, tail_part: int) -> tuple[Tensor, tuple[int, int], tuple[int, int]]:
    """Entity ids held on the device for bucket ``(i, j)``, and the local id ranges of heads and tails.

    Returns:
        ``(rows, head_range, tail_range)``: local id ``k`` is entity ``rows[k]``; partition ``i`` occupies
        ``head_range``, partition ``j`` ``tail_range`` (the same range when ``i == j``).
    """
    head_rows = plan.members(head_part)
    if head_part == tail_part:
        return head_rows, (0, head_rows.numel()), (0, head_rows.numel())
    tail_rows = plan.members(tail_part)
    n_head = head_rows.numel()
    return torch.cat([head_rows, tail_rows]), (0, n_head), (n_head, n_head + tail_rows.numel())


def localize(triples: Tensor, plan: PartitionPlan, head_part: int, tail_part: int) -> Tensor:
    """Triples of bucket ``(i, j)`` with entity ids replaced by their local ids of :func:`episode_rows`."""
    out = triples.clone()
    out[:, 0] = plan.local_of[triples[:, 0]]
    out[:, 2] = plan.local_of[triples[:, 2]]
    if head_part != tail_part:
        out[:, 2] += plan.size(head_part)
    return out
