"""Evaluation metrics and resource measurements shared by the trainers."""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Sequence

import torch
from torch import Tensor


def accuracy(logits: Tensor, y: Tensor, mask: Tensor | None = None) -> float:
    """Fraction of rows whose arg-max class equals the label (0.0 for an empty selection).

    Args:
        logits: Class scores.
        y: Integer class ids.
        mask: Optional boolean row selection.

    Shapes:
        logits: ``[N, C]``; y: ``[N]`` int64; mask: ``[N]`` bool.
    """
    if mask is not None:
        logits, y = logits[mask], y[mask]
    if y.numel() == 0:
        return 0.0
    return float((logits.argmax(dim=-1) == y).float().mean())


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (``numpy.std`` convention, as in the GIN paper); (nan, nan) if empty."""
    if len(values) == 0:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_memory_mb(device: torch.device | str) -> float:
    """Peak memory in MiB: ``torch.cuda.max_memory_allocated`` on a GPU, peak RSS on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()
