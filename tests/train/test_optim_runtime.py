"""Trainer pieces: optimizer groups, first-layer weight decay, epoch selection, device, resume checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphscale import config
from graphscale.errors import ConfigError
from graphscale.train.loop import EpochSelector
from graphscale.train.optim import build_optimizer, build_scheduler, first_layer_prefix
from graphscale.train.runtime import check_resume, fingerprint, resolve_device


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 3), nn.Linear(3, 2)])


class Named(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Linear(4, 3)
        self.conv2 = nn.Linear(3, 2)


def test_first_layer_prefix():
    assert first_layer_prefix(Stack()) == "layers.0."
    assert first_layer_prefix(Named()) == "conv1."
    assert first_layer_prefix(nn.Linear(2, 2)) == "weight"


def test_weight_decay_on_first_layer_only():
    model = Stack()
    cfg = config.load(None, ["train.weight_decay=0.1", "train.weight_decay_first_layer_only=true", "train.lr=0.5"])
    opt = build_optimizer(model, cfg.train)
    assert isinstance(opt, torch.optim.Adam)
    decayed, free = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and free["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.layers[0].parameters()}
    assert {id(p) for p in free["params"]} == {id(p) for p in model.layers[1].parameters()}
    cfg = config.load(None, ["train.optimizer=SGD", "train.weight_decay=0.1"])
    opt = build_optimizer(model, cfg.train)
    assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups) == 1
    assert opt.param_groups[0]["weight_decay"] == 0.1


def test_step_schedule_halves_lr():
    model = Stack()
    cfg = config.load(None, ["train.lr=0.01", "train.lr_step=2", "train.lr_gamma=0.5"])
    opt = build_optimizer(model, cfg.train)
    sched = build_scheduler(opt, cfg.train)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    assert build_scheduler(opt, config.load(None).train) is None


def run_selector(select: str, patience: int, metrics: list[tuple[float, float]]) -> tuple[EpochSelector, int]:
    selector, model = EpochSelector(select, patience), nn.Linear(1, 1)
    for epoch, (acc, loss) in enumerate(metrics):
        with torch.no_grad():
            model.weight.fill_(epoch)
        if selector.update(epoch, {"val_acc": acc, "val_loss": loss, "test_acc": acc / 2}, model):
            return selector, epoch
    return selector, -1


def test_selector_val_acc_breaks_ties_by_loss_and_stops_after_patience():
    seq = [(0.5, 1.0), (0.7, 0.9), (0.7, 0.8), (0.7, 0.85), (0.6, 0.7), (0.65, 0.6), (0.9, 0.1)]
    selector, stopped = run_selector("val_acc", 3, seq)
    assert selector.best["epoch"] == 2 and selector.best["test_acc"] == 0.35
    assert stopped == 5  # epochs 3, 4, 5 did not improve
    assert float(selector.best_state["weight"]) == 2.0  # weights of the kept epoch


def test_selector_val_loss_and_no_patience():
    seq = [(0.5, 1.0), (0.9, 1.1), (0.4, 0.5), (0.95, 0.6)]
    selector, stopped = run_selector("val_loss", 0, seq)
    assert selector.best["epoch"] == 2 and stopped == -1


def test_selector_gat_rule():
    # patience resets when either metric reaches a new best; the kept epoch needs both.
    seq = [(0.5, 1.0), (0.6, 1.2), (0.55, 0.9), (0.6, 0.8), (0.5, 1.5), (0.5, 1.5)]
    selector, stopped = run_selector("gat", 2, seq)
    assert selector.best["epoch"] == 3 and stopped == 5


def test_selector_last_keeps_the_final_epoch():
    seq = [(0.9, 0.1), (0.5, 1.0), (0.4, 2.0)]
    selector, stopped = run_selector("last", 1, seq)
    assert selector.best["epoch"] == 2 and stopped == -1 and float(selector.best_state["weight"]) == 2.0


def test_selector_state_round_trip():
    seq = [(0.5, 1.0), (0.7, 0.9), (0.6, 0.95)]
    selector, _ = run_selector("val_acc", 5, seq)
    copy = EpochSelector("val_acc", 5)
    copy.load_state_dict(selector.state_dict())
    assert copy.best == selector.best and copy.bad_epochs == 1


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="train.device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


def test_check_resume_rejects_a_different_config():
    cfg = config.load(None, ["train.lr=0.01"])
    saved = fingerprint(cfg)
    check_resume(saved, config.load(None, ["train.lr=0.01", "train.device=cpu", "output.dir=x"]), "run0.pt")
    with pytest.raises(ConfigError, match=r"train.lr=0.01, got 0.02"):
        check_resume(saved, config.load(None, ["train.lr=0.02"]), "run0.pt")
