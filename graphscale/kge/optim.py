"""Row-sparse optimisers and learning-rate schedules for embedding tables.

A step of KGE training touches a few thousand of the table's rows (the batch's entities and its
negatives). A dense optimiser would still read and write every row of the weights and of its state
(``3 x N x D`` floats for Adam) each step; with dimension 1000 that alone costs more than the scoring.
The optimisers here update only the rows that received a gradient, as ``torch.optim.SparseAdam`` and
PyTorch-BigGraph do ("lazy" Adam: the moments of untouched rows are not decayed; Adagrad is unaffected).

An :class:`EmbeddingTable` keeps the weights and their optimiser state side by side, so a partition's rows
(weights + state) can be moved to a device and back as one unit by the partitioned trainer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..saga.kernels.cpu import num_threads

OPTIMIZERS = ("adam", "adagrad")
ADAM_BETAS = (0.9, 0.999)
EPS = {"adam": 1e-8, "adagrad": 1e-10}


@dataclass
class EmbeddingTable:
    """Weights ``[n, D]`` and optimiser state of the same shape (``m``, ``v`` for Adam; ``sum`` for Adagrad)."""

    weight: Tensor
    state: dict[str, Tensor] = field(default_factory=dict)

    @classmethod
    def create(cls, weight: Tensor, optimizer: str, adagrad_init: float = 0.0) -> EmbeddingTable:
        if optimizer == "adam":
            return cls(weight, {"m": torch.zeros_like(weight), "v": torch.zeros_like(weight)})
        return cls(weight, {"sum": torch.full_like(weight, adagrad_init)})

    def rows(self, start: int, stop: int) -> EmbeddingTable:
        """A view of rows ``start:stop`` (weights and state)."""
        return EmbeddingTable(self.weight[start:stop], {k: v[start:stop] for k, v in self.state.items()})

    def gather(self, index: Tensor, device: torch.device) -> EmbeddingTable:
        """A copy of rows ``index`` on ``device``."""
        return EmbeddingTable(self.weight[index].to(device), {k: v[index].to(device) for k, v in self.state.items()})

    def scatter_(self, index: Tensor, part: EmbeddingTable) -> None:
        """Write ``part`` (from :meth:`gather`) back into rows ``index``."""
        self.weight[index] = part.weight.to(self.weight.device)
        for key, value in self.state.items():
            value[index] = part.state[key].to(value.device)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _adam_rows(weight, m, v, rows, grad, step_size, beta1, beta2, eps):
    for i in prange(grad.shape[0]):
        row = rows[i]
        for j in range(grad.shape[1]):
            g = grad[i, j]
            mj = beta1 * m[row, j] + (1.0 - beta1) * g
            vj = beta2 * v[row, j] + (1.0 - beta2) * g * g
            m[row, j] = mj
            v[row, j] = vj
            weight[row, j] -= step_size * mj / (np.sqrt(vj) + eps)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _adagrad_rows(weight, total, rows, grad, lr, eps):
    for i in prange(grad.shape[0]):
        row = rows[i]
        for j in range(grad.shape[1]):
            g = grad[i, j]
            sj = total[row, j] + g * g
            total[row, j] = sj
            weight[row, j] -= lr * g / (np.sqrt(sj) + eps)


def _numba_ok(table: EmbeddingTable, grad: Tensor) -> bool:
    tensors = [table.weight, grad, *table.state.values()]
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors)


@torch.no_grad()
def sparse_step(table: EmbeddingTable, rows: Tensor | None, grad: Tensor, lr: float, step: int,
                optimizer: str) -> None:
    """Update ``table`` rows ``rows`` (unique ids; None = every row, in place) with their gradients ``grad``.

    Adam uses the global ``step`` (1-based) for bias correction, as ``torch.optim.SparseAdam`` does.

    Shapes:
        rows: ``[U]`` int64, unique; grad: ``[U, D]`` (``[n, D]`` when rows is None).
    """
    weight = table.weight
    beta1, beta2 = ADAM_BETAS
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    if _numba_ok(table, grad):
        index = np.arange(grad.shape[0], dtype=np.int64) if rows is None else rows.numpy()
        num_threads(grad.numel() * 8)
        if optimizer == "adam":
            _adam_rows(weight.numpy(), table.state["m"].numpy(), table.state["v"].numpy(), index, grad.numpy(),
                       step_size, beta1, beta2, EPS["adam"])
        else:
            _adagrad_rows(weight.numpy(), table.state["sum"].numpy(), index, grad.numpy(), lr, EPS["adagrad"])
        return
    if optimizer == "adam":
        if rows is None:
            m = table.state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
            v = table.state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            weight.addcdiv_(m, v.sqrt().add_(EPS["adam"]), value=-step_size)
            return
        m = table.state["m"][rows].mul_(beta1).add_(grad, alpha=1 - beta1)
        v = table.state["v"][rows].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        table.state["m"][rows] = m
        table.state["v"][rows] = v
        weight[rows] = weight[rows].addcdiv_(m, v.sqrt_().add_(EPS["adam"]), value=-step_size)
        return
    if rows is None:
        total = table.state["sum"].addcmul_(grad, grad)
        weight.addcdiv_(grad, total.sqrt().add_(EPS["adagrad"]), value=-lr)
        return
    total = table.state["sum"][rows].addcmul_(grad, grad)
    table.state["sum"][rows] = total
    weight[rows] = weight[rows].addcdiv_(grad, total.sqrt_().add_(EPS["adagrad"]), value=-lr)


def learning_rate(step: int, total_steps: int, *, lr: float, schedule: str = "constant", warmup_steps: int = 0,
                  min_factor: float = 0.0, step_every: int = 0, gamma: float = 0.1) -> float:
    """Learning rate at 0-based ``step`` of ``total_steps``: linear warm-up, then constant, cosine or step decay."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return lr * (min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress)))
    if schedule == "step" and step_every > 0:
        return lr * gamma ** ((step - warmup_steps) // step_every)
    return lr
