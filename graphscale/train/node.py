"""Node classification: ``train.seeds`` runs of one trainer on public or random splits, and their summary.

Protocol: for every run ``i`` (seed ``train.seed + i``) the model is trained on split ``data.split`` or, when
that is null, on published split ``i % S`` of a multi-split dataset (Geom-GCN sets have ``S = 10``); datasets
without a split get a seeded 60/20/20 random split. After each epoch the model is evaluated; the reported test
accuracy is the one at the epoch chosen by :class:`~graphscale.train.loop.EpochSelector` on the validation set
(never on test), and training stops early after ``train.patience`` epochs without improvement.

:func:`trainer_kind` picks the run's trainer from ``sampler.name`` and ``model.name``; each builds a
:class:`~graphscale.train.loop.Task` and the one training engine (:mod:`graphscale.train.loop`) runs it:

* ``full``: ``sampler: none`` -> :mod:`.full_batch` (optionally streamed under ``train.memory_budget``);
* ``minibatch``: neighbor, cluster, saint-node, saint-edge, saint-rw -> :mod:`.minibatch`;
* ``gas``: ``sampler: gas`` -> :mod:`.gas` (ClusterGCN batches + history buffers);
* ``precomputed``: ``model: sign`` (and ``sgc`` without a sampler) -> :mod:`.precomputed`;
* ``pprgo``: ``model: pprgo`` -> :mod:`.pprgo` (batches of training nodes with their top-k PPR lists).

Every run checkpoints to ``checkpoints/run<i>.pt`` every ``output.checkpoint_every`` epochs and when it ends;
``--resume`` reads finished runs back and continues an unfinished one from its last checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import RunConfig
from ..config.registry import normalize_key
from ..datasets.base import NodeDataset, normalize_features, random_split
from ..errors import ConfigError, warn_once
from .loop import EpochHook, Fitted, run_seeds
from .metrics import accuracy, mean_std
from .runtime import fingerprint

PRECOMPUTED_MODELS = ("sgc", "sign")  # the models of graphscale.scale.sign.PRECOMPUTED_MODELS
# SGC without a sampler also goes through the precomputed trainer (same accuracy on Cora's shipped config).
PRECOMPUTED_SGC = True


def check_single_label(dataset: NodeDataset) -> None:
    """Raise ConfigError for multi-label data (``y [N, C]``): node classification takes class ids ``y [N]``."""
    if dataset.y.dim() != 1:
        raise ConfigError(f"data.dataset: expected single-label classes y [N], got y of shape "
                          f"{tuple(dataset.y.shape)} ({dataset.name} is multi-label). Use an embedding "
                          "command for multi-label data.")


def node_split(dataset: NodeDataset, run: int, seed: int, split: int | None) -> tuple[int, tuple[Tensor, ...]]:
    """``(split index, (train, val, test) masks)`` of one run, each mask restricted to labelled nodes.

    ``split`` (or, when None, published split ``run % S``); a dataset without splits gets the seeded 60/20/20
    random split (index -1).
    """
    if dataset.num_splits == 0:
        index, masks = -1, random_split(dataset.num_nodes, seed=seed, labels=dataset.y)
    else:
        index = split if split is not None else run % dataset.num_splits
        masks = dataset.split(index)
    labelled = dataset.y >= 0
    return index, tuple(m & labelled for m in masks)


def node_metrics(logits: Tensor, y: Tensor, masks: tuple[Tensor, ...]) -> dict[str, float]:
    """``train_acc, val_loss, val_acc, test_acc`` of full-graph ``logits [N, C]`` (val_loss 0 without val nodes)."""
    train_mask, val_mask, test_mask = masks
    return {"train_acc": accuracy(logits, y, train_mask),
            "val_loss": float(F.cross_entropy(logits[val_mask], y[val_mask])) if val_mask.any() else 0.0,
            "val_acc": accuracy(logits, y, val_mask), "test_acc": accuracy(logits, y, test_mask)}


def node_result(run: int, seed: int, split: int, fitted: Fitted) -> dict[str, Any]:
    """One run's result: its ids, the selected epoch's metrics, the last test accuracy and the timings."""
    best = fitted.best
    return {"run": run, "seed": seed, "split": split, "best_epoch": best["epoch"], "epochs_run": fitted.epochs_run,
            "test_acc": best["test_acc"], "val_acc": best["val_acc"], "val_loss": best["val_loss"],
            "train_acc": best["train_acc"], "last_test_acc": fitted.history["test_acc"][-1], **fitted.timing()}


def build_model(cfg: RunConfig, in_dim: int, out_dim: int, graph_task: bool = False,
                edge_dim: int | None = None) -> torch.nn.Module:
    """Model from the registry; a builder ConfigError gets the config location appended.

    ``edge_dim`` fills the ``edge_dim`` hparam of graph models that take edge features (gine, gatedgcn)
    when the config leaves it unset.
    """
    from ..nn import models
    from .quant import apply_quant

    hparams = dict(cfg.model.hparams)
    try:
        if graph_task:
            if edge_dim is not None and hparams.get("edge_dim") is None and uses_edge_attr(cfg):
                hparams["edge_dim"] = edge_dim
            model = models.build_graph_model(cfg.model.name, in_dim, out_dim, **hparams)
        else:
            model = models.build_node_model(cfg.model.name, in_dim, out_dim, **hparams)
    except ConfigError as err:
        raise located(err, cfg) from None
    return apply_quant(cfg, model)  # Degree-Quant QAT wrapper under train.quant


def located(err: ConfigError, cfg: RunConfig, key: str = "model.name") -> ConfigError:
    """``err`` with the config location of ``key`` appended (unless the message already names it)."""
    where, message = cfg.where(key), str(err)
    if not where or where.strip(" ()") in message:
        return ConfigError(message)
    return ConfigError(f"{message.rstrip('.')}{where}.")


def uses_edge_attr(cfg: RunConfig) -> bool:
    """Whether the graph model of ``cfg`` reads edge features (its builder takes ``edge_dim``)."""
    from ..nn import models

    try:
        return "edge_dim" in models.GRAPH_MODELS.get(cfg.model.name, where="model.name").defaults
    except ConfigError as err:
        raise located(err, cfg) from None


def trainer_kind(cfg: RunConfig) -> str:
    """``full``, ``minibatch``, ``gas``, ``precomputed``, ``pprgo`` or ``hetero`` (R-GCN, HGT on a heterogeneous
    graph, :mod:`graphscale.train.hetero`) for the model and sampler of ``cfg``.

    Raises:
        ConfigError: SIGN with a sampler (its batches are rows of precomputed features); learnable node
            embeddings (``data.node_embedding``) with a trainer other than the sampled one.
    """
    from ..nn.hetero_models import HETERO_MODELS

    model, sampler = normalize_key(cfg.model.name), cfg.sampler.name
    if model in HETERO_MODELS:
        return "hetero"
    if model == "sign" or (model == "sgc" and PRECOMPUTED_SGC and sampler == "none"):
        if sampler != "none":
            raise ConfigError(f"sampler.name: expected none for model {model!r} (propagation is precomputed, the "
                              f"MLP trains on rows of the propagated features), got {sampler!r}"
                              f"{cfg.where('sampler.name')}. Drop --sampler.")
        kind = "precomputed"
    elif model == "pprgo":
        if sampler != "none":
            raise ConfigError(f"sampler.name: expected none for model 'pprgo' (its batches are training nodes with "
                              f"their top-k PageRank lists), got {sampler!r}{cfg.where('sampler.name')}. Drop --sampler.")
        kind = "pprgo"
    else:
        kind = "full" if sampler == "none" else "gas" if sampler == "gas" else "minibatch"
    if cfg.train.quant is not None and kind != "full":
        raise ConfigError(f"train.quant: expected full-batch training of gcn, gin or gat, got the {kind} trainer "
                          f"(model {model!r}, sampler {sampler!r}){cfg.where('train.quant')}. Drop --sampler.")
    if cfg.data.node_embedding and kind != "minibatch":
        raise ConfigError(f"data.node_embedding: expected a sampled trainer (--sampler neighbor, cluster or saint) "
                          f"for learnable node embeddings, got the {kind} trainer (sampler {sampler!r})"
                          f"{cfg.where('data.node_embedding')}. Pass --sampler neighbor.")
    return kind


def run_label(cfg: RunConfig) -> str:
    """What the summary reports as ``sampler``: the sampler name, ``precomputed`` or ``none``."""
    return "precomputed" if trainer_kind(cfg) == "precomputed" else cfg.sampler.name


def _prepared(dataset: NodeDataset, cfg: RunConfig) -> NodeDataset:
    """``dataset`` checked (single-label, split index in range), its features row-normalised when
    ``data.normalize_features``."""
    check_single_label(dataset)
    if cfg.data.split is not None and cfg.data.split >= max(dataset.num_splits, 1):
        raise ConfigError(f"data.split: expected an index < {max(dataset.num_splits, 1)} ({dataset.name} has "
                          f"{dataset.num_splits} splits), got {cfg.data.split}{cfg.where('data.split')}.")
    return normalize_features(dataset) if cfg.data.normalize_features else dataset


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


def _runner(kind: str, cfg: RunConfig, data: NodeDataset, device: torch.device,
            on_epoch: EpochHook | None) -> tuple[Callable[..., Any], Callable[[], dict[str, Any]]]:
    """The one-run function ``(run, saved, checkpoints, bar) -> (result, history)`` of ``kind`` and a function
    giving the summary keys it adds once the runs are done (``edge_weight``, the streaming plan)."""
    model, hparams, sampler, train = cfg.model.name, dict(cfg.model.hparams), cfg.sampler, cfg.train

    def common(run: int, saved: Any, checkpoints: Any, bar: Any) -> dict[str, Any]:
        return {"run": run, "split": cfg.data.split, "on_epoch": on_epoch, "saved": saved,
                "checkpoints": checkpoints, "bar": bar}

    if kind == "full":
        from .full_batch import FullBatch

        trainer = FullBatch(cfg, data, device)
        return (lambda run, *rest: trainer.run(train.seed + run, **common(run, *rest))), trainer.summary
    if cfg.train.memory_budget is not None and kind != "precomputed":
        warn_once(f"train.memory_budget: applies to full-batch and SGC/SIGN training; the {kind} trainer "
                  "ignores it (its memory grows with the batch, not the graph).")
    status = {"edge_weight": _edge_weight_status(kind, cfg, data)}

    def extra() -> dict[str, Any]:
        return status
    if kind == "minibatch":
        from .minibatch import minibatch_run

        return (lambda run, *rest: minibatch_run(data, model, hparams, sampler, train, train.seed + run,
                                                 node_embedding=cfg.data.node_embedding,
                                                 **common(run, *rest))), extra
    if kind == "pprgo":
        from .pprgo import pprgo_run

        return (lambda run, *rest: pprgo_run(data, hparams, train, train.seed + run, **common(run, *rest))), extra
    if kind == "gas":
        from .gas import gas_run

        return (lambda run, *rest: gas_run(data, model, hparams, sampler, train, train.seed + run,
                                           **common(run, *rest))), extra
    from .precomputed import precomputed_run

    return (lambda run, *rest: precomputed_run(data, model, hparams, train, train.seed + run,
                                               memory_budget=train.memory_budget, **common(run, *rest))), extra


def train_node(cfg: RunConfig, dataset: NodeDataset, device: torch.device, out_dir: Path | None = None,
               resume: bool = False, progress: bool = True, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train ``train.seeds`` runs with the trainer of :func:`trainer_kind` and summarise them.

    Args:
        cfg: Resolved config.
        dataset: Node-classification dataset (single-label ``y [N]``).
        device: Where to train.
        out_dir: Folder for ``checkpoints/run<i>.pt``; None disables checkpoints.
        resume: Continue from existing checkpoints (finished runs are not repeated).
        progress: Show a tqdm bar on stderr.
        on_epoch: Called after each epoch (and its checkpoint) with ``{"run", "epoch", metrics...}``.

    Returns:
        Summary with ``test_acc``/``val_acc`` means and stds, per-run results and training curves, ``sampler``
        and ``edge_weight`` (plus the streaming plan under ``train.memory_budget``).

    Raises:
        ConfigError: Multi-label data, a split index out of range, a checkpoint of another config or trainer.
    """
    kind = trainer_kind(cfg)
    data = _prepared(dataset, cfg)
    one_run, extra = _runner(kind, cfg, data, device, on_epoch)
    label = run_label(cfg)
    desc = f"train {dataset.name}/{cfg.model.name}" + ("" if kind == "full" else f"/{label}")
    runs, curves = run_seeds(cfg.train.seeds, one_run, cfg=cfg, kind=kind, header={"config": fingerprint(cfg)},
                             out_dir=out_dir, resume=resume, epochs=cfg.train.epochs,
                             every=cfg.output.checkpoint_every, desc=desc, progress=progress)
    from .quant import quant_summary

    summary = {**summarize(runs, curves, label), "num_nodes": dataset.num_nodes,
               "num_edges": dataset.graph.num_edges, "num_classes": dataset.num_classes, **extra(),
               **quant_summary(cfg, runs)}
    if kind == "pprgo":
        from .pprgo import pprgo_summary

        summary.update(pprgo_summary(runs))
    return summary


def summarize(runs: list[dict[str, Any]], curves: list[dict[str, list[float]]], sampler: str) -> dict[str, Any]:
    """Means and stds over ``runs``, the runs and their curves, and ``sampler``."""
    test_mean, test_std = mean_std([r["test_acc"] for r in runs])
    val_mean, val_std = mean_std([r["val_acc"] for r in runs])
    epoch_times = [r["epoch_time_s"] for r in runs if r.get("epoch_time_s") is not None]
    sizes = {key: sum(r[key] for r in runs) / len(runs) for key in ("subgraph_nodes", "subgraph_edges")
             if runs and key in runs[0]}  # shadow: mean size of a target's evaluation subgraph
    return {**sizes,
        "task": "node", "sampler": sampler, "test_acc": test_mean, "test_acc_std": test_std, "val_acc": val_mean,
        "val_acc_std": val_std, "train_acc": mean_std([r["train_acc"] for r in runs])[0],
        "epoch_time_s": sum(epoch_times) / len(epoch_times) if epoch_times else None,
        "warmup_time_s": runs[0].get("warmup_time_s") if runs else None,
        "epochs_run": [r["epochs_run"] for r in runs], "runs": runs, "curves": curves,
    }
