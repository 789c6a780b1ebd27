"""Metrics: accuracy, mean/std, peak memory."""

import math
import os

import pytest
import torch

from graphscale.train.metrics import accuracy, mean_std, peak_memory_mb, peak_rss_mb


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, y) == 0.75
    assert accuracy(logits, y, torch.tensor([False, False, True, False])) == 0.0
    assert accuracy(logits, y, torch.zeros(4, dtype=torch.bool)) == 0.0


def test_mean_std():
    mean, std = mean_std([0.8, 0.9])
    assert mean == pytest.approx(0.85) and std == pytest.approx(0.05)
    assert all(math.isnan(v) for v in mean_std([]))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_peak_rss_is_at_least_current_rss():
    with open("/proc/self/status") as handle:
        current_kb = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    assert peak_rss_mb() >= current_kb / 1024 - 1
    assert peak_memory_mb("cpu") == pytest.approx(peak_rss_mb(), rel=0.05)
