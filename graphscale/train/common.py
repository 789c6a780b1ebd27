"""Pieces shared by the trainers: device, optimizer, LR schedule, resume checks, progress bar."""

from __future__ import annotations

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


def progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """tqdm bar on stderr (the CLI keeps stdout for results)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=True, dynamic_ncols=True,
                mininterval=0.5)
