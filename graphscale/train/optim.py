"""Optimizers and learning-rate schedules of the node and graph trainers (``train.optimizer``, ``train.lr_step``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..config.registry import Registry

OPTIMIZERS: Registry[type[torch.optim.Optimizer]] = Registry("train.optimizer")
OPTIMIZERS.register("adam", torch.optim.Adam)
OPTIMIZERS.register("adamw", torch.optim.AdamW)
OPTIMIZERS.register("sgd", torch.optim.SGD)


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
