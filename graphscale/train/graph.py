"""Graph classification with stratified k-fold cross-validation (the GIN paper protocol).

Protocol (Xu et al., "How Powerful are Graph Neural Networks?", ICLR 2019, Sec. 7): the graphs are
split into ``train.folds`` (10) stratified folds with ``StratifiedKFold(shuffle=True,
random_state=seed)``. For every fold a fresh model is trained for ``train.epochs`` (350) epochs on
the other folds with mini-batches of ``train.batch_size`` graphs (Adam, ``lr`` halved every
``lr_step`` = 50 epochs) and evaluated on the held-out fold after every epoch. The per-fold accuracy
curves are averaged; the reported ``test_acc`` is the mean (and ``test_acc_std`` the standard
deviation over folds) at the single epoch that maximises this averaged curve. As in the paper the
held-out fold doubles as the validation set, so this number is optimistic; the trainer therefore
also records ``last_epoch_test_acc`` (the accuracy after the final epoch, no selection at all).
``val_acc`` equals ``test_acc`` under this protocol. Early stopping (``train.patience``) does not
apply: every fold runs all epochs so the curves can be averaged. Edge features (``edge_attrs``) are
fed only to models that read them (gine, gatedgcn); GIN, like the paper, ignores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import seed as seed_everything
from ..config import RunConfig
from ..datasets.base import GraphDataset
from ..errors import ConfigError
from ..graph import batch
from .loop import Checkpoints, EpochHook, Fitted, Task, fit, run_seeds
from .metrics import mean_std
from .node import build_model, uses_edge_attr
from .optim import build_optimizer, build_scheduler
from .quant import graph_integer_metrics, quant_summary, size_metrics
from .runtime import fingerprint

EVAL_BATCH = 256


def _folds(dataset: GraphDataset, cfg: RunConfig, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    labels = dataset.y.cpu().numpy()
    smallest = int(np.bincount(labels).min(initial=len(labels)) if len(labels) else 0)
    if len(labels) < cfg.train.folds:
        raise ConfigError(f"train.folds: expected at most {len(labels)} folds ({dataset.name} has {len(labels)} "
                          f"graphs), got {cfg.train.folds}{cfg.where('train.folds')}.")
    if smallest < cfg.train.folds:
        from ..errors import warn_once
        warn_once(f"{dataset.name}: the smallest class has {smallest} graphs, fewer than train.folds="
                  f"{cfg.train.folds}; some folds miss that class.")
    from sklearn.model_selection import StratifiedKFold  # here: sklearn costs a second to import

    splitter = StratifiedKFold(n_splits=cfg.train.folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(labels)), labels)]


class _Batches:
    """Mini-batches of graphs: ``(BatchedGraph, x [N_b, F], edge_attr [E_b, F_e] or None, y [B])``."""

    def __init__(self, dataset: GraphDataset, device: torch.device, edge_features: bool) -> None:
        self.dataset, self.device = dataset, device
        self.edge_features = edge_features and dataset.edge_attrs is not None
        self.xs = [x.float() for x in dataset.xs]

    def make(self, ids: np.ndarray) -> tuple[Any, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        ds = self.dataset
        graph = batch([ds.graphs[i] for i in ids]).to(self.device)
        x = torch.cat([self.xs[i] for i in ids]).to(self.device)
        edge_attr = None
        if self.edge_features:
            edge_attr = torch.cat([ds.edge_attrs[i].float() for i in ids]).to(self.device)
        return graph, x, edge_attr, ds.y[torch.as_tensor(ids)].long().to(self.device)

    def chunks(self, ids: np.ndarray, size: int) -> list[np.ndarray]:
        """Consecutive chunks of ``size``; a final chunk of one graph joins the previous one (BatchNorm)."""
        parts = [ids[i:i + size] for i in range(0, len(ids), size)]
        if len(parts) > 1 and len(parts[-1]) == 1:
            parts[-2] = np.concatenate([parts[-2], parts.pop()])
        return parts


def _forward(model: torch.nn.Module, item: tuple[Any, torch.Tensor, torch.Tensor | None, torch.Tensor]) -> torch.Tensor:
    graph, x, edge_attr, _ = item
    return model(graph, x) if edge_attr is None else model(graph, x, edge_attr=edge_attr)


def train_graph(cfg: RunConfig, dataset: GraphDataset, device: torch.device, out_dir: Path | None = None,
                resume: bool = False, progress: bool = True, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Run ``train.seeds`` repetitions of ``train.folds``-fold CV and summarise them (see module docstring).

    Returns:
        Summary with ``test_acc`` / ``test_acc_std`` (GIN protocol), ``last_epoch_test_acc`` (+ std),
        ``best_epoch``, per-fold results and the fold-averaged curves.
    """
    train_cfg = cfg.train
    batches = _Batches(dataset, device, uses_edge_attr(cfg))
    folds: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def one_fold(index: int, saved: dict[str, Any] | None, checkpoints: Checkpoints,
                 bar: Any) -> tuple[dict[str, Any], dict[str, list[float]]]:
        rep, fold = divmod(index, train_cfg.folds)
        seed = train_cfg.seed + rep
        if rep not in folds:
            folds[rep] = _folds(dataset, cfg, seed)
        train_ids, test_ids = folds[rep][fold]
        return _train_fold(cfg, dataset, batches, device, rep, fold, seed, train_ids, test_ids, saved, checkpoints,
                           bar, on_epoch)

    results, histories = run_seeds(
        train_cfg.seeds * train_cfg.folds, one_fold, cfg=cfg, kind="graph", header={"config": fingerprint(cfg)},
        out_dir=out_dir, resume=resume, epochs=train_cfg.epochs, every=cfg.output.checkpoint_every,
        desc=f"cv {dataset.name}/{cfg.model.name}", progress=progress,
        name=lambda index: "rep{}-fold{}".format(*divmod(index, train_cfg.folds)))
    curves = np.array([h["test_acc"] for h in histories])  # [folds_total, epochs]
    mean_curve = curves.mean(axis=0)
    best_epoch = int(mean_curve.argmax())
    best_mean, best_std = mean_std(curves[:, best_epoch].tolist())
    last_mean, last_std = mean_std(curves[:, -1].tolist())
    epoch_times = [r["epoch_time_s"] for r in results if r["epoch_time_s"] is not None]
    return {
        "task": "graph", "protocol": "gin: epoch maximising the fold-averaged held-out accuracy",
        "test_acc": best_mean, "test_acc_std": best_std, "val_acc": best_mean, "val_acc_std": best_std,
        "best_epoch": best_epoch, "last_epoch_test_acc": last_mean, "last_epoch_test_acc_std": last_std,
        "train_acc": float(np.mean([h["train_acc"][best_epoch] for h in histories])),
        "epoch_time_s": sum(epoch_times) / len(epoch_times) if epoch_times else None,
        "warmup_time_s": results[0]["warmup_time_s"] if results else None,
        "folds": results, "curves": [{key: np.mean([h[key] for h in histories], 0).tolist()
                                      for key in ("train_loss", "train_acc", "test_loss", "test_acc")}],
        "num_graphs": len(dataset), "num_classes": dataset.num_classes, **quant_summary(cfg, results),
    }


def _train_fold(cfg: RunConfig, dataset: GraphDataset, batches: _Batches, device: torch.device, rep: int, fold: int,
                seed: int, train_ids: np.ndarray, test_ids: np.ndarray, saved: dict[str, Any] | None,
                checkpoints: Checkpoints, bar: Any,
                on_epoch: EpochHook | None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    train_cfg = cfg.train
    fold_seed = seed * train_cfg.folds + fold
    seed_everything(fold_seed)
    generator = torch.Generator().manual_seed(fold_seed)
    edge_dim = dataset.num_edge_features if batches.edge_features else None
    model = build_model(cfg, dataset.num_features, dataset.num_classes, graph_task=True, edge_dim=edge_dim).to(device)
    optimizer = build_optimizer(model, train_cfg)
    test_batches = [batches.make(ids) for ids in batches.chunks(test_ids, EVAL_BATCH)]

    def train_epoch(epoch: int) -> dict[str, float]:
        order = torch.as_tensor(train_ids)[torch.randperm(len(train_ids), generator=generator)].numpy()
        total_loss, correct = 0.0, 0
        for ids in batches.chunks(order, train_cfg.batch_size):
            item = batches.make(ids)
            optimizer.zero_grad(set_to_none=True)
            logits = _forward(model, item)
            loss = F.cross_entropy(logits, item[3])
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(ids)
            correct += int((logits.argmax(-1) == item[3]).sum())
        return {"train_loss": total_loss / len(train_ids), "train_acc": correct / len(train_ids)}

    def evaluate() -> dict[str, float]:
        test_loss, test_correct = 0.0, 0
        for item in test_batches:
            logits = _forward(model, item)
            test_loss += float(F.cross_entropy(logits, item[3], reduction="sum"))
            test_correct += int((logits.argmax(-1) == item[3]).sum())
        return {"test_loss": test_loss / len(test_ids), "test_acc": test_correct / len(test_ids)}

    def result(fitted: Fitted) -> dict[str, Any]:
        return {"rep": rep, "fold": fold, "seed": fold_seed, "num_train": len(train_ids),
                "num_test": len(test_ids), "last_test_acc": fitted.history["test_acc"][-1],
                "best_fold_test_acc": max(fitted.history["test_acc"]), **fitted.timing(), **size_metrics(model),
                **graph_integer_metrics(model, test_batches)}

    checkpoints.header.update(rep=rep, fold=fold)
    task = Task(model, optimizer, build_scheduler(optimizer, train_cfg), train_epoch, evaluate, device,
                generator=generator)
    return fit(task, train_cfg.epochs, result, checkpoints=checkpoints, saved=saved, bar=bar,
               tags={"rep": rep, "fold": fold}, on_epoch=on_epoch)
