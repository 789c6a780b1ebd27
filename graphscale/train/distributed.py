"""``graphscale train --partitions DIR`` under ``torchrun``: distributed full-batch node classification.

    torchrun --nproc-per-node 2 -m graphscale train --partitions parts/cora2 --model gcn --json

Every rank loads its part (``graphscale partition`` wrote one per rank) and trains the same model (same seed,
so the same initial parameters) with :class:`graphscale.distributed.halo.HaloStack`; the engine
(:func:`graphscale.train.loop.fit`) runs the epochs, evaluation and best-epoch selection on metrics summed over
the ranks, so every rank keeps the same epoch. Rank 0 writes the run folder (``config.yaml``, ``metrics.json``)
and prints the summary; it adds ``world_size``, ``bytes_sent_per_epoch`` (all ranks), ``halo_fraction`` and
``peak_rss_mb_per_rank``. The split is the one stored in the parts (the dataset's, or the partitioner's seeded
random split).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .. import seed as seed_everything
from ..config import RunConfig, dump
from ..errors import DatasetError
from .checkpoint import write_text_atomic
from .loop import EpochSelector, Task, fit
from .metrics import mean_std, peak_rss_mb
from .node import build_model, node_result
from .optim import build_optimizer, build_scheduler
from .plot import save_json
from .runtime import check_output_folder, output_folder, progress_bar, run_folder

ARTIFACTS = ("config.yaml", "metrics.json")


def _masks(part: Any, split: int | None) -> tuple[torch.Tensor, ...]:
    """The part's ``(train, val, test)`` masks (split ``split`` of several), labelled nodes only."""
    masks = (part.train_mask, part.val_mask, part.test_mask)
    if masks[0].dim() == 2:
        masks = tuple(m[:, (split or 0) % m.shape[1]] for m in masks)
    labelled = part.y >= 0
    return tuple(m & labelled for m in masks)


def _one_run(cfg: RunConfig, part: Any, book: Any, world: int, run: int, bar: Any) -> tuple[dict, dict, int]:
    """One seed: ``(result, curves, bytes sent by this rank over its epochs)``."""
    from ..distributed.halo import HaloStack, global_metrics, train_step

    seed = cfg.train.seed + run
    seed_everything(seed)
    masks = _masks(part, cfg.data.split)
    x, y = part.x.float(), part.y.long()
    model = build_model(cfg, x.shape[1], int(part.manifest["num_classes"]))
    runner = HaloStack(model, part, book, world)
    optimizer = build_optimizer(model, cfg.train)
    task = Task(model, optimizer, build_scheduler(optimizer, cfg.train),
                lambda epoch: train_step(runner, optimizer, x, y, masks[0], world),
                lambda: global_metrics(runner(x), y, masks), torch.device("cpu"),
                selector=EpochSelector(cfg.train.select, cfg.train.patience))
    result, curves = fit(task, cfg.train.epochs, lambda fitted: node_result(run, seed, cfg.data.split or 0, fitted),
                         bar=bar, tags={"run": run})
    return result, curves, runner.traffic.bytes_sent


def run_partitioned(cfg: RunConfig, progress: bool = True, overwrite: bool = False) -> dict[str, Any] | None:
    """Train on this rank's part; rank 0 returns the summary (written to ``metrics.json``), others None.

    Raises:
        DistributedError: Not launched by torchrun.
        DatasetError: A partition folder with another number of parts than ranks, or a file that does not match
            its manifest (named).
    """
    from ..distributed.comm import all_reduce_sum, init_from_env
    from ..distributed.load import load_book, load_partition, read_manifest

    folder = Path(cfg.data.partitions)
    rank, world = init_from_env()
    manifest = read_manifest(folder)
    if manifest["num_parts"] != world:
        raise DatasetError(f"{folder / 'manifest.json'}: expected {world} parts (one per rank), got "
                           f"{manifest['num_parts']}. Launch --nproc-per-node {manifest['num_parts']}, or partition "
                           f"into {world} parts.")
    out = run_folder(cfg.output.dir, f"{manifest['dataset']}-{cfg.model.name}-{world}ranks", ARTIFACTS, False)
    check_output_folder(out, ARTIFACTS, overwrite=overwrite)  # on every rank: all stop before any collective
    part, book = load_partition(folder, rank), load_book(folder)
    began = time.perf_counter()
    bar = progress_bar(cfg.train.seeds * cfg.train.epochs, f"train {manifest['dataset']}/{cfg.model.name} "
                       f"({world} ranks)", progress and rank == 0)
    runs, epochs_done, sent = [], 0, 0
    try:
        for run in range(cfg.train.seeds):
            result, _, bytes_sent = _one_run(cfg, part, book, world, run, bar)
            runs.append(result)
            epochs_done += result["epochs_run"]
            sent += bytes_sent
    finally:
        bar.close()
    totals = all_reduce_sum(torch.tensor([float(sent)], dtype=torch.float64))
    peaks = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
    dist.all_gather(peaks, torch.tensor([peak_rss_mb()], dtype=torch.float64))
    if rank != 0:
        return None
    test_mean, test_std = mean_std([r["test_acc"] for r in runs])
    val_mean, val_std = mean_std([r["val_acc"] for r in runs])
    summary = {"dataset": manifest["dataset"], "model": cfg.model.name, "task": "node", "sampler": "none",
               "seeds": cfg.train.seeds, "epochs": cfg.train.epochs, "world_size": world,
               "partitions": str(folder), "method": manifest.get("method"), "test_acc": test_mean,
               "test_acc_std": test_std, "val_acc": val_mean, "val_acc_std": val_std,
               "per_seed_test_acc": [r["test_acc"] for r in runs], "epochs_run": [r["epochs_run"] for r in runs],
               "bytes_sent_per_epoch": float(totals[0]) / max(epochs_done, 1),
               "halo_fraction": manifest["halo_fraction"], "edge_cut_fraction": manifest["edge_cut_fraction"],
               "num_nodes": manifest["num_nodes"], "num_edges": manifest["num_edges"],
               "train_time_s": time.perf_counter() - began, "peak_rss_mb": max(float(p) for p in peaks),
               "peak_rss_mb_per_rank": [round(float(p), 1) for p in peaks], "device": "cpu",
               "output_dir": str(out)}
    with output_folder(out, ARTIFACTS, overwrite=overwrite):
        write_text_atomic(dump(cfg), out / "config.yaml")
        save_json(summary, out / "metrics.json")
    return summary


__all__ = ["run_partitioned"]
