"""``graphscale train --partitions DIR`` under ``torchrun``: distributed node classification on the engine.

    torchrun --nproc-per-node 2 -m graphscale train --partitions parts/arxiv2 --model sage --sampler neighbor --json
    torchrun --nproc-per-node 2 --max-restarts 1 -m graphscale train --partitions parts/cora2 --model gcn --json

Every rank loads its part (``graphscale partition`` wrote one per rank) and trains the same model (same seed,
so the same initial parameters). ``--sampler neighbor``: mini-batches of each rank's training seeds, sampled
across the ranks, features pulled from the KV store (:mod:`graphscale.distributed.minibatch`); ``--sampler
none``: full batch with a halo exchange per layer (:class:`graphscale.distributed.halo.HaloStack`). Both
evaluate on the full graph through the halo exchange. The engine (:func:`graphscale.train.loop.fit`) runs the
epochs, evaluation and best-epoch selection on metrics summed over the ranks, so every rank keeps the same
epoch.

Checkpoints are per-rank shards plus a manifest (:mod:`graphscale.train.shards`); a group restarted by
``torchrun --max-restarts`` (``TORCHELASTIC_RESTART_COUNT`` > 0) resumes every rank from the last complete
manifest, as ``--resume`` does. Rank 0 writes the run folder (``config.yaml``, ``metrics.json`` with the
curves) and prints the summary; it adds ``world_size``, ``bytes_sent_per_epoch`` (all ranks),
``halo_fraction`` and ``peak_rss_mb_per_rank``. The split is the one stored in the parts.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .. import seed as seed_everything
from ..config import RunConfig, dump
from ..datasets.base import normalize_rows
from ..distributed.comm import leave_group, restarted
from ..errors import ConfigError, DatasetError
from .checkpoint import write_text_atomic
from .loop import EpochSelector, Task, fit, run_seeds
from .metrics import peak_rss_mb
from .node import build_model, node_result, summarize
from .optim import build_optimizer, build_scheduler
from .plot import save_json
from .runtime import check_output_folder, fingerprint, output_folder, run_folder
from .shards import ShardedCheckpoints

ARTIFACTS = ("config.yaml", "metrics.json", "checkpoints")
SAMPLERS = ("none", "neighbor")
KIND = "distributed-node"


@dataclass
class Group:
    """This rank's view of the run: its part, the partition book and the bytes it sends."""

    rank: int
    world: int
    part: Any
    book: Any
    manifest: dict[str, Any]
    traffic: Any
    epochs: int = 0  # epochs this process trained (resumed epochs excluded): the traffic's denominator
    steps_per_epoch: int = 1  # optimizer steps per epoch (every rank takes the same number)


def _masks(part: Any, run: int, split: int | None) -> tuple[int, tuple[torch.Tensor, ...]]:
    """``(split index, the part's (train, val, test) masks)`` of one run, labelled nodes only: ``split``, or
    split ``run % S`` of several (as :func:`graphscale.train.node.node_split` picks)."""
    index, masks = 0, (part.train_mask, part.val_mask, part.test_mask)
    if masks[0].dim() == 2:
        index = (split if split is not None else run) % masks[0].shape[1]
        masks = tuple(m[:, index] for m in masks)
    labelled = part.y >= 0
    return index, tuple(m & labelled for m in masks)


def _epochs_of(cfg: RunConfig, group: Group, runner: Any, model: Any, optimizer: Any, masks: tuple,
               seed: int) -> tuple[Any, Any]:
    """``(train_epoch(epoch), the KV store)`` of the configured sampler: full batch (no store) or distributed
    neighbour sampling (features, and learnable node embeddings with ``data.node_embedding``, in the store)."""
    from ..distributed.halo import train_step
    from ..distributed.kvstore import KVStore
    from ..distributed.minibatch import MiniBatchStep, SeedBatches, train_epoch
    from ..distributed.sampler import DistNeighborSampler
    from .minibatch import neighbor_fanouts

    part, world = group.part, group.world
    if cfg.sampler.name == "none":
        x, y = part.x.float(), part.y.long()
        return (lambda epoch: train_step(runner, optimizer, x, y, masks[0], world)), None
    sampler = DistNeighborSampler(part, group.book, neighbor_fanouts(cfg.sampler, model), world,
                                  replace=cfg.sampler.replace, traffic=group.traffic)
    store = KVStore(group.book, group.rank, world, group.traffic)
    store.add("x", part.x)
    if cfg.data.node_embedding:
        from ..nn.embedding import initial_rows

        store.add("emb", initial_rows(part.nodes, cfg.data.node_embedding, seed), optimizer="adam", lr=cfg.train.lr)
    batches = SeedBatches(part.nodes[masks[0]], cfg.sampler.batch_size, world, group.rank, seed)
    group.steps_per_epoch = batches.steps
    step = MiniBatchStep(model, sampler, store, part, world)
    return (lambda epoch: train_epoch(step, batches, optimizer, epoch, seed)), store


def _one_run(cfg: RunConfig, group: Group, run: int, bar: Any, checkpoints: ShardedCheckpoints | None,
             saved: dict[str, Any] | None) -> tuple[dict, dict]:
    """One seed on the engine: ``(result, curves)``."""
    from ..distributed.halo import HaloStack, global_metrics

    seed = cfg.train.seed + run
    seed_everything(seed)
    part = group.part
    split, masks = _masks(part, run, cfg.data.split)
    x, y = part.x.float(), part.y.long()
    model = build_model(cfg, x.shape[1] + cfg.data.node_embedding, int(group.manifest["num_classes"]))
    runner = HaloStack(model, part, group.book, group.world, group.traffic)
    optimizer = build_optimizer(model, cfg.train)
    epoch_fn, store = _epochs_of(cfg, group, runner, model, optimizer, masks, seed)
    embedded = store is not None and "emb" in store.tables

    def inputs() -> torch.Tensor:  # the owned nodes' inputs: features, then their embedding rows
        return torch.cat([x, store.tables["emb"].rows], dim=1) if embedded else x

    def train_epoch(epoch: int) -> dict[str, Any]:
        group.epochs += 1
        return epoch_fn(epoch)

    task = Task(model, optimizer, build_scheduler(optimizer, cfg.train), train_epoch,
                lambda: global_metrics(runner.evaluate(inputs(), cfg.sampler.eval_batch_size), y, masks),
                torch.device("cpu"), selector=EpochSelector(cfg.train.select, cfg.train.patience),
                extra_state=(lambda: store.state("emb")) if embedded else None,
                load_extra_state=(lambda state, epoch: store.load("emb", state)) if embedded else None)
    return fit(task, cfg.train.epochs, lambda fitted: node_result(run, seed, split, fitted),
               checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run})


def _open(cfg: RunConfig, resume: bool, overwrite: bool) -> tuple[Group, Path]:
    """Join the group, check the partition folder and the output folder on every rank, load this rank's part."""
    from ..distributed.comm import Traffic, init_from_env
    from ..distributed.load import load_book, load_partition, read_manifest

    if cfg.sampler.name not in SAMPLERS:
        raise ConfigError(f"sampler.name: expected one of {', '.join(SAMPLERS)} with --partitions, got "
                          f"{cfg.sampler.name!r}.")
    if cfg.data.node_embedding and cfg.sampler.name == "none":
        raise ConfigError("data.node_embedding: expected --sampler neighbor for learnable node embeddings with "
                          "--partitions (their rows live in the KV store), got full batch (sampler none).")
    folder = Path(cfg.data.partitions)
    manifest = read_manifest(folder)
    if cfg.data.feature_svd != manifest.get("feature_svd"):
        raise ConfigError(f"data.feature_svd: expected the partitions' ({manifest.get('feature_svd')}), got "
                          f"{cfg.data.feature_svd}. Partition with --feature-svd {cfg.data.feature_svd}, or set "
                          f"data.feature_svd={manifest.get('feature_svd') or 'null'}.")
    rank, world = init_from_env()
    if manifest["num_parts"] != world:
        raise DatasetError(f"{folder / 'manifest.json'}: expected {world} parts (one per rank), got "
                           f"{manifest['num_parts']}. Launch --nproc-per-node {manifest['num_parts']}, or partition "
                           f"into {world} parts.")
    out = run_folder(cfg.output.dir, f"{manifest['dataset']}-{cfg.model.name}-{world}ranks", ARTIFACTS, False)
    check_output_folder(out, ARTIFACTS, resume=resume, overwrite=overwrite)  # every rank, before any collective
    dist.barrier()  # ... and before rank 0 writes into it
    part = load_partition(folder, rank)
    if cfg.data.normalize_features:  # row by row: the same on a part as on the whole graph
        part = dataclasses.replace(part, x=normalize_rows(part.x))
    group = Group(rank, world, part, load_book(folder), manifest, Traffic())
    return group, out


def run_partitioned(cfg: RunConfig, progress: bool = True, overwrite: bool = False,
                    resume: bool = False) -> dict[str, Any] | None:
    """Train on this rank's part; rank 0 returns the summary (written to ``metrics.json``), others None.

    Raises:
        DistributedError: Not launched by torchrun.
        DatasetError: A partition folder with another number of parts than ranks, or a file that does not match
            its manifest (named).
        ConfigError: A sampler other than none / neighbor; an output folder of an earlier run without --resume.
    """
    resume = resume or restarted()
    group, out = _open(cfg, resume, overwrite and not resume)
    if group.rank == 0 and not (resume and (out / "config.yaml").is_file()):
        with output_folder(out, ARTIFACTS, resume=resume, overwrite=overwrite):
            write_text_atomic(dump(cfg), out / "config.yaml")
    dist.barrier()
    began = time.perf_counter()
    runs, curves = run_seeds(
        cfg.train.seeds, lambda run, saved, checkpoints, bar: _one_run(cfg, group, run, bar, checkpoints, saved),
        cfg=cfg, kind=KIND, header={"config": fingerprint(cfg)}, out_dir=out, resume=resume,
        epochs=cfg.train.epochs, every=cfg.output.checkpoint_every, progress=progress and group.rank == 0,
        desc=f"train {group.manifest['dataset']}/{cfg.model.name} ({group.world} ranks)",
        group=(group.rank, group.world))
    summary = _report(cfg, group, out, runs, curves, time.perf_counter() - began)
    leave_group()  # after rank 0 has written metrics.json
    return summary


def _report(cfg: RunConfig, group: Group, out: Path, runs: list, curves: list,
            seconds: float) -> dict[str, Any] | None:
    """Gather the bytes and peak RSS of every rank; rank 0 writes ``metrics.json`` and returns the summary."""
    from ..distributed.comm import all_reduce_sum

    totals = all_reduce_sum(torch.tensor([float(group.traffic.bytes_sent), float(group.epochs)],
                                         dtype=torch.float64))
    peaks = [torch.zeros(1, dtype=torch.float64) for _ in range(group.world)]
    dist.all_gather(peaks, torch.tensor([peak_rss_mb()], dtype=torch.float64))
    if group.rank != 0:
        return None
    manifest = group.manifest
    summary = {"dataset": manifest["dataset"], "model": cfg.model.name, **summarize(runs, curves, cfg.sampler.name),
               "seeds": cfg.train.seeds, "epochs": cfg.train.epochs, "world_size": group.world,
               "partitions": str(cfg.data.partitions), "method": manifest.get("method"),
               "per_seed_test_acc": [r["test_acc"] for r in runs],
               "bytes_sent_per_epoch": float(totals[0]) / max(float(totals[1]) / group.world, 1.0),
               "steps_per_epoch": group.steps_per_epoch,
               "halo_fraction": manifest["halo_fraction"], "edge_cut_fraction": manifest["edge_cut_fraction"],
               "num_nodes": manifest["num_nodes"], "num_edges": manifest["num_edges"],
               "num_classes": manifest["num_classes"], "train_time_s": seconds,
               "peak_rss_mb": max(float(p) for p in peaks),
               "peak_rss_mb_per_rank": [round(float(p), 1) for p in peaks], "device": "cpu",
               "output_dir": str(out)}
    save_json(summary, out / "metrics.json")
    return summary


__all__ = ["ARTIFACTS", "KIND", "SAMPLERS", "run_partitioned"]
