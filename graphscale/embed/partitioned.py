"""Vertex and context tables in partitions, trained block by block by the ranks of a torchrun group (GraphVite's
scheme, on collectives: :mod:`graphscale.distributed.buckets`)::

    torchrun --nproc-per-node 2 -m graphscale embed --dataset blogcatalog --model deepwalk --entity-partitions 4

The nodes are split into ``P`` random near-equal partitions (:func:`graphscale.kge.partition.plan_partitions`);
vertex partition ``p`` and context partition ``p`` live on the home rank ``p % W``, so no rank holds a whole
table while training. Pool ``b`` (one engine epoch) is sampled by all ranks at once, each a share of its walks
(or LINE edges), and its pairs ``(u, v)`` fall into *blocks* ``(part(u), part(v))``. The blocks are trained in
rounds: in a round the ranks train blocks that share no partition (vertex ``i`` and context ``j``; both from the
one table for first-order LINE), so they write disjoint rows. Each block's pairs are sent to the rank that
trains it (one ``all_to_all`` per pool), and the partitions of a block are moved there for the round and back
after it; a block goes to its vertex partition's home when that rank is free, so with ``P = W`` only context
partitions move. Negatives are drawn from the block's context partition (degree^0.75 within it), as GraphVite
draws them on the GPU that holds the block.

``W = 1`` with ``P > 1`` is GraphVite's one-device mode (two partitions resident at a time); it trains the
same way without collectives. The linear learning-rate decay runs on the global sample count (all ranks).
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
import torch

from ..distributed.buckets import Homes, assign, home_of, rounds_of
from ..distributed.comm import all_reduce_sum, all_to_all
from ..kge.partition import plan_partitions
from ..sampling.alias import build_alias, negative_weights, sample_alias
from ..sampling.rng import mix_seed
from .sgd import sgd_numba

VERTEX, CONTEXT = "vertex", "context"


class PartitionedTables:
    """The engine task's state of a partitioned run: this rank's home partitions, the block schedule, the SGD.

    Args:
        s: The run's settings (``EmbedSettings``).
        num_nodes, total: Nodes, and the positive samples of the whole run (the learning-rate schedule).
        degree: ``[N]`` node weights of the negative distribution (degree^0.75 per context partition).
        num_partitions, rank, world: ``P`` and the group (``world`` 1: one process).
    """

    def __init__(self, s: Any, num_nodes: int, total: int, degree: np.ndarray, num_partitions: int, rank: int,
                 world: int) -> None:
        self.s, self.total, self.rank, self.world = s, total, rank, world
        self.plan = plan_partitions(num_nodes, num_partitions, s.seed)
        self.parts = self.plan.num_partitions
        self.part_of, self.local_of = self.plan.part_of.numpy(), self.plan.local_of.numpy()
        self.shared = s.model == "line" and s.order == 1
        self.homes = Homes(lambda key: self.plan.size(key[1]), s.dim, rank, world)
        self.home: dict[tuple[str, int], torch.Tensor] = {}
        for p in range(self.parts):
            if home_of(p, world) == rank:
                rng = np.random.default_rng(mix_seed(s.seed, 17, p))
                size = self.plan.size(p)
                self.home[(VERTEX, p)] = torch.from_numpy(((rng.random((size, s.dim), dtype=np.float32) - 0.5)
                                                           / s.dim).astype(np.float32))
                if not self.shared:
                    self.home[(CONTEXT, p)] = torch.zeros(size, s.dim)
        weights = negative_weights(degree)
        self.noise = []
        for p in range(self.parts):
            w = weights[self.plan.members(p).numpy()]
            self.noise.append(build_alias(w if w.sum() > 0 else np.ones_like(w)))
        self.blocks = [(i, j) for i in range(self.parts) for j in range(self.parts)]
        self.done, self.sample_time, self.train_time = 0, 0.0, 0.0
        self.feed: Any = None

    def touches(self, block: tuple[int, int]) -> set:
        i, j = block
        return {(VERTEX, i), (VERTEX, j)} if self.shared else {(VERTEX, i), (CONTEXT, j)}

    # -- one pool -------------------------------------------------------------------------------------------
    def _schedule(self, b: int) -> tuple[list[list[Any]], np.ndarray]:
        """Pool ``b``'s rounds (the block of each rank per round) and the rank training each block."""
        generator = torch.Generator().manual_seed(mix_seed(self.s.seed, 29, b) % (1 << 62))
        rounds = [assign(chosen, self.world, lambda block: home_of(block[0], self.world))
                  for chosen in rounds_of(self.blocks, self.world, generator, self.touches)]
        trainer = np.zeros(self.parts * self.parts, dtype=np.int64)
        for ranks in rounds:
            for q, block in enumerate(ranks):
                if block is not None:
                    trainer[block[0] * self.parts + block[1]] = q
        return rounds, trainer

    def _route(self, center: np.ndarray, context: np.ndarray, trainer: np.ndarray) -> tuple[dict, torch.Tensor]:
        """Send every pair to the rank training its block: ``(the pairs of each block trained here, the global
        pair count per block)``."""
        keep = center >= 0
        u, v = center[keep], context[keep]
        key = self.part_of[u] * self.parts + self.part_of[v]
        order = np.lexsort((key, trainer[key]))
        pairs = torch.from_numpy(np.stack([u[order], v[order]], axis=1).astype(np.int32))
        counts = torch.zeros(self.world, self.parts * self.parts, dtype=torch.int64)
        counts[self.rank] = torch.from_numpy(np.bincount(key, minlength=self.parts * self.parts))
        mine = np.flatnonzero(trainer == self.rank)
        if self.world > 1:
            all_reduce_sum(counts)
            send = np.bincount(trainer[key], minlength=self.world).tolist()
            pairs = all_to_all(pairs, send, counts[:, mine].sum(1).tolist(), self.homes.traffic)
        pieces: dict[int, list[torch.Tensor]] = {int(k): [] for k in mine}
        offset = 0
        for q in range(self.world):  # each sender's pairs here come in ascending block order
            for k in mine:
                c = int(counts[q, k])
                pieces[int(k)].append(pairs[offset:offset + c])
                offset += c
        return {k: torch.cat(p) for k, p in pieces.items()}, counts.sum(0)

    def train_pool(self, b: int) -> dict[str, float]:
        """One engine epoch: pool ``b``'s blocks, round by round."""
        pool, seconds = self.feed.take(b)
        self.sample_time += seconds
        start = time.perf_counter()
        rounds, trainer = self._schedule(b)
        pieces, per_block = self._route(pool.center[:pool.count], pool.context[:pool.count], trainer)
        slots = torch.tensor([float(pool.count)], dtype=torch.float64)
        self.feed.give_back(pool)
        done, totals = self.done, np.zeros(2)
        for r, ranks in enumerate(rounds):
            needed = {part: q for q, block in enumerate(ranks) if block is not None for part in self.touches(block)}
            homes = {part: home_of(part, self.world) for part in needed}
            held = self.homes.exchange(needed, self.home, homes)
            block = ranks[self.rank]
            if block is not None:
                totals += self._train_block(block, held, pieces[block[0] * self.parts + block[1]], done, b, r)
            self.home.update(self.homes.exchange(homes, held, needed))
            done += sum(int(per_block[k[0] * self.parts + k[1]]) for k in ranks if k is not None)
        sums = torch.tensor([*totals, slots[0]], dtype=torch.float64)
        if self.world > 1:
            all_reduce_sum(sums)
        self.done += int(sums[2])  # every slot of every rank's share, as one process counts a pool
        self.train_time += time.perf_counter() - start
        return {"train_loss": float(sums[0] / max(float(sums[1]), 1.0))}

    def _train_block(self, block: tuple[int, int], held: dict, pairs: torch.Tensor, done: int, b: int,
                     r: int) -> np.ndarray:
        """SGD on one block's pairs with the held partitions (updated in place); ``[loss sum, counted]``."""
        i, j = block
        n, s = int(pairs.shape[0]), self.s
        if n == 0:
            return np.zeros(2)
        center = self.local_of[pairs[:, 0].numpy()].astype(np.int32)
        context = self.local_of[pairs[:, 1].numpy()].astype(np.int32)
        prob, alias = self.noise[j]
        negatives = sample_alias(prob, alias, n * s.negatives, mix_seed(s.seed, 37, b, r, self.rank))
        negatives = negatives.astype(np.int32).reshape(n, s.negatives)
        if self.shared:
            table = held[(VERTEX, i)].numpy() if i == j else np.concatenate([held[(VERTEX, i)].numpy(),
                                                                              held[(VERTEX, j)].numpy()])
            if i != j:
                context += self.plan.size(i)
                negatives += self.plan.size(i)
            vertex = ctx = table
        else:
            vertex, ctx = held[(VERTEX, i)].numpy(), held[(CONTEXT, j)].numpy()
        loss, counted = sgd_numba(vertex, ctx, center, context, negatives, n, s.negatives, s.lr, s.min_lr_fraction,
                                  done, self.total, s.negative_weight, 64, numba.get_num_threads())
        if self.shared and i != j:
            held[(VERTEX, i)].copy_(torch.from_numpy(table[:self.plan.size(i)]))
            held[(VERTEX, j)].copy_(torch.from_numpy(table[self.plan.size(i):]))
        return np.array([loss, counted], dtype=np.float64)

    # -- the engine's state and the result ------------------------------------------------------------------
    def finish(self) -> None:
        """Nothing to copy back: the home partitions are the tables."""

    def state(self) -> dict[str, Any]:
        """This rank's home partitions and the samples done (its checkpoint shard)."""
        return {"home": {f"{t}:{p}": w.clone() for (t, p), w in self.home.items()}, "done": self.done}

    def load(self, state: dict[str, Any], epoch: int) -> None:
        home = {}
        for name, weight in state["home"].items():
            table, part = name.split(":")
            home[(table, int(part))] = weight.contiguous()
        self.home, self.done = home, int(state["done"])

    def assemble(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole vertex and context tables ``[N, dim]`` on every rank (each rank's home rows, summed)."""
        out = []
        for table in (VERTEX,) if self.shared else (VERTEX, CONTEXT):
            full = torch.zeros(self.part_of.shape[0], self.s.dim)
            for (t, p), weight in self.home.items():
                if t == table:
                    full[self.plan.members(p)] = weight
            out.append((all_reduce_sum(full) if self.world > 1 else full).numpy())
        return out[0], out[-1]

    def bytes_sent(self) -> float:
        """Bytes all ranks sent (pairs and partitions) so far."""
        sent = torch.tensor([float(self.homes.traffic.bytes_sent)], dtype=torch.float64)
        return float(all_reduce_sum(sent)[0]) if self.world > 1 else 0.0


__all__ = ["PartitionedTables"]
