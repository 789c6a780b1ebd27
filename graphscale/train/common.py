"""Pieces shared by the node and graph trainers: device, optimizer, LR schedule, epoch selection."""

from __future__ import annotations

import math
import sys
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ..config import RunConfig, TrainConfig, to_dict
from ..config.registry import Registry
from ..errors import ConfigError
from .runtime import check_same_settings

OPTIMIZERS: Registry[type[torch.optim.Optimizer]] = Registry("train.optimizer")
OPTIMIZERS.register("adam", torch.optim.Adam)
OPTIMIZERS.register("adamw", torch.optim.AdamW)
OPTIMIZERS.register("sgd", torch.optim.SGD)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a ConfigError."""
    name = str(name).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: expected cpu, cuda, cuda:N or auto, got {name!r}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: expected an available device, got {name!r} but no CUDA device is "
                          "visible. Use --device cpu (or auto).")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"train.device: expected cpu, cuda, cuda:N or auto, got {name!r}.")
    return device


def first_layer_prefix(model: nn.Module) -> str:
    """Name prefix of the first layer's parameters (``"layers.0."``, ``"conv1."``).

    The first layer is the module owning the first registered parameter: its name is cut after the
    first numeric component (a ModuleList index) or, without one, after the first component.
    """
    names = [name for name, _ in model.named_parameters()]
    if not names:
        return ""
    parts = names[0].split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit():
            return ".".join(parts[:i + 1]) + "."
    return parts[0] + "." if len(parts) > 1 else parts[0]


def build_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    """Optimizer of ``train.optimizer``; with ``weight_decay_first_layer_only`` only the first layer decays."""
    cls = OPTIMIZERS.get(train.optimizer)
    params = [p for p in model.parameters() if p.requires_grad]
    if train.weight_decay_first_layer_only and train.weight_decay > 0:
        prefix = first_layer_prefix(model)
        first = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(prefix)]
        rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(prefix)]
        groups: Any = [{"params": first, "weight_decay": train.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    else:
        groups = [{"params": params, "weight_decay": train.weight_decay}]
    return cls(groups, lr=train.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.StepLR | None:
    """Step schedule (lr *= lr_gamma every lr_step epochs), or None when ``lr_step`` is 0."""
    if train.lr_step <= 0:
        return None
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=train.lr_step, gamma=train.lr_gamma)


def fingerprint(cfg: RunConfig) -> dict[str, Any]:
    """The parts of a config a resumed run must share with the interrupted one (all but output/device)."""
    data = to_dict(cfg)
    data.pop("output"), data.pop("expected")
    data["train"] = {k: v for k, v in data["train"].items() if k != "device"}
    return data


def check_resume(saved: dict[str, Any], cfg: RunConfig, path: Any) -> None:
    """Raise ConfigError when a checkpoint (or config.yaml) was written under a different config."""
    check_same_settings(saved, fingerprint(cfg), path)


class EpochSelector:
    """Best-epoch tracking and early stopping on validation metrics.

    ``select``: ``val_acc`` (higher accuracy; ties broken by lower loss), ``val_loss`` (lower loss), or
    ``gat`` (Veličković et al. reference code: patience counts epochs where neither accuracy nor loss
    reached a new best; the kept epoch is the last one where both did), or ``last`` (no selection: the
    final epoch is kept, as in the SGC reference code). ``patience`` 0 never stops.
    """

    def __init__(self, select: str, patience: int) -> None:
        self.select, self.patience = select, patience
        self.best: dict[str, Any] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.acc_max, self.loss_min, self.bad_epochs = -math.inf, math.inf, 0

    def _improved(self, metrics: dict[str, float]) -> tuple[bool, bool]:
        """``(keep this epoch, reset patience)``."""
        acc, loss = metrics["val_acc"], metrics["val_loss"]
        if not self.best or self.select == "last":
            return True, True
        best_acc, best_loss = self.best["val_acc"], self.best["val_loss"]
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
        self.acc_max = max(self.acc_max, metrics["val_acc"])
        self.loss_min = min(self.loss_min, metrics["val_loss"])
        self.bad_epochs = 0 if reset else self.bad_epochs + 1
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best), "best_state": self.best_state, "acc_max": self.acc_max,
                "loss_min": self.loss_min, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_state = dict(state["best"]), state["best_state"]
        self.acc_max, self.loss_min, self.bad_epochs = state["acc_max"], state["loss_min"], state["bad_epochs"]


def progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """tqdm bar on stderr (the CLI keeps stdout for results)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=True, dynamic_ncols=True,
                mininterval=0.5)
