"""Entity partitions trained by several ranks at once (PyTorch-BigGraph's scheme, on collectives):

    torchrun --nproc-per-node 2 -m graphscale kg --dataset fb15k-237 --model transe --entity-partitions 4 --json

Partition ``p``'s rows (weights and optimiser state) live on its *home* rank ``p % W``; no rank holds the whole
entity table while training. An epoch is a sequence of *rounds*: each round gives every rank one bucket
``(i, j)`` such that no two ranks touch the same entity partition (a greedy matching over the shuffled buckets,
the same on every rank; a bucket goes to its head partition's home when that rank is free), so the ranks train
concurrently without conflicting writes. Before a round each rank receives its two partitions from their homes
and after it sends them back (one ``all_to_all`` each way: :mod:`graphscale.distributed.buckets`);
relation parameters, which every bucket touches, are averaged over the ranks after every round (their
optimiser state too). With ``P >= 2W`` partitions every rank has a bucket in most rounds.

The learning-rate schedule runs on the *global* step (the batches of earlier rounds, all ranks, plus this
round's interleaved), so its shape matches one process's over the same epochs. Evaluation assembles the table
on every rank and ranks a share of the triples on each (metrics combined by their counts).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from ..distributed.buckets import Homes, assign, home_of, rounds_of
from ..distributed.comm import all_reduce_sum
from .optim import EmbeddingTable
from .partition import episode_rows, localize


class RankBuckets:
    """This rank's home partitions and its rounds of buckets (see the module doc).

    Args:
        epochs: The KG trainer (``_KGEpochs``) whose host table is the initial full table (identical on every
            rank: same seed); only this rank's home partitions are kept.
        rank, world_size: The group.
    """

    def __init__(self, epochs: Any, rank: int, world_size: int) -> None:
        self.rank, self.world, self.plan = rank, world_size, epochs.plan
        full: EmbeddingTable = epochs.host
        self.keys = list(epochs.buckets)
        self.home = {p: full.gather(self.plan.members(p), torch.device("cpu"))
                     for p in range(self.plan.num_partitions) if self.owner(p) == rank}
        self.state_keys = sorted(full.state)
        self.dim = full.weight.shape[1]
        self.homes = Homes(self.plan.size, self.dim * (1 + len(self.state_keys)), rank, world_size)
        self.traffic = self.homes.traffic
        self.batches = {key: math.ceil(b.shape[0] / epochs.cfg.train.batch_size) for key, b in epochs.buckets.items()}
        self.seed = epochs.cfg.train.seed
        epochs.host = None  # the full table is not kept: only the home partitions (and the model's is freed)
        epochs.model.entity.data = torch.empty(0, self.dim)
        epochs.generator.manual_seed(epochs.cfg.train.seed * 1009 + rank)  # ranks draw their own negatives

    def owner(self, part: int) -> int:
        return home_of(part, self.world)

    # -- moving partitions --------------------------------------------------------------------------------
    def _pack(self, table: EmbeddingTable) -> Tensor:
        return torch.cat([table.weight, *(table.state[k] for k in self.state_keys)], dim=1)

    def _unpack(self, packed: Tensor) -> EmbeddingTable:
        pieces = packed.split(self.dim, dim=1)
        return EmbeddingTable(pieces[0].contiguous(), {k: v.contiguous() for k, v in zip(self.state_keys,
                                                                                         pieces[1:], strict=True)})

    def _exchange(self, where_to: dict[int, int], tables: dict[int, EmbeddingTable],
                  where_from: dict[int, int]) -> dict[int, EmbeddingTable]:
        """Send partition ``p`` of ``tables`` to rank ``where_to[p]``; receive every ``p`` with
        ``where_from[p]`` as the sender (:meth:`~graphscale.distributed.buckets.Homes.exchange`)."""
        got = self.homes.exchange(where_to, {p: self._pack(t) for p, t in tables.items()}, where_from)
        return {p: self._unpack(block) for p, block in got.items()}

    # -- an epoch -----------------------------------------------------------------------------------------
    def run_epoch(self, epochs: Any, epoch: int) -> dict[str, Any]:
        """One epoch of rounds; ``{"loss", "lr", "step"}`` (the loss averaged over every rank's batches)."""
        schedule = rounds_of(self.keys, self.world, torch.Generator().manual_seed(self.seed * 7919 + epoch))
        base = epochs.steps_per_epoch * epoch  # batches of the earlier epochs, all ranks
        total, count, lr = 0.0, 0, epochs.cfg.train.lr
        for chosen in schedule:
            ranks = assign(chosen, self.world, lambda key: self.owner(key[0]))
            mine = ranks[self.rank]
            needed = {p: r for r, key in enumerate(ranks) if key is not None for p in set(key)}
            homes = {p: self.owner(p) for p in needed}
            held = self._exchange(needed, self.home, homes)
            if mine is not None:
                position = sum(key is not None for key in ranks[:self.rank])
                loss, batches, lr = self._train(epochs, mine, held, base, len(chosen), position)
                total, count = total + loss, count + batches
            self.home.update(self._exchange(homes, held, needed))
            self._average_relations(epochs)
            base += sum(self.batches[key] for key in chosen)
        sums = all_reduce_sum(torch.tensor([total, float(count)], dtype=torch.float64))
        loss = float(sums[0]) / max(float(sums[1]), 1.0)
        if epochs.bar is not None:
            epochs.bar.set_postfix(loss=f"{loss:.4f}")
        return {"loss": loss, "lr": lr, "step": base}

    def _train(self, epochs: Any, key: tuple[int, int], held: dict[int, EmbeddingTable], base: int,
               active: int, position: int) -> tuple[float, int, float]:
        """Train bucket ``key`` on the received partitions; they are updated in place in ``held``."""
        i, j = key
        bucket = epochs.buckets[key]
        _, head_range, tail_range = episode_rows(self.plan, i, j)
        parts = [held[i]] if i == j else [held[i], held[j]]
        table = EmbeddingTable(torch.cat([t.weight for t in parts]),
                               {k: torch.cat([t.state[k] for t in parts]) for k in self.state_keys})
        result = epochs.train_bucket(bucket, localize(bucket[:, :3], self.plan, i, j), table, head_range,
                                     tail_range, global_step=lambda k: base + k * active + position + 1)
        split = [self.plan.size(i)] if i == j else [self.plan.size(i), self.plan.size(j)]
        for p, piece in zip(dict.fromkeys(key), np.cumsum([0, *split])[:-1].tolist(), strict=True):
            held[p] = table.rows(piece, piece + self.plan.size(p))
        return result

    def state(self) -> dict[str, Any]:
        """This rank's home partitions (weights and optimiser state), for its checkpoint shard."""
        return {"home": {str(p): t.weight for p, t in self.home.items()},
                "home_state": {str(p): dict(t.state) for p, t in self.home.items()}}

    def load(self, state: dict[str, Any]) -> None:
        self.home = {int(p): EmbeddingTable(w, dict(state["home_state"][p])) for p, w in state["home"].items()}

    def summary(self, epochs_done: int) -> dict[str, Any]:
        """``world_size`` and ``bytes_sent_per_epoch`` (all ranks: the partitions moved)."""
        sent = all_reduce_sum(torch.tensor([float(self.traffic.bytes_sent)], dtype=torch.float64))
        return {"world_size": self.world, "bytes_sent_per_epoch": float(sent[0]) / max(epochs_done, 1)}

    def _average_relations(self, epochs: Any) -> None:
        relations = epochs.relations
        for tensor in [relations.weight, *relations.state.values()]:
            all_reduce_sum(tensor).div_(self.world)

    # -- the whole table (evaluation, export) --------------------------------------------------------------
    def assemble(self) -> Tensor:
        """The full entity weight table ``[N, D]`` on every rank (home partitions gathered from all)."""
        everyone = {p: self.owner(p) for p in range(self.plan.num_partitions)}
        weight = torch.empty(int(self.plan.part_of.numel()), self.dim)
        for q in range(self.world):  # one exchange per receiver keeps the maps one-to-one
            for p, table in self._exchange({p: q for p in everyone}, self.home, everyone).items():
                weight[self.plan.members(p)] = table.weight  # non-empty on rank q only (its own rows included)
        return weight


def shared_evaluation(evaluate: Any, triples: Tensor) -> dict[str, float]:
    """``evaluate(triples)`` with the triples shared over the ranks, metrics combined by their counts."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return evaluate(triples)
    rank, world = dist.get_rank(), dist.get_world_size()
    share = triples[rank::world]
    weight = float(share.shape[0])  # a rank without triples scores one, with weight 0, to keep the keys
    metrics = evaluate(share if share.shape[0] else triples[:1])
    keys = sorted(k for k in metrics if k != "num_ranks")
    values = torch.tensor([weight, *[float(metrics[k]) * weight for k in keys]], dtype=torch.float64)
    all_reduce_sum(values)
    out = {k: float(values[n + 1] / values[0]) for n, k in enumerate(keys)}
    out["num_ranks"] = int(2 * values[0])
    return out


__all__ = ["RankBuckets", "shared_evaluation"]
