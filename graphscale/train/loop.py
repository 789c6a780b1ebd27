"""The training engine: the one epoch loop every epoch-based trainer runs.

A trainer supplies a :class:`Task` (its model, optimizer and schedule, one epoch of steps, its evaluation) and
:func:`fit` does the rest: epochs, the time of each epoch's steps (evaluation excluded), the LR schedule,
evaluation after every epoch, the curves, best-epoch selection and early stopping (:class:`EpochSelector`),
atomic checkpoints every ``checkpoint_every`` epochs and resume from them, the progress bar and the per-epoch
hook. :func:`run_seeds` is the multi-run driver on top: one checkpoint file per run, finished runs skipped on
resume, one progress bar over all runs.

Full-batch, mini-batch, GNNAutoScale, precomputed (SGC/SIGN), graph-classification, knowledge-graph and
node-embedding training all run here; they differ only in their ``Task``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .runtime import check_resume, progress_bar

FORMAT = "graphscale-run/2"
EpochHook = Callable[[dict[str, Any]], None]


class EpochSelector:
    """Best-epoch tracking and early stopping on validation metrics.

    ``select``: ``val_acc`` (higher accuracy; ties broken by lower loss), ``val_loss`` (lower loss), or
    ``gat`` (Veličković et al. reference code: patience counts epochs where neither accuracy nor loss
    reached a new best; the kept epoch is the last one where both did), or ``last`` (no selection: the
    final epoch is kept, as in the SGC reference code). ``patience`` 0 never stops. ``score`` / ``loss`` name
    the metrics read as "accuracy" (higher is better) and "loss" (``val_auc`` / ``val_loss`` for link tasks).
    """

    def __init__(self, select: str, patience: int, score: str = "val_acc", loss: str = "val_loss") -> None:
        self.select, self.patience, self.score, self.loss = select, patience, score, loss
        self.best: dict[str, Any] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.acc_max, self.loss_min, self.bad_epochs = -math.inf, math.inf, 0

    def _improved(self, metrics: dict[str, float]) -> tuple[bool, bool]:
        """``(keep this epoch, reset patience)``."""
        acc, loss = metrics[self.score], metrics[self.loss]
        if not self.best or self.select == "last":
            return True, True
        best_acc, best_loss = self.best[self.score], self.best[self.loss]
        if self.select == "val_loss":
            better = loss < best_loss
            return better, better
        if self.select == "gat":
            return acc >= self.acc_max and loss <= self.loss_min, acc >= self.acc_max or loss <= self.loss_min
        better = acc > best_acc or (acc == best_acc and loss < best_loss)
        return better, better

    def update(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> bool:
        """Record ``epoch``; returns True when training should stop."""
        keep, reset = self._improved(metrics)
        if keep:
            self.best = {"epoch": epoch, **metrics}
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.acc_max = max(self.acc_max, metrics[self.score])
        self.loss_min = min(self.loss_min, metrics[self.loss])
        self.bad_epochs = 0 if reset else self.bad_epochs + 1
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best), "best_state": self.best_state, "acc_max": self.acc_max,
                "loss_min": self.loss_min, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_state = dict(state["best"]), state["best_state"]
        self.acc_max, self.loss_min, self.bad_epochs = state["acc_max"], state["loss_min"], state["bad_epochs"]


@dataclass
class Task:
    """What a trainer hands to :func:`fit`.

    Attributes:
        model: The trained module (its state is checkpointed; the selected epoch's state is loaded at the end).
        optimizer: Its optimizer; ``scheduler`` steps once per epoch (None: constant rate).
        train_epoch: ``train_epoch(epoch) -> {"train_loss": ..., ...}``: one epoch of optimizer steps.
        evaluate: ``evaluate() -> metrics`` after the epoch (the model in eval mode, under ``torch.no_grad()``).
        device: Where the model runs (CUDA epochs are synchronised before they are timed).
        selector: Best-epoch selection and early stopping; None keeps the last epoch and never stops early.
        extra_state: ``() -> dict`` of trainer state to checkpoint besides the model (histories, or all of a
            trainer's state when it has no torch ``model`` / ``optimizer``: KG tables).
        load_extra_state: ``(state, epoch) -> None`` restores it when resuming at ``epoch``.
        generator: A torch generator the trainer draws from (its state is checkpointed with the global RNGs).
        evaluate_every: Evaluate after every this many epochs and after the last (0: never); the curves hold
            None for the metrics of the other epochs. Selection needs 1.
        log_epoch: Called with each epoch's metrics (plus ``epoch_time_s``, ``train_time_s``) before its
            checkpoint: a progress log then never misses an epoch a checkpoint holds.
    """

    model: nn.Module | None
    optimizer: torch.optim.Optimizer | None
    scheduler: Any
    train_epoch: Callable[[int], dict[str, Any]]
    evaluate: Callable[[], dict[str, Any]]
    device: torch.device
    selector: EpochSelector | None = None
    extra_state: Callable[[], dict[str, Any]] | None = None
    load_extra_state: Callable[[dict[str, Any], int], None] | None = None
    generator: torch.Generator | None = None
    evaluate_every: int = 1
    log_epoch: Callable[[dict[str, Any]], None] | None = None


@dataclass
class Fitted:
    """What :func:`fit` returns: the curves, the epochs' step times and the kept epoch."""

    history: dict[str, list[Any]]
    times: list[float]
    epochs_run: int
    best: dict[str, Any]  # {"epoch", metrics...} of the selected epoch (the last one without a selector)
    complete: bool = True  # False when the time limit ended training before the epoch budget

    @property
    def epoch_time_s(self) -> float | None:
        """Mean step time of an epoch after the first (the first includes compilation), or the first's."""
        return sum(self.times[1:]) / (len(self.times) - 1) if len(self.times) > 1 else (
            self.times[0] if self.times else None)

    def timing(self) -> dict[str, float | None]:
        return {"epoch_time_s": self.epoch_time_s, "warmup_time_s": self.times[0] if self.times else None,
                "train_time_s": sum(self.times)}


@dataclass
class Checkpoints:
    """Where and how often :func:`fit` checkpoints one run: every ``every`` epochs (0: by count never) and,
    with ``every_s``, after any epoch ending that many seconds after the last checkpoint (0.0: after every
    epoch; for long epochs such as embedding pools). ``header`` (the config fingerprint under ``config``, the
    run's ids) is written into every checkpoint."""

    path: Path | None
    every: int
    header: dict[str, Any] = field(default_factory=dict)
    every_s: float | None = None
    last_s: float = field(default_factory=time.perf_counter, repr=False)

    def due(self, epochs_run: int) -> bool:
        """Whether a checkpoint is due after ``epochs_run`` epochs."""
        if self.path is None:
            return False
        by_count = self.every > 0 and epochs_run % self.every == 0
        return by_count or (self.every_s is not None and time.perf_counter() - self.last_s >= self.every_s)

    def save(self, task: Task, epoch: int, done: bool, fitted: Fitted, selector: EpochSelector | None,
             result: dict[str, Any] | None = None) -> None:
        if self.path is None:
            return
        self.last_s = time.perf_counter()
        save_atomic({"format": FORMAT, **self.header, "epoch": epoch, "done": done, "result": result,
                     "model": task.model.state_dict() if task.model is not None else None,
                     "optimizer": task.optimizer.state_dict() if task.optimizer is not None else None,
                     "scheduler": task.scheduler.state_dict() if task.scheduler is not None else None,
                     "selector": selector.state_dict() if selector is not None else None,
                     "extra": task.extra_state() if task.extra_state is not None else None,
                     "history": fitted.history, "times": fitted.times,
                     "rng": rng_state(task.generator)}, self.path)


def fit(task: Task, epochs: int, make_result: Callable[[Fitted], dict[str, Any]], *,
        checkpoints: Checkpoints | None = None, saved: dict[str, Any] | None = None, bar: Any = None,
        tags: dict[str, Any] | None = None, on_epoch: EpochHook | None = None,
        time_limit_s: float = 0.0) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Train ``task`` for up to ``epochs`` epochs (fewer when its selector stops early).

    Args:
        task: The trainer's model, optimizer, epoch of steps and evaluation.
        epochs: Epoch budget.
        make_result: The run's result from what was fitted (called once training ends; the result goes into
            the final checkpoint).
        checkpoints: Checkpoint file and period (None: none).
        saved: An unfinished checkpoint of this run to continue from (:func:`resumable` loads it).
        bar: A tqdm bar advanced once per epoch (and by the epochs left when stopping early).
        tags: Keys identifying the run in the hook's metrics and the bar (``{"run": 0}``, ``{"rep", "fold"}``).
        on_epoch: Called after each epoch (and its checkpoint) with ``{**tags, "epoch", metrics...}``.
        time_limit_s: Stop at an epoch boundary once the epochs' step time (this call's and the resumed
            run's) reaches it, with a checkpoint to resume from; 0 = no limit. At least one epoch runs.

    Returns:
        ``(result, curves)``; the kept epoch's weights are loaded into ``task.model`` and saved with the result
        in the final checkpoint (an unfinished one when the time limit stopped training).
    """
    tags, selector = tags or {}, task.selector
    fitted = Fitted(history={}, times=[], epochs_run=0, best={})
    if saved is not None:
        _restore(task, saved, fitted)
        if bar is not None:
            bar.update(fitted.epochs_run)
    first, stopped = fitted.epochs_run, False
    while not stopped and fitted.epochs_run < epochs:
        if time_limit_s > 0 and fitted.epochs_run > first and sum(fitted.times) >= time_limit_s:
            fitted.complete = False
            break
        epoch = fitted.epochs_run
        metrics = _run_epoch(task, epoch, epochs, fitted)
        stopped = selector.update(epoch, metrics, task.model) if selector is not None else False
        fitted.epochs_run = epoch + 1
        if task.log_epoch is not None:
            task.log_epoch({**tags, "epoch": epoch, **metrics, "epoch_time_s": fitted.times[-1],
                            "train_time_s": sum(fitted.times)})
        if checkpoints is not None and not stopped and checkpoints.due(fitted.epochs_run):
            checkpoints.save(task, fitted.epochs_run, False, fitted, selector)
        _show(bar, metrics, tags, selector)
        if on_epoch is not None:
            on_epoch({**tags, "epoch": epoch, **metrics})
    if bar is not None:
        bar.update(max(epochs - fitted.epochs_run, 0))
    if selector is not None:
        fitted.best = dict(selector.best)
        if selector.best_state is not None:
            task.model.load_state_dict(selector.best_state)
    elif fitted.epochs_run:
        fitted.best = {"epoch": fitted.epochs_run - 1, **{k: v[-1] for k, v in fitted.history.items()}}
    result = make_result(fitted)
    if checkpoints is not None:
        checkpoints.save(task, fitted.epochs_run, fitted.complete, fitted, selector, result)
    return result, fitted.history


def _restore(task: Task, saved: dict[str, Any], fitted: Fitted) -> None:
    """Load an unfinished checkpoint into the task and the curves."""
    if task.model is not None:
        task.model.load_state_dict(saved["model"])
    if task.optimizer is not None:
        task.optimizer.load_state_dict(saved["optimizer"])
    if task.scheduler is not None and saved["scheduler"] is not None:
        task.scheduler.load_state_dict(saved["scheduler"])
    if task.selector is not None and saved["selector"] is not None:
        task.selector.load_state_dict(saved["selector"])
    fitted.history, fitted.times, fitted.epochs_run = saved["history"], saved["times"], saved["epoch"]
    if task.load_extra_state is not None:
        task.load_extra_state(saved["extra"] or {}, saved["epoch"])
    set_rng_state(saved["rng"], task.generator)


def _run_epoch(task: Task, epoch: int, epochs: int, fitted: Fitted) -> dict[str, Any]:
    """One epoch of steps (timed; CUDA synchronised), then the evaluation when it is due; the metrics are
    appended to the curves (None for metrics an epoch did not measure)."""
    began = time.perf_counter()
    if task.model is not None:
        task.model.train()
    metrics = dict(task.train_epoch(epoch))
    if task.scheduler is not None:
        task.scheduler.step()
    if task.device.type == "cuda":
        torch.cuda.synchronize(task.device)
    fitted.times.append(time.perf_counter() - began)
    every = task.evaluate_every
    if every and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
        if task.model is not None:
            task.model.eval()
        with torch.no_grad():
            metrics.update(task.evaluate())
    earlier = len(fitted.times) - 1  # epochs before this one (resumed ones included)
    for key in [*fitted.history, *(k for k in metrics if k not in fitted.history)]:
        fitted.history.setdefault(key, [None] * earlier).append(metrics.get(key))
    return metrics


def _show(bar: Any, metrics: dict[str, Any], tags: dict[str, Any], selector: EpochSelector | None) -> None:
    if bar is None:
        return
    bar.update(1)
    shown = {k: f"{v:.3f}" for k, v in metrics.items() if k in ("val_acc", "test_acc", "val_auc")}
    if not shown and metrics.get("train_loss") is not None:  # trainers without evaluation: the loss
        shown["loss"] = f"{metrics['train_loss']:.4f}"
    if selector is not None:
        shown["best"] = f"{selector.best[selector.score]:.3f}"
    bar.set_postfix(**{k: str(v) for k, v in tags.items()}, **shown)


def resumable(path: Path | None, resume: bool, cfg: Any, kind: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` when resuming (None otherwise, or when there is none), checked against the
    config ``cfg`` and the trainer ``kind`` that wrote it.

    Raises:
        ConfigError: A checkpoint of another trainer, another graphscale version, or other settings.
    """
    if not resume or path is None:
        return None
    saved = load_checkpoint(path)
    if saved is None:
        return None
    if saved.get("format") != FORMAT or saved.get("kind") != kind:
        written = saved.get("kind") or saved.get("format")
        raise ConfigError(f"--resume: checkpoint {path} was written by another trainer or version ({written!r}), "
                          f"got a {kind} config. Resume with the same config and version, or pick a new --out "
                          "folder.")
    check_resume(saved["config"], cfg, path)
    return saved


def single_run(run_fn: Callable[..., tuple[dict[str, Any], Any]], epochs: int, desc: str, progress: bool,
               **kwargs: Any) -> dict[str, Any]:
    """The result of one run of ``run_fn(..., bar=...)`` (a trainer's engine run) outside :func:`run_seeds`,
    with its own progress bar of ``epochs`` epochs."""
    bar = progress_bar(epochs, desc, progress)
    try:
        return run_fn(bar=bar, **kwargs)[0]
    finally:
        bar.close()


RunFunction = Callable[[int, "dict[str, Any] | None", Checkpoints, Any],
                       "tuple[dict[str, Any], dict[str, list[float]]]"]


def run_seeds(runs: int, one_run: RunFunction, *, cfg: Any, kind: str, header: dict[str, Any],
              out_dir: Path | None, resume: bool, epochs: int, every: int, desc: str, progress: bool,
              name: Callable[[int], str] = lambda run: f"run{run}",
              group: tuple[int, int] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, list[float]]]]:
    """Run ``one_run(run, saved, checkpoints, bar) -> (result, history)`` for ``run`` in ``range(runs)``.

    Each run checkpoints to ``<out_dir>/checkpoints/<name(run)>.pt`` (``header`` plus ``kind`` and ``run`` in
    every file); with ``resume`` a finished run is read back instead of trained and an unfinished one is
    handed to ``one_run`` as ``saved``. One progress bar covers ``runs * epochs`` epochs. ``group``
    ``(rank, world size)``: a rank of a torchrun group, whose run checkpoints are shards plus a manifest
    under ``<out_dir>/checkpoints/<name(run)>/`` (:mod:`graphscale.train.shards`).
    """
    results: list[dict[str, Any]] = []
    curves: list[dict[str, list[float]]] = []
    bar = progress_bar(runs * epochs, desc, progress)
    try:
        for run in range(runs):
            checkpoints, saved = _checkpoints_of(out_dir, name(run), group, resume, cfg, kind, every,
                                                 {**header, "kind": kind, "run": run})
            if saved is not None and saved["done"]:
                bar.update(epochs)
                results.append(saved["result"])
                curves.append(saved["history"])
                continue
            result, history = one_run(run, saved, checkpoints, bar)
            results.append(result)
            curves.append(history)
    finally:
        bar.close()
    return results, curves


def _checkpoints_of(out_dir: Path | None, name: str, group: tuple[int, int] | None, resume: bool, cfg: Any,
                    kind: str, every: int, header: dict[str, Any]) -> tuple[Checkpoints, dict[str, Any] | None]:
    """One run's checkpoints and, with ``resume``, the checkpoint to continue from (see :func:`run_seeds`)."""
    if group is None:
        path = out_dir / "checkpoints" / f"{name}.pt" if out_dir is not None else None
        return Checkpoints(path, every, header), resumable(path, resume, cfg, kind)
    from .shards import ShardedCheckpoints, load_shard

    folder = out_dir / "checkpoints" / name
    saved = load_shard(folder, group[0], group[1], cfg, kind) if resume else None
    return ShardedCheckpoints(folder, every, header, rank=group[0], world_size=group[1]), saved
