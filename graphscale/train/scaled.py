"""Multi-seed loop of the scaled node trainers: mini-batch samplers, GNNAutoScale and SGC/SIGN precomputation.

:func:`trainer_kind` decides which trainer a config needs (``sampler.name`` and ``model.name``):

* ``full``: ``sampler: none`` -> :func:`graphscale.train.node.train_node` (full batch, optionally streamed
  under ``train.memory_budget``);
* ``minibatch``: neighbor, cluster, saint-node, saint-edge, saint-rw ->
  :func:`graphscale.train.minibatch.train_minibatch`;
* ``gas``: ``sampler: gas`` -> :func:`graphscale.scale.gas.train_gas` (ClusterGCN batches + history buffers);
* ``precomputed``: ``model: sign`` (and ``sgc`` when ``PRECOMPUTED_SGC``) without a sampler ->
  :func:`graphscale.train.precomputed.train_precomputed` (propagation computed once, then an MLP / linear model).

:func:`train_scaled` runs ``train.seeds`` runs of one of the last three and returns the summary keys of
``train_node``, ``edge_weight`` included: SGC/SIGN precomputation propagates over the dataset's edge weights
("used"); the mini-batch and GAS trainers do not carry them (a warning, "ignored"). Every finished run is saved
atomically to ``checkpoints/run<i>.pt`` (its result and curves); ``--resume`` skips the runs found there (a run
interrupted mid-way starts over).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig
from ..config.registry import normalize_key
from ..datasets.base import NodeDataset
from ..errors import ConfigError, warn_once
from .checkpoint import load_checkpoint, save_atomic
from .common import check_resume, fingerprint, progress_bar
from .metrics import mean_std

FORMAT = "graphscale-scaled-run/1"
PRECOMPUTED_MODELS = ("sgc", "sign")  # the models of graphscale.scale.sign.PRECOMPUTED_MODELS
# SGC without a sampler also goes through train_precomputed (same accuracy on Cora's shipped config, measured).
PRECOMPUTED_SGC = True
CURVE_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_acc")
EpochHook = Callable[[dict[str, Any]], None]


def trainer_kind(cfg: RunConfig) -> str:
    """``full``, ``minibatch``, ``gas`` or ``precomputed`` for the model and sampler of ``cfg``.

    Raises:
        ConfigError: SIGN with a sampler (its batches are rows of precomputed features).
    """
    model, sampler = normalize_key(cfg.model.name), cfg.sampler.name
    if model == "sign" or (model == "sgc" and PRECOMPUTED_SGC and sampler == "none"):
        if sampler != "none":
            raise ConfigError(f"sampler.name: expected none for model {model!r} (propagation is precomputed, the "
                              f"MLP trains on rows of the propagated features), got {sampler!r}"
                              f"{cfg.where('sampler.name')}. Drop --sampler.")
        return "precomputed"
    if sampler == "none":
        return "full"
    return "gas" if sampler == "gas" else "minibatch"


def run_label(cfg: RunConfig) -> str:
    """What the summary reports as ``sampler``: the sampler name, ``precomputed`` or ``none``."""
    kind = trainer_kind(cfg)
    return "precomputed" if kind == "precomputed" else cfg.sampler.name


def _trainer(kind: str, cfg: RunConfig) -> Callable[..., dict[str, Any]]:
    """One-run function ``(dataset, seed, run, split, on_epoch) -> result`` of ``kind``."""
    model, hparams, sampler, train = cfg.model.name, dict(cfg.model.hparams), cfg.sampler, cfg.train
    if kind == "minibatch":
        from .minibatch import train_minibatch

        def one(dataset: NodeDataset, seed: int, run: int, split: int | None, on_epoch: EpochHook) -> dict[str, Any]:
            return train_minibatch(dataset, model, hparams, sampler, train, seed, run=run, split=split,
                                   on_epoch=on_epoch)
    elif kind == "gas":
        from ..scale.gas import train_gas

        def one(dataset: NodeDataset, seed: int, run: int, split: int | None, on_epoch: EpochHook) -> dict[str, Any]:
            return train_gas(dataset, model, hparams, sampler, train, seed, run=run, split=split, on_epoch=on_epoch)
    elif kind == "precomputed":
        from .precomputed import train_precomputed

        def one(dataset: NodeDataset, seed: int, run: int, split: int | None, on_epoch: EpochHook) -> dict[str, Any]:
            return train_precomputed(dataset, model, hparams, train, seed, run=run, split=split, on_epoch=on_epoch,
                                     memory_budget=train.memory_budget)
    else:
        raise ConfigError(f"train_scaled: expected a minibatch, gas or precomputed config, got {kind!r}.")
    return one


def _prepared(dataset: NodeDataset, cfg: RunConfig) -> NodeDataset:
    """``dataset`` with row-normalised features when ``data.normalize_features`` (as train_node does)."""
    if dataset.y.dim() != 1:
        raise ConfigError(f"data.dataset: expected single-label classes y [N], got y of shape "
                          f"{tuple(dataset.y.shape)} ({dataset.name} is multi-label).")
    if cfg.data.split is not None and cfg.data.split >= max(dataset.num_splits, 1):
        raise ConfigError(f"data.split: expected an index < {max(dataset.num_splits, 1)} ({dataset.name} has "
                          f"{dataset.num_splits} splits), got {cfg.data.split}{cfg.where('data.split')}.")
    if not cfg.data.normalize_features:
        return dataset
    x = dataset.x.float()
    return dataclasses.replace(dataset, x=x / x.sum(dim=1, keepdim=True).clamp(min=1e-12))


def train_scaled(cfg: RunConfig, dataset: NodeDataset, device: torch.device, out_dir: Path | None = None,
                 resume: bool = False, progress: bool = True, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train ``train.seeds`` runs (seeds ``train.seed + i``) with the trainer of :func:`trainer_kind`.

    Args:
        cfg: Resolved config whose sampler or model needs a scaled trainer.
        dataset: Single-label node-classification dataset.
        device: Where to train (each trainer resolves ``train.device`` itself; kept for the signature of
            ``train_node``).
        out_dir: Folder for ``checkpoints/run<i>.pt``; None saves nothing.
        resume: Skip the runs already saved in ``out_dir``.
        progress: One tqdm bar on stderr over every run's epochs.
        on_epoch: Called after each epoch with ``{"run", "epoch", metrics...}``.

    Returns:
        The keys of :func:`graphscale.train.node.train_node`'s summary (``test_acc``, ``test_acc_std``, ``runs``,
        ``curves`` ...) plus ``sampler``.

    Raises:
        ConfigError: Multi-label data, a split index out of range, a checkpoint of another config or trainer.
    """
    del device
    kind = trainer_kind(cfg)
    one = _trainer(kind, cfg)
    data = _prepared(dataset, cfg)
    if cfg.train.memory_budget is not None and kind != "precomputed":
        warn_once(f"train.memory_budget: applies to full-batch and SGC/SIGN training; the {kind} trainer "
                  "ignores it (its memory grows with the batch, not the graph).")
    edge_weight = _edge_weight_status(kind, cfg, dataset)
    epochs, label = cfg.train.epochs, run_label(cfg)
    runs: list[dict[str, Any]] = []
    curves: list[dict[str, list[float]]] = []
    bar = progress_bar(cfg.train.seeds * epochs, f"train {dataset.name}/{cfg.model.name}/{label}", progress)
    try:
        for run in range(cfg.train.seeds):
            path = out_dir / "checkpoints" / f"run{run}.pt" if out_dir is not None else None
            saved = load_checkpoint(path) if resume and path is not None else None
            if saved is not None:
                if saved.get("format") != FORMAT:
                    raise ConfigError(f"--resume: checkpoint {path} was written by another trainer "
                                      f"({saved.get('format')!r}), got a {kind} config. Resume with the same "
                                      "config, or pick a new --out folder.")
                check_resume(saved["config"], cfg, path)
                runs.append(saved["result"])
                curves.append(saved["history"])
                bar.update(epochs)
                continue
            history: dict[str, list[float]] = {key: [] for key in CURVE_KEYS}

            def hook(metrics: dict[str, Any], history: dict[str, list[float]] = history) -> None:
                for key in CURVE_KEYS:
                    history[key].append(float(metrics[key]))
                bar.update(1)
                bar.set_postfix(run=metrics["run"], val=f"{metrics['val_acc']:.3f}")
                if on_epoch is not None:
                    on_epoch(metrics)

            result = one(data, cfg.train.seed + run, run, cfg.data.split, hook)
            bar.update(max(epochs - int(result["epochs_run"]), 0))
            if path is not None:
                save_atomic({"format": FORMAT, "config": fingerprint(cfg), "run": run, "done": True,
                             "result": result, "history": history}, path)
            runs.append(result)
            curves.append(history)
    finally:
        bar.close()
    return {**summarize(runs, curves, dataset, label), "edge_weight": edge_weight}


def _edge_weight_status(kind: str, cfg: RunConfig, dataset: NodeDataset) -> str:
    """``none`` (no edge weights), ``used`` (SGC/SIGN precomputation) or ``ignored`` (with a warning: the
    mini-batch and GAS trainers' blocks carry no dataset edge weights)."""
    from ..nn.models import EDGE_WEIGHT_MODELS

    if dataset.edge_weight is None:
        return "none"
    if kind == "precomputed":
        return "used"
    warn_once(f"sampler {cfg.sampler.name!r} does not carry edge weights: the dataset's edge weights (the weight "
              f"column of edges.csv) are ignored by model {cfg.model.name!r}. Full-batch training (sampler none) "
              f"uses them for {EDGE_WEIGHT_MODELS}.")
    return "ignored"


def summarize(runs: list[dict[str, Any]], curves: list[dict[str, list[float]]], dataset: NodeDataset,
              sampler: str) -> dict[str, Any]:
    """Means and stds over ``runs`` in the layout of ``train_node``'s summary, plus ``sampler``."""
    test_mean, test_std = mean_std([r["test_acc"] for r in runs])
    val_mean, val_std = mean_std([r["val_acc"] for r in runs])
    epoch_times = [r["epoch_time_s"] for r in runs if r.get("epoch_time_s") is not None]
    return {
        "task": "node", "sampler": sampler, "test_acc": test_mean, "test_acc_std": test_std, "val_acc": val_mean,
        "val_acc_std": val_std, "train_acc": mean_std([r["train_acc"] for r in runs])[0],
        "epoch_time_s": sum(epoch_times) / len(epoch_times) if epoch_times else None,
        "warmup_time_s": runs[0].get("warmup_time_s") if runs else None,
        "epochs_run": [r["epochs_run"] for r in runs], "runs": runs, "curves": curves,
        "num_nodes": dataset.num_nodes, "num_edges": dataset.graph.num_edges, "num_classes": dataset.num_classes,
    }
