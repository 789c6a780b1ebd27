"""Training on precomputed propagation: one SGC or SIGN run (:func:`train_precomputed`) on the operators of
:mod:`graphscale.scale.precompute`, and chunked evaluation-mode prediction (:func:`predict`).

The propagation lives in ``scale/``; the training loop around it lives here, beside the other trainers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import seed as seed_everything
from ..config import TrainConfig
from ..datasets.base import NodeDataset
from ..scale.precompute import ROW_CACHE_BYTES, PrecomputedFeatures, budget_bytes, cached_features, precompute_features
from ..scale.sign import SIGN, SGCHead, resolve_precomputed
from .loop import Checkpoints, EpochHook, EpochSelector, Fitted, Task, fit, single_run
from .node import check_single_label, node_metrics, node_result, node_split
from .optim import build_optimizer, build_scheduler
from .runtime import resolve_device


def train_precomputed(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None, train_cfg: TrainConfig,
                      seed: int, *, run: int = 0, split: int | None = None, progress: bool = False,
                      on_epoch: Callable[[dict[str, Any]], None] | None = None,
                      memory_budget: int | str | None = None) -> dict[str, Any]:
    """Train and evaluate one SGC or SIGN run on precomputed propagated features.

    The operators are computed once (and reused by later calls with the same dataset objects and
    settings), over the weighted adjacency when the dataset has ``edge_weight`` (SGC and SIGN use it);
    training then runs on full batches of the training nodes (``batch_size`` null, the default while the
    operators are in memory) or on shuffled mini-batches of ``batch_size`` nodes (the default 4096 when out
    of core). Evaluation covers the labelled nodes after every epoch, with the
    epoch selection and early stopping of the full-batch trainer.

    Args:
        dataset: Single-label node-classification dataset.
        model_name: "sgc" (hparams ``K``, ``norm``, ``bias``, ``input_dropout``, ``batch_size``) or "sign"
            (``K`` powers, ``norm``, ``hidden_dim`` per branch, ``num_layers`` of the head MLP, ``dropout``,
            ``input_dropout``, ``batch_norm``, ``ppr_alpha`` / ``ppr_steps`` for an extra PPR operator,
            ``batch_size``).
        hparams: Model hyper-parameters.
        train_cfg: Epochs, optimizer, lr, weight decay, patience, selection metric, device.
        seed: Seed of the initialisation, the split (datasets without one) and the batch order.
        run: Run number (picks published split ``run % S`` when ``split`` is None).
        split: Published split index to use.
        progress: Show a tqdm bar on stderr.
        on_epoch: Called after each epoch with ``{"run", "epoch", train_loss, train_acc, val_loss, val_acc,
            test_acc}``.
        memory_budget: Bytes or a size string for the precomputation (out of core beyond it); None:
            ``train_cfg.memory_budget``.

    Returns:
        The keys of ``train_minibatch``'s result plus ``precompute_time_s`` (0 when reused) and ``edge_weight``
        ("used", or "none" for a dataset without edge weights).

    Raises:
        ConfigError: Multi-label data, an unknown model or hparam, a bad memory budget.
        ShapeError, DatasetError: Edge weights that are not ``[E]``, or NaN, infinite or negative ones.
    """
    return single_run(precomputed_run, train_cfg.epochs, f"train {dataset.name}/{model_name}/precomputed", progress,
                      dataset=dataset, model_name=model_name, hparams=hparams, train_cfg=train_cfg, seed=seed,
                      run=run, split=split, memory_budget=memory_budget, on_epoch=on_epoch)


def precomputed_run(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None, train_cfg: TrainConfig,
                    seed: int, *, run: int, split: int | None, memory_budget: int | str | None = None,
                    saved: dict[str, Any] | None = None, checkpoints: Checkpoints | None = None, bar: Any = None,
                    on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """:func:`train_precomputed` on the training engine: ``(result, curves)``, resumable from ``saved``."""
    check_single_label(dataset)
    name, hp = resolve_precomputed(model_name, hparams)
    device = resolve_device(train_cfg.device)
    budget = budget_bytes(memory_budget if memory_budget is not None else train_cfg.memory_budget)
    began = time.perf_counter()
    keep_all = name == "sign"
    alpha = hp.get("ppr_alpha") if keep_all else None
    key = (hp["K"], keep_all, alpha, hp.get("ppr_steps"), budget, hp["norm"])
    features = cached_features(dataset.graph, dataset.x, key, lambda: precompute_features(
        dataset.graph, dataset.x, hp["K"], keep_all=keep_all, ppr_alpha=alpha, ppr_steps=hp.get("ppr_steps", 10),
        memory_budget=budget, norm=hp["norm"], edge_weight=dataset.edge_weight), edge_weight=dataset.edge_weight)
    precompute_time = time.perf_counter() - began

    seed_everything(seed)
    split_index, masks = node_split(dataset, run, seed, split)
    y = dataset.y.long()
    train_mask, val_mask, test_mask = masks
    if name == "sgc":
        model: nn.Module = SGCHead(dataset.num_features, dataset.num_classes, bias=hp["bias"],
                                   input_dropout=hp["input_dropout"])
    else:
        model = SIGN(dataset.num_features, dataset.num_classes, len(features.operators), hidden_dim=hp["hidden_dim"],
                     num_layers=hp["num_layers"], dropout=hp["dropout"], input_dropout=hp["input_dropout"],
                     batch_norm=hp["batch_norm"])
    model.to(device)
    optimizer = build_optimizer(model, train_cfg)
    train_ids = train_mask.nonzero().view(-1)
    eval_ids = (train_mask | val_mask | test_mask).nonzero().view(-1)
    batch_size = hp["batch_size"] or (4096 if features.out_of_core else max(train_ids.numel(), 1))
    # small in-memory problems gather their rows once per run instead of once per epoch
    width = sum(op.shape[1] for op in features.operators)
    gather_once = not features.out_of_core and (train_ids.numel() + eval_ids.numel()) * width * 4 <= ROW_CACHE_BYTES
    train_rows = features.rows(train_ids, device) if gather_once and batch_size >= train_ids.numel() else None
    eval_rows = features.rows(eval_ids, device) if gather_once else None

    def train_epoch(epoch: int) -> dict[str, float]:
        order = train_ids
        if batch_size < train_ids.numel():
            order = train_ids[torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(train_ids.numel()))]
        losses = []
        for batch in order.split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            inputs = train_rows if train_rows is not None else features.rows(batch, device)
            loss = F.cross_entropy(model(inputs), y[batch].to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return {"train_loss": sum(losses) / max(len(losses), 1)}

    def evaluate() -> dict[str, float]:
        return node_metrics(predict(model, features, eval_ids, dataset.num_nodes, device, rows=eval_rows), y, masks)

    def result(fitted: Fitted) -> dict[str, Any]:
        return {**node_result(run, seed, split_index, fitted), "precompute_time_s": precompute_time,
                "edge_weight": "none" if dataset.edge_weight is None else "used"}

    task = Task(model, optimizer, build_scheduler(optimizer, train_cfg), train_epoch, evaluate, device,
                selector=EpochSelector(train_cfg.select, train_cfg.patience))
    return fit(task, train_cfg.epochs, result, checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run},
               on_epoch=on_epoch)


@torch.no_grad()
def predict(model: nn.Module, features: PrecomputedFeatures, ids: Tensor, num_nodes: int,
            device: torch.device | str = "cpu", chunk: int = 16384, rows: list[Tensor] | None = None) -> Tensor:
    """Evaluation-mode logits of ``ids`` (chunks of ``chunk`` rows), zero rows elsewhere; ``rows``:
    the operators' rows of ``ids`` when already gathered.

    Shapes:
        ids: ``[B]`` int64; returns ``[num_nodes, C]`` on the CPU.
    """
    model.eval()
    out: Tensor | None = None
    for start in range(0, ids.numel(), chunk):
        part = ids[start:start + chunk]
        inputs = features.rows(part, device) if rows is None else [r[start:start + chunk] for r in rows]
        logits = model(inputs).float().cpu()
        if out is None:
            out = torch.zeros(num_nodes, logits.shape[1])
        out[part] = logits
    return out if out is not None else torch.zeros(num_nodes, 1)


__all__ = ["predict", "train_precomputed"]
