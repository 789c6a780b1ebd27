"""Distributed mini-batch training (DistDGL style, on collectives): every rank draws batches of its own
training seeds, samples their Blocks across the ranks (:class:`~.sampler.DistNeighborSampler`), pulls the
input rows from the KV store (:class:`~.kvstore.KVStore`) and takes a step with gradients summed over the
ranks (what DDP's all-reduce does).

One global batch of ``batch_size`` seeds is split over the ranks (``ceil(batch_size / world)`` each), and the
loss is the mean over every rank's seeds of the step, so a step is the single-process step on a batch of the
same size. Every rank runs the same number of steps per epoch (the largest rank's; a rank out of seeds takes
part in the exchanges with an empty batch), because sampling and pulling are collectives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .comm import all_reduce_max, all_reduce_sum
from .halo import reduce_gradients
from .kvstore import KVStore
from .load import Partition
from .sampler import DistNeighborSampler

_MASK63 = (1 << 63) - 1
_ORDER = 1 << 40  # the "step" whose seed shuffles an epoch (real steps never reach it)


def step_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    """The sampling seed of one rank's step: fixed by ``(seed, epoch, step, rank)``, so a resumed epoch draws
    the batches it drew before, and ranks draw independently."""
    words = np.array([seed, epoch, step, rank], dtype=np.uint64)
    return int(np.random.SeedSequence(words.tolist()).generate_state(2, np.uint64).view(np.int64)[0]) & _MASK63


class SeedBatches:
    """This rank's training seeds (global ids) as an epoch of batches, the same number on every rank.

    Args:
        seeds: ``[S_k]`` this rank's training nodes (global ids).
        batch_size: Seeds per *global* step (split evenly over the ranks).
        world_size, rank: The group.
        seed: Shuffling seed (epoch ``e``'s order is fixed by ``(seed, e, rank)``).
    """

    def __init__(self, seeds: Tensor, batch_size: int, world_size: int, rank: int, seed: int) -> None:
        self.seeds, self.rank, self.seed = seeds.long(), rank, seed
        self.per_rank = max(1, math.ceil(batch_size / world_size))
        self.steps = int(all_reduce_max(math.ceil(seeds.numel() / self.per_rank)))

    def epoch(self, epoch: int) -> list[Tensor]:
        """Epoch ``epoch``'s batches, ``self.steps`` of them (empty ones when this rank runs out)."""
        generator = torch.Generator().manual_seed(step_seed(self.seed, epoch, _ORDER, self.rank))
        order = self.seeds[torch.randperm(self.seeds.numel(), generator=generator)]
        batches = list(order.split(self.per_rank))
        return batches + [order.new_zeros(0)] * (self.steps - len(batches))


class MiniBatchStep:
    """One step of distributed mini-batch node classification.

    Args:
        model: A ``ConvStack`` (replicated: same initialisation on every rank).
        sampler: The distributed neighbour sampler (its fanouts match the model's layers).
        store: The KV store holding table ``"x"`` (the node features) and, when learnable node embeddings are
            used, table ``"emb"`` (added with a row-sparse optimizer: its rows are appended to the features and
            their gradients pushed back to the owners after every step).
        part: This rank's part (the seeds' labels).
        world_size: Ranks.
    """

    def __init__(self, model: nn.Module, sampler: DistNeighborSampler, store: KVStore, part: Partition,
                 world_size: int) -> None:
        self.model, self.sampler, self.store, self.world = model, sampler, store, world_size
        self.y, self.book_local = part.y.long(), sampler.book.node_local
        self.embedded = "emb" in store.tables

    def __call__(self, optimizer: torch.optim.Optimizer, seeds: Tensor, seed: int) -> tuple[Tensor, Tensor]:
        """Sample, pull, forward, backward and step; returns ``(summed loss, seeds)`` of this rank."""
        blocks = self.sampler.sample_blocks(seeds, seed)  # collectives: every rank, even without seeds
        inputs = blocks[0].src_ids
        x_in = self.store.pull("x", inputs).float()
        if self.embedded:
            rows = self.store.pull("emb", inputs).requires_grad_()
            x_in = torch.cat([x_in, rows], dim=1)
        optimizer.zero_grad(set_to_none=True)
        count = all_reduce_sum(torch.tensor([float(seeds.numel())], dtype=torch.float64))
        if seeds.numel():
            logits = self.model(blocks, x_in)
            target = self.y[self.book_local[seeds]]
            local = F.cross_entropy(logits, target, reduction="sum")
            (local / float(count[0])).backward()
            summed = local.detach()
        else:
            summed = torch.zeros(())
        reduce_gradients(self.model, self.world)
        optimizer.step()
        if self.embedded:  # a collective too: a rank without seeds pushes nothing
            self.store.push("emb", inputs, rows.grad if rows.grad is not None else torch.zeros_like(rows))
        return summed, count


def train_epoch(step: MiniBatchStep, batches: SeedBatches, optimizer: torch.optim.Optimizer, epoch: int,
                seed: int) -> dict[str, Any]:
    """One epoch of :class:`MiniBatchStep`; ``{"train_loss"}`` is the mean over every rank's seeds."""
    total, seen = torch.zeros(1, dtype=torch.float64), 0.0
    for index, seeds in enumerate(batches.epoch(epoch)):
        summed, count = step(optimizer, seeds, step_seed(seed, epoch, index, batches.rank))
        total += float(summed)
        seen += float(count[0])
    all_reduce_sum(total)
    return {"train_loss": float(total[0]) / max(seen, 1.0)}


__all__ = ["MiniBatchStep", "SeedBatches", "step_seed", "train_epoch"]
