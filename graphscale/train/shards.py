"""Checkpoints of a distributed run: one shard per rank plus a manifest, so a lost worker never leaves a
checkpoint that some ranks can read and others cannot.

Run ``r`` checkpoints under ``<out>/checkpoints/run<r>/``::

    epoch-<e>/rank<k>.pt   rank k's state after e epochs (its model, optimizer, RNGs, trainer state), atomic
    manifest.json          {"epoch": e, "done", "world_size", "shards": {k: sha256}}: written by rank 0, atomically,
                           once every rank's shard of epoch e is on disk (the ranks gather their digests first)

A worker killed at any point leaves the last manifest naming a complete set of shards: the new epoch's folder
is made beside the old one, and the old one is removed only after the new manifest is in place. After
``torchrun --max-restarts N`` restarts the group, every rank reads the manifest, checks its shard's digest and
continues from that epoch (:func:`load_shard`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.distributed as dist

from ..distributed.partition import sha256_of
from ..errors import GraphscaleError
from .checkpoint import write_text_atomic
from .loop import Checkpoints, EpochSelector, Fitted, Task, resumable

MANIFEST = "manifest.json"


@dataclass
class ShardedCheckpoints(Checkpoints):
    """:class:`~graphscale.train.loop.Checkpoints` for one rank of a group (``path`` is the run's folder).
    Saving is a collective: every rank saves at the same epochs (``every`` epochs; no time-based saves)."""

    rank: int = 0
    world_size: int = 1
    epochs_kept: list[Path] = field(default_factory=list)

    def save(self, task: Task, epoch: int, done: bool, fitted: Fitted, selector: EpochSelector | None,
             result: dict[str, Any] | None = None) -> None:
        if self.path is None:
            return
        run_folder, shard_folder = self.path, self.path / f"epoch-{epoch:05d}"
        shard = shard_folder / f"rank{self.rank}.pt"
        Checkpoints(shard, self.every, self.header).save(task, epoch, done, fitted, selector, result)
        digests: list[Any] = [None] * self.world_size
        dist.all_gather_object(digests, sha256_of(shard))  # also the barrier: every shard is on disk
        if self.rank == 0:
            manifest = {"format": "graphscale-shards/1", "epoch": epoch, "done": done,
                        "world_size": self.world_size, "shards": {str(k): d for k, d in enumerate(digests)}}
            write_text_atomic(json.dumps(manifest, indent=1) + "\n", run_folder / MANIFEST)
            for older in run_folder.glob("epoch-*"):
                if older != shard_folder:
                    shutil.rmtree(older, ignore_errors=True)
        dist.barrier()


def load_shard(run_folder: Path, rank: int, world_size: int, cfg: Any, kind: str,
               check: Any = None) -> dict[str, Any] | None:
    """This rank's shard of the last complete checkpoint of a run (None: the run has none yet), checked by
    ``check(path) -> saved`` (default: :func:`~graphscale.train.loop.resumable` against ``cfg`` and ``kind``).

    Raises:
        GraphscaleError: A manifest of another group size, or a shard whose digest does not match it (named).
    """
    path = Path(run_folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        epoch, shards = int(manifest["epoch"]), manifest["shards"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise GraphscaleError(f"{path}: expected a graphscale checkpoint manifest, got an unreadable file "
                              f"({err}).") from err
    if manifest.get("world_size") != world_size:
        raise GraphscaleError(f"{path}: expected a checkpoint of {world_size} ranks, got "
                              f"{manifest.get('world_size')}. Resume with the same --nproc-per-node x --nnodes.")
    shard = path.parent / f"epoch-{epoch:05d}" / f"rank{rank}.pt"
    if not shard.is_file() or sha256_of(shard) != shards.get(str(rank)):
        raise GraphscaleError(f"{shard}: expected the shard the manifest names (sha256 {shards.get(str(rank))}), "
                              "got a missing or different file.")
    return check(shard) if check is not None else resumable(shard, True, cfg, kind)


__all__ = ["MANIFEST", "ShardedCheckpoints", "load_shard"]
