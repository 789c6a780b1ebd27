"""Degree-Quant primitives: fake quantization against hand-computed values, the STE gradient, the percentile
range tracker, and the degree-based protection probabilities and masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphscale.compress.quant import (
    QuantSpec,
    RangeTracker,
    affine_params,
    fake_quant,
    percentile_range,
    protection_mask,
    protection_probabilities,
    quantize,
    signed_range,
    symmetric_scale,
)
from graphscale.errors import ConfigError


def test_fake_quant_rounds_and_clamps_like_the_hand_reference():
    # 4 bits: q in [-8, 7]; scale 0.5, zero point 2: representable [-5.0, 2.5]
    x = torch.tensor([-6.0, -5.0, -0.2, 0.0, 0.74, 1.3, 2.5, 2.6, 3.0], requires_grad=True)
    scale, zero = torch.tensor(0.5), torch.tensor(2.0)
    out = fake_quant(x, scale, zero, 4)
    expected = [-5.0, -5.0, 0.0, 0.0, 0.5, 1.5, 2.5, 2.5, 2.5]   # round(x / 0.5) + 2, clamped, back
    assert out.tolist() == expected
    assert quantize(x.detach(), scale, zero, 4).tolist() == [-8, -8, 2, 2, 3, 5, 7, 7, 7]
    out.sum().backward()  # clipped straight-through: 1 where round(x / s) + z is in [-8, 7], 0 outside
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_affine_params_map_the_range_and_zero_exactly():
    scale, zero = affine_params(torch.tensor(-1.0), torch.tensor(3.0), 8)
    assert scale.item() == pytest.approx(4 / 255) and zero.item() == -128 + 64
    assert fake_quant(torch.zeros(3), scale, zero, 8).tolist() == [0.0, 0.0, 0.0]
    # a range away from zero is widened to hold it
    scale, zero = affine_params(torch.tensor(2.0), torch.tensor(4.0), 8)
    assert scale.item() == pytest.approx(4 / 255) and zero.item() == -128
    assert signed_range(8) == (-128, 127) and signed_range(4, symmetric=True) == (-7, 7)


def test_symmetric_weight_quantization_has_zero_point_zero():
    w = torch.tensor([[-0.7, 0.1], [0.35, 0.0]])
    scale = symmetric_scale(w, 4)
    assert scale.item() == pytest.approx(0.1)
    assert quantize(w, scale, torch.zeros(()), 4, symmetric=True).tolist() == [[-7, 1], [4, 0]]


def test_percentile_range_matches_numpy_and_ignores_outliers():
    values = torch.arange(1001, dtype=torch.float32)
    low, high = percentile_range(values, 0.001)
    assert (low.item(), high.item()) == (np.quantile(values.numpy(), 0.001), np.quantile(values.numpy(), 0.999))
    spiked = torch.cat([torch.randn(5000, generator=torch.Generator().manual_seed(0)), torch.tensor([1e6])])
    assert percentile_range(spiked, 0.001)[1].item() < 10 and percentile_range(spiked, 0.0)[1].item() == 1e6


def test_range_tracker_momentum_and_eval_freeze():
    tracker = RangeTracker(QuantSpec(bits=8, percentile=0.0, momentum=0.25))
    tracker.train()
    tracker(torch.tensor([-1.0, 3.0]))
    assert (tracker.low.item(), tracker.high.item()) == (-1.0, 3.0)  # the first observation sets the range
    tracker(torch.tensor([-3.0, 7.0]))
    assert (tracker.low.item(), tracker.high.item()) == (-1.5, 4.0)  # 0.75 old + 0.25 new
    tracker.eval()
    out = tracker(torch.tensor([100.0]))
    assert tracker.high.item() == 4.0 and out.item() == pytest.approx(4.0, abs=0.02)  # clamped to the range


def test_protected_rows_stay_in_full_precision_in_training_only():
    tracker = RangeTracker(QuantSpec(bits=4, percentile=0.0))
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    protect = torch.tensor([True, False, True, False, False, True])
    tracker.train()
    out = tracker(x, protect)
    quantized = fake_quant(x, *tracker.params(), 4)
    assert torch.equal(out[protect], x[protect]) and torch.equal(out[~protect], quantized[~protect])
    assert not torch.equal(quantized[protect], x[protect])   # 4 bits really changes them
    tracker.eval()
    assert torch.equal(tracker(x, protect), quantized)       # inference: no masks, everything quantized


def test_protection_probability_is_linear_in_the_in_degree():
    probs = protection_probabilities(torch.tensor([1, 2, 3, 5]), 0.1, 0.5)
    assert probs.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.5])
    assert protection_probabilities(torch.tensor([4, 4]), 0.05, 0.5).tolist() == pytest.approx([0.05, 0.05])
    degrees = torch.tensor([0] * 50 + [10] * 50 + [20] * 50)
    draws = torch.stack([protection_mask(degrees, 0.0, 0.6, torch.Generator().manual_seed(s)) for s in range(200)])
    low, middle, high = draws[:, :50].float().mean(), draws[:, 50:100].float().mean(), draws[:, 100:].float().mean()
    assert low == 0 and 0.25 < middle < 0.35 and 0.55 < high < 0.65


def test_spec_rejects_bad_settings():
    with pytest.raises(ConfigError, match="expected 4 or 8"):
        QuantSpec(bits=3)
    with pytest.raises(ConfigError, match="p_min <= p_max"):
        QuantSpec(p_min=0.5, p_max=0.1)
