"""Partitioned tables trained bucket by bucket by several ranks at once (PyTorch-BigGraph's and GraphVite's
scheme, on collectives): the common part of ``kg --entity-partitions`` and ``embed --entity-partitions``.

A table is split into partitions; a *bucket* is the work touching a few of them (a KG bucket ``(i, j)`` touches
entity partitions ``i`` and ``j``; an embedding block ``(i, j)`` touches vertex partition ``i`` and context
partition ``j``). Every partition lives on its *home* rank (:func:`home_of`). An epoch is a sequence of *rounds*:
each round gives every rank at most one bucket such that no two ranks touch the same partition, so the ranks
train concurrently without conflicting writes. Before a round each rank receives the partitions of its bucket
from their homes, and after it sends them back (:meth:`Homes.exchange`, one ``all_to_all`` each way).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import Tensor

from .comm import Traffic, all_to_all


def home_of(part: Any, world: int) -> int:
    """The home rank of partition ``part`` (an int, or a ``(table, int)`` pair): its index modulo the ranks."""
    return (part[-1] if isinstance(part, tuple) else part) % world


def rounds_of(keys: list[Any], world: int, generator: torch.Generator,
              touches: Callable[[Any], set] = set) -> list[list[Any]]:
    """The buckets ``keys`` in rounds of at most ``world``, no partition (``touches(key)``) twice in a round
    (shuffled by ``generator``, then filled greedily; every bucket exactly once)."""
    order = [keys[i] for i in torch.randperm(len(keys), generator=generator).tolist()]
    rounds = []
    while order:
        chosen, used, rest = [], set(), []
        for key in order:
            parts = touches(key)
            if len(chosen) < world and not (parts & used):
                chosen.append(key)
                used |= parts
            else:
                rest.append(key)
        rounds.append(chosen)
        order = rest
    return rounds


def assign(chosen: list[Any], world: int, home: Callable[[Any], int]) -> list[Any]:
    """The bucket of each rank in a round (None: idle): a bucket goes to ``home(bucket)`` when that rank is
    free (its first partition then does not move), else to the lowest free rank."""
    ranks: list[Any] = [None] * world
    rest = []
    for key in chosen:
        r = home(key)
        if ranks[r] is None:
            ranks[r] = key
        else:
            rest.append(key)
    free = [r for r in range(world) if ranks[r] is None]
    for key, r in zip(rest, free, strict=False):
        ranks[r] = key
    return ranks


class Homes:
    """Moves partitions (``[size(p), width]`` row blocks) between ranks.

    Args:
        size: Rows of partition ``p``.
        width: Columns of every block (a table's rows packed with their optimiser state).
        rank, world: The group (``world`` 1: nothing moves, no collective is called).
    """

    def __init__(self, size: Callable[[Hashable], int], width: int, rank: int, world: int,
                 traffic: Traffic | None = None) -> None:
        self.size, self.width, self.rank, self.world = size, width, rank, world
        self.traffic = traffic if traffic is not None else Traffic()

    def exchange(self, where_to: dict[Any, int], blocks: dict[Any, Tensor],
                 where_from: dict[Any, int]) -> dict[Any, Tensor]:
        """Send partition ``p`` of ``blocks`` to rank ``where_to[p]``; receive every ``p`` sent here by
        ``where_from[p]`` (both maps identical on every rank; partitions in sorted order per pair)."""
        mine = {p: b for p, b in blocks.items() if where_to.get(p) == self.rank}
        if self.world == 1:
            return mine
        sends = {q: sorted(p for p, to in where_to.items() if to == q and p in blocks) for q in range(self.world)}
        recvs = {q: sorted(p for p, frm in where_from.items() if frm == q and where_to.get(p) == self.rank)
                 for q in range(self.world)}
        parts = [blocks[p] for q in range(self.world) for p in sends[q]]
        send = torch.cat(parts) if parts else torch.zeros(0, self.width)
        got = all_to_all(send, [sum(self.size(p) for p in sends[q]) for q in range(self.world)],
                         [sum(self.size(p) for p in recvs[q]) for q in range(self.world)], self.traffic)
        out, offset = {}, 0
        for q in range(self.world):
            for p in recvs[q]:
                out[p] = got[offset:offset + self.size(p)]
                offset += self.size(p)
        return out


__all__ = ["Homes", "assign", "home_of", "rounds_of"]
