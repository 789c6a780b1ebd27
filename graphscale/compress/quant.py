r"""Degree-Quant primitives (Tailor, Fernandez-Marques & Lane, "Degree-Quant: Quantization-Aware Training for
Graph Neural Networks", ICLR 2021, arXiv:2008.05000).

* Uniform affine quantization with ``N`` bits and its straight-through fake quantization (Sec. 2):

  .. math::
      q = \operatorname{clamp}(\lfloor x / s \rceil + z,\ q_{min}, q_{max}), \qquad \hat x = s\,(q - z)

  with the gradient of :math:`\hat x` w.r.t. :math:`x` taken as 1 where :math:`\lfloor x / s \rceil + z` lies in
  :math:`[q_{min}, q_{max}]` and 0 outside (clipped straight-through estimator).
* Range tracking by percentiles (Sec. 3.2): the ``percentile`` / ``1 - percentile`` quantiles of the observed
  values (robust min / max, not the outliers that high-degree nodes produce), smoothed with ``momentum``.
* Stochastic protection (Sec. 3.1, Alg. 1): during training node ``i`` is protected (its tensors stay in full
  precision) with probability ``p_i``, linear in its in-degree between ``p_min`` (lowest degree) and ``p_max``
  (highest): high-degree nodes, whose aggregates have the widest ranges, are protected more often. At
  inference nothing is protected: every tensor is quantized.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError

BITS = {"int8": 8, "int4": 4}
PERCENTILE_SAMPLE = 1 << 16  # values a percentile is computed from (a strided sample of larger tensors)


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize: ``bits``, protection probabilities ``p_min`` / ``p_max``, the tracked ``percentile``
    (0.001 = the 0.1% / 99.9% quantiles) and the range ``momentum``."""

    bits: int = 8
    p_min: float = 0.0
    p_max: float = 0.1
    percentile: float = 0.001
    momentum: float = 0.1

    def __post_init__(self) -> None:
        if self.bits not in (4, 8):
            raise ConfigError(f"quant bits: expected 4 or 8, got {self.bits}. Use int8 or int4.")
        if not 0.0 <= self.p_min <= self.p_max <= 1.0:
            raise ConfigError(f"quant protection: expected 0 <= p_min <= p_max <= 1, got p_min={self.p_min}, "
                              f"p_max={self.p_max}. Set train.quant_p_min / train.quant_p_max.")
        if not 0.0 <= self.percentile < 0.5:
            raise ConfigError(f"quant percentile: expected a fraction in [0, 0.5), got {self.percentile}. "
                              "0.001 tracks the 0.1% / 99.9% quantiles.")
        if not 0.0 < self.momentum <= 1.0:
            raise ConfigError(f"quant momentum: expected a value in (0, 1], got {self.momentum}.")


def signed_range(bits: int, symmetric: bool = False) -> tuple[int, int]:
    """``(q_min, q_max)`` of signed ``bits``-bit integers; symmetric drops ``-2^(b-1)`` (weights)."""
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return (low + 1 if symmetric else low), high


def affine_params(low: Tensor, high: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """Scale and zero point ``(s, z)`` mapping ``[low, high]`` (widened to hold 0) onto signed ``bits``-bit
    integers. Shapes: scalars in, scalar float32 ``s`` and integer-valued float32 ``z`` out."""
    qmin, qmax = signed_range(bits)
    low, high = torch.clamp(low, max=0.0), torch.clamp(high, min=0.0)
    scale = torch.clamp((high - low) / (qmax - qmin), min=1e-8)
    zero = torch.clamp(qmin - torch.round(low / scale), qmin, qmax)
    return scale, zero


def symmetric_scale(weight: Tensor, bits: int) -> Tensor:
    """Per-tensor scale of symmetric weight quantization: ``max|w| / q_max`` (zero point 0). Scalar."""
    return torch.clamp(weight.detach().abs().max(), min=1e-8) / signed_range(bits, True)[1]


def quantize(x: Tensor, scale: Tensor, zero: Tensor, bits: int, symmetric: bool = False) -> Tensor:
    """``clamp(round(x / s) + z)`` as int8 (int4 values live in int8 storage). Shapes: any -> same, int8."""
    qmin, qmax = signed_range(bits, symmetric)
    return torch.clamp(torch.round(x / scale) + zero, qmin, qmax).to(torch.int8)


def fake_quant(x: Tensor, scale: Tensor, zero: Tensor, bits: int, symmetric: bool = False) -> Tensor:
    """``s * (clamp(round(x / s) + z) - z)`` in one fused op (``torch.fake_quantize_per_tensor_affine``) with
    the clipped straight-through gradient: 1 where ``round(x / s) + z`` lies in ``[q_min, q_max]``, else 0.
    Shapes: any -> same."""
    qmin, qmax = signed_range(bits, symmetric)
    return torch.fake_quantize_per_tensor_affine(x, scale.reshape(()).float(), zero.reshape(()).to(torch.int32),
                                                 qmin, qmax)


def percentile_range(x: Tensor, percentile: float) -> tuple[Tensor, Tensor]:
    """The ``percentile`` and ``1 - percentile`` quantiles of ``x`` (all values; a strided sample of
    ``PERCENTILE_SAMPLE`` values for larger tensors). 0 gives the exact min / max. Scalars."""
    flat = x.detach().reshape(-1)
    if flat.numel() == 0:
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        return zero, zero
    if percentile == 0.0:
        return flat.min(), flat.max()
    if flat.numel() > PERCENTILE_SAMPLE:
        flat = flat[:: flat.numel() // PERCENTILE_SAMPLE]
    count = flat.numel()
    low_k = max(1, min(count, round(percentile * (count - 1)) + 1))
    high_k = max(1, min(count, round((1.0 - percentile) * (count - 1)) + 1))
    return flat.kthvalue(low_k).values, flat.kthvalue(high_k).values


class RangeTracker(nn.Module):
    """Percentile range of one activation tensor with momentum, and its fake quantization.

    Training: ``lo <- (1 - m) lo + m q_p(x)``, ``hi <- (1 - m) hi + m q_{1-p}(x)`` (the first observation sets
    them), then ``x`` is fake-quantized with the updated range except the rows ``protect`` marks, which pass in
    full precision. Eval: the tracked range, every row quantized.

    Shapes:
        x: ``[R, ...]``; protect: ``[R]`` bool or None; returns the same shape as ``x``.
    """

    def __init__(self, spec: QuantSpec) -> None:
        super().__init__()
        self.spec = spec
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def observe(self, x: Tensor) -> None:
        """Update the tracked range with the percentiles of ``x``."""
        low, high = percentile_range(x, self.spec.percentile)
        low, high = low.float(), high.float()
        if not bool(self.seen):
            self.low.copy_(low)
            self.high.copy_(high)
            self.seen.fill_(True)
            return
        m = self.spec.momentum
        self.low.mul_(1 - m).add_(m * low)
        self.high.mul_(1 - m).add_(m * high)

    def params(self) -> tuple[Tensor, Tensor]:
        """``(scale, zero point)`` of the tracked range."""
        return affine_params(self.low, self.high, self.spec.bits)

    def forward(self, x: Tensor, protect: Tensor | None = None) -> Tensor:
        if self.training:
            self.observe(x)
        quantized = fake_quant(x, *self.params(), self.spec.bits)
        if self.training and protect is not None:
            keep = protect.view(-1, *([1] * (x.dim() - 1)))
            return torch.where(keep, x, quantized)
        return quantized

    def extra_repr(self) -> str:
        return f"bits={self.spec.bits}, percentile={self.spec.percentile}, momentum={self.spec.momentum}"


def protection_probabilities(in_degrees: Tensor, p_min: float, p_max: float) -> Tensor:
    """``p_i = p_min + (d_i - d_min) / (d_max - d_min) (p_max - p_min)``: linear in the in-degree ``d_i``
    (all ``p_min`` when every degree is equal). Shapes: ``[N]`` int -> ``[N]`` float32."""
    degrees = in_degrees.float()
    if degrees.numel() == 0:
        return degrees
    low, high = degrees.min(), degrees.max()
    if float(high - low) == 0.0:
        return torch.full_like(degrees, p_min)
    return p_min + (degrees - low) / (high - low) * (p_max - p_min)


def protection_mask(in_degrees: Tensor, p_min: float, p_max: float, generator: torch.Generator | None = None) -> Tensor:
    """A Bernoulli draw of :func:`protection_probabilities`: ``[N]`` bool, True = kept in full precision."""
    probs = protection_probabilities(in_degrees, p_min, p_max)
    return torch.rand(probs.shape, generator=generator, device=probs.device) < probs


class QuantContext:
    """State shared by the quantized layers of one model: the spec, whether quantization is on (off: the
    float model, for the FP32 baseline of the same weights) and the protection mask of the current forward."""

    def __init__(self, spec: QuantSpec) -> None:
        self.spec = spec
        self.enabled = True
        self.mask: Tensor | None = None  # [N] bool of the graph being run (training only)


class WeightFakeQuant(nn.Module):
    """A parametrization (``torch.nn.utils.parametrize``): the layer reads its weight fake-quantized,
    symmetric per tensor (zero point 0), so the layer's own math runs on quantized weights. Shapes: any."""

    def __init__(self, context: QuantContext) -> None:
        super().__init__()
        self.context = context

    def forward(self, weight: Tensor) -> Tensor:
        if not self.context.enabled:
            return weight
        bits = self.context.spec.bits
        return fake_quant(weight, symmetric_scale(weight, bits), torch.zeros((), device=weight.device), bits,
                          symmetric=True)


__all__ = ["BITS", "QuantContext", "QuantSpec", "RangeTracker", "WeightFakeQuant", "affine_params",
           "fake_quant", "percentile_range", "protection_mask", "protection_probabilities", "quantize",
           "signed_range", "symmetric_scale"]
