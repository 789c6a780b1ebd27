"""Entity classification on a heterogeneous graph (R-GCN, HGT): full batch, or heterogeneous neighbour sampling.

The runs go through the one engine (:func:`graphscale.train.loop.fit` under ``run_seeds``) exactly as the
homogeneous node trainers do: the same selection, checkpoints, resume and summary. Evaluation runs the model on
the full graph (``model(graph, x)``) after every epoch for both trainers, so full-batch and sampled training are
compared on the same predictions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import seed as seed_everything
from ..config import RunConfig
from ..errors import ConfigError, DatasetError
from ..loader import NodeLoader
from ..nn.hetero_models import HeteroSchema, build_hetero_model
from ..sampling.hetero import HeteroNeighborSampler
from .loop import EpochHook, EpochSelector, Task, fit, run_seeds
from .minibatch import neighbor_fanouts
from .node import located, node_metrics, node_result, summarize
from .optim import build_optimizer, build_scheduler
from .runtime import fingerprint

SAMPLERS = ("none", "neighbor")


def check_hetero_config(cfg: RunConfig) -> None:
    """Raise ConfigError, before loading data, for a sampler the heterogeneous trainer does not run."""
    if cfg.sampler.name not in SAMPLERS:
        raise ConfigError(f"sampler.name: expected none or neighbor for the heterogeneous model {cfg.model.name!r}, "
                          f"got {cfg.sampler.name!r}{cfg.where('sampler.name')}.")
    for key, value in (("train.quant", cfg.train.quant), ("train.memory_budget", cfg.train.memory_budget),
                       ("data.node_embedding", cfg.data.node_embedding or None)):
        if value is not None:
            raise ConfigError(f"{key}: expected null for the heterogeneous model {cfg.model.name!r}, got {value!r}"
                              f"{cfg.where(key)}.")


def hetero_masks(dataset: Any) -> tuple[Tensor, Tensor, Tensor]:
    """``(train, val, test)`` masks of the target type, restricted to labelled nodes.

    Raises:
        DatasetError: A missing split or a split without labelled nodes.
    """
    labelled = dataset.y >= 0
    masks = []
    for name in ("train_mask", "val_mask", "test_mask"):
        mask = getattr(dataset, name, None)
        if mask is None or not bool((mask & labelled).any()):
            raise DatasetError(f"dataset {dataset.name!r}: expected labelled {dataset.target!r} nodes in the "
                               f"{name.removesuffix('_mask')} split, got none.")
        masks.append(mask & labelled)
    return masks[0], masks[1], masks[2]


def hetero_run(cfg: RunConfig, dataset: Any, device: torch.device, seed: int, *, run: int,
               saved: dict[str, Any] | None = None, checkpoints: Any = None, bar: Any = None,
               on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One run (seed ``seed``) of ``cfg.model.name`` on a heterogeneous dataset: ``(result, curves)``."""
    seed_everything(seed)
    masks = tuple(m.to(device) for m in hetero_masks(dataset))
    graph, target = dataset.graph, dataset.target
    x = {t: v.float() for t, v in dataset.x.items()}
    y = dataset.y.long().to(device)
    schema = HeteroSchema.of(graph, x, target)
    try:
        model = build_hetero_model(cfg.model.name, schema, dataset.num_classes, **dict(cfg.model.hparams))
    except ConfigError as err:
        raise located(err, cfg) from None
    model = model.to(device)
    full_graph, full_x = graph.to(device), {t: v.to(device) for t, v in x.items()}
    optimizer = build_optimizer(model, cfg.train)
    loader = None
    if cfg.sampler.name == "neighbor":
        sampler = HeteroNeighborSampler(graph, neighbor_fanouts(cfg.sampler, model), target=target,
                                        replace=cfg.sampler.replace)
        loader = NodeLoader(sampler, masks[0].cpu().nonzero().view(-1), cfg.sampler.batch_size, shuffle=True,
                            seed=seed, num_workers=cfg.sampler.num_workers, prefetch=cfg.sampler.prefetch)

    def full_batch_epoch() -> dict[str, float]:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(full_graph, full_x)[masks[0]], y[masks[0]])
        loss.backward()
        optimizer.step()
        return {"train_loss": loss.item()}

    def sampled_epoch(epoch: int) -> dict[str, float]:
        loader.set_epoch(epoch)
        total, count = 0.0, 0
        for batch in loader:
            blocks = [b.to(device) for b in batch.graph]
            inputs = {t: x[t][ids].to(device, non_blocking=True) for t, ids in batch.input_ids.items() if t in x}
            optimizer.zero_grad(set_to_none=True)
            logits = model(blocks, inputs, batch.input_ids)
            loss = F.cross_entropy(logits, dataset.y[batch.output_ids].long().to(device))
            loss.backward()
            optimizer.step()
            total, count = total + loss.item(), count + 1
        return {"train_loss": total / max(count, 1)}

    def train_epoch(epoch: int) -> dict[str, float]:
        model.train()
        return full_batch_epoch() if loader is None else sampled_epoch(epoch)

    def evaluate() -> dict[str, float]:
        return node_metrics(model(full_graph, full_x), y, masks)

    task = Task(model, optimizer, build_scheduler(optimizer, cfg.train), train_epoch, evaluate, device,
                selector=EpochSelector(cfg.train.select, cfg.train.patience))
    if checkpoints is not None:
        checkpoints.header.update(seed=seed, split=0)
    return fit(task, cfg.train.epochs, lambda fitted: node_result(run, seed, 0, fitted), checkpoints=checkpoints,
               saved=saved, bar=bar, tags={"run": run}, on_epoch=on_epoch)


def train_hetero(cfg: RunConfig, dataset: Any, device: torch.device, out_dir: Path | None = None,
                 resume: bool = False, progress: bool = True, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train ``train.seeds`` runs of a heterogeneous model and summarise them as the node trainer does, plus the
    graph's node and edge counts per type."""
    check_hetero_config(cfg)
    hetero_masks(dataset)  # fail before the first run on a dataset without usable splits

    if cfg.data.reverse_relations:
        dataset = dataclasses.replace(dataset, graph=dataset.graph.add_reverse())

    def one_run(run: int, saved: Any, checkpoints: Any, bar: Any) -> Any:
        return hetero_run(cfg, dataset, device, cfg.train.seed + run, run=run, saved=saved, checkpoints=checkpoints,
                          bar=bar, on_epoch=on_epoch)

    desc = f"train {dataset.name}/{cfg.model.name}" + ("" if cfg.sampler.name == "none" else "/neighbor")
    runs, curves = run_seeds(cfg.train.seeds, one_run, cfg=cfg, kind="hetero", header={"config": fingerprint(cfg)},
                             out_dir=out_dir, resume=resume, epochs=cfg.train.epochs,
                             every=cfg.output.checkpoint_every, desc=desc, progress=progress)
    graph = dataset.graph
    return {**summarize(runs, curves, cfg.sampler.name), "target": dataset.target,
            "num_nodes": graph.num_nodes_dict, "num_edges": {"__".join(e): g.num_edges for e, g in graph.relations()},
            "num_classes": dataset.num_classes}


__all__ = ["SAMPLERS", "check_hetero_config", "hetero_run", "train_hetero"]
