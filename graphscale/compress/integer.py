"""Integer inference of a Degree-Quant GCN (:mod:`.qat`): int8 weights and activations, int32 accumulation.

``to_integer(model)`` turns a trained :class:`~.qat.QuantizedModel` GCN stack into :class:`IntegerGCN`, which
computes what the QAT model computes in eval mode, with the two big operations on integers:

* the dense product ``q_x W_q^T`` as an ``int8 x int8 -> int32`` matmul (``torch._int_mm``), the input's zero
  point removed with the weight's column sums: ``sum_k (q_x - z) q_w = q_x q_w - z sum_k q_w``;
* the aggregation ``sum_{u -> v} (q_m[u] - z_m)`` over the self-looped graph in int32
  (:func:`graphscale.saga.integer.int_aggregate`: a numba kernel over the CSC rows on the CPU).

Between them the int32 accumulators are requantized with float multipliers (the tracked scales, the GCN
normalisation factors and the bias), as integer inference engines do. Weights are stored as int8 (int4
values are packed two per byte in :func:`model_bytes`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph
from ..nn.models import ConvStack
from ..saga.integer import int_aggregate_requant
from .qat import QGCNConv, QuantizedModel, split_norm
from .quant import RangeTracker, quantize, symmetric_scale


def int_linear(q: Tensor, zero: int, weight_t: Tensor, column_sums: Tensor) -> Tensor:
    """``(q - zero) @ weight_t`` in int32: ``torch._int_mm`` of int8 operands (exact; an int32 matmul where
    ``_int_mm`` refuses the shapes). Shapes: q ``[N, K]`` int8, weight_t ``[K, M]`` int8, column_sums ``[M]``
    int32; returns ``[N, M]`` int32."""
    try:
        acc = torch._int_mm(q, weight_t)
    except RuntimeError:
        acc = q.to(torch.int32) @ weight_t.to(torch.int32)
    return acc - (zero * column_sums).to(torch.int32) if zero else acc


def _params(tracker: RangeTracker) -> tuple[float, int]:
    """``(scale, zero point)`` of a trained tracker's range as Python numbers."""
    scale, zero = tracker.params()
    return float(scale), int(zero)


EMPTY = torch.zeros(0, dtype=torch.float32)


def requantize(acc: Tensor, stage: tuple[float, int], bits: int, *, mult: float = 1.0, offset: Tensor | None = None,
               rows: Tensor | None = None, bias: Tensor | None = None, relu: bool = False,
               then: tuple[float, int] | None = None) -> Tensor:
    """int8 ``q1 = quantize((acc - offset) * mult * rows + bias)`` with ``stage`` = (scale, zero point), or with
    ``then`` the requantization of ``relu(dequantize(q1))`` to ``then``: one pass (:mod:`.kernels`).

    Shapes:
        acc: ``[N, F]`` int32, int8 or float32; offset, bias: ``[F]``; rows: ``[N]``; returns ``[N, F]`` int8.
    """
    from .kernels import requantize_rows

    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    out = torch.empty(acc.shape, dtype=torch.int8)
    if offset is None:
        offset_np = torch.zeros(0, dtype=acc.dtype if acc.dtype != torch.int8 else torch.int32).numpy()
    else:
        offset_np = offset.to(torch.float32 if acc.is_floating_point() else torch.int32).contiguous().numpy()
    requantize_rows(acc.contiguous().numpy(), offset_np, (EMPTY if rows is None else rows.float()).contiguous().numpy(),
                    float(mult), (EMPTY if bias is None else bias.float()).contiguous().numpy(), float(stage[0]),
                    float(stage[1]), relu, float(then[0]) if then else 0.0, float(then[1]) if then else 0.0,
                    float(qmin), float(qmax), out.numpy())
    return out


class IntegerGCNLayer(nn.Module):
    """One GCN layer on integers (module docstring).

    Shapes:
        q_x: ``[N, F_in]`` int8 (quantized with ``self.input``); returns the next layer's int8 input
        ``[N, F_out]`` (ReLU applied) when ``then`` gives its (scale, zero point), else float32 logits.
    """

    def __init__(self, layer: QGCNConv) -> None:
        super().__init__()
        conv, bits = layer.conv, layer.context.spec.bits
        weight = conv.linear.parametrizations.weight.original.detach()   # [F_out, F_in] float
        self.bits, self.aggregation = bits, conv.stages().aggregation
        self.project_first = conv.out_dim < conv.in_dim
        self.weight_scale = float(symmetric_scale(weight, bits))
        q_weight = quantize(weight, torch.tensor(self.weight_scale), torch.zeros(()), bits, symmetric=True)
        self.register_buffer("weight_t", q_weight.t().contiguous())                  # [F_in, F_out] int8
        self.register_buffer("column_sums", q_weight.to(torch.int32).sum(1, dtype=torch.int32))        # [F_out] int32
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.input, self.message = _params(layer.q_input), _params(layer.q_message)
        self.aggregate, self.output = _params(layer.q_aggregate), _params(layer.q_output)

    def forward(self, graph: Graph, q_x: Tensor, then: tuple[float, int] | None = None) -> Tensor:
        prop, src_norm, dst_norm = split_norm(graph, self.aggregation)
        bits, (s_in, z_in), (s_a, z_a) = self.bits, self.input, self.aggregate
        if self.project_first:   # message = quantize(d_u^-1/2 (x W^T)_u) from the int32 product
            acc = int_linear(q_x, 0, self.weight_t, self.column_sums)
            q_m = requantize(acc, self.message, bits, mult=s_in * self.weight_scale, offset=z_in * self.column_sums,
                             rows=src_norm)
        else:                    # message = quantize(d_u^-1/2 x_u)
            q_m = requantize(q_x, self.message, bits, mult=s_in, offset=torch.full((q_x.shape[1],), z_in),
                             rows=src_norm)
        q_a = int_aggregate_requant(prop, q_m, self.message[1], dst_norm * self.message[0], s_a, z_a, bits)
        if self.project_first:
            acc, mult, offset = q_a, s_a, torch.full((q_a.shape[1],), z_a)
        else:
            acc = int_linear(q_a, 0, self.weight_t, self.column_sums)
            mult, offset = s_a * self.weight_scale, z_a * self.column_sums
        if then is not None:
            return requantize(acc, self.output, bits, mult=mult, offset=offset, bias=self.bias, relu=True, then=then)
        q_out = requantize(acc, self.output, bits, mult=mult, offset=offset, bias=self.bias)
        return (q_out.to(torch.float32) - self.output[1]) * self.output[0]


class IntegerGCN(nn.Module):
    """A GCN stack on integers: :class:`IntegerGCNLayer` s with ReLU between them (no dropout: inference).

    Shapes: x ``[N, F_in]`` float; returns ``[N, C]`` float32 logits.
    """

    def __init__(self, layers: list[IntegerGCNLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    @torch.no_grad()
    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        first = self.layers[0]
        q = requantize(x.float(), first.input, first.bits)
        for i, layer in enumerate(self.layers):
            then = self.layers[i + 1].input if i + 1 < len(self.layers) else None
            q = layer(graph, q, then)
        return q


def supports_integer(model: nn.Module) -> bool:
    """Whether :func:`to_integer` handles ``model``: a QuantizedModel of a GCN stack (ReLU between layers)."""
    inner = getattr(model, "model", None)
    return (isinstance(model, QuantizedModel) and isinstance(inner, ConvStack) and inner.activation is F.relu
            and all(isinstance(conv, QGCNConv) for conv in inner.convs))


def to_integer(model: QuantizedModel) -> IntegerGCN:
    """The integer inference model of a trained QAT GCN stack (its tracked ranges and weights, frozen).

    Raises:
        ConfigError: Not a quantized GCN stack (see :func:`supports_integer`).
    """
    if not supports_integer(model):
        raise ConfigError(f"to_integer: expected a quantized GCN stack (quantize_model of a gcn node model), got "
                          f"{type(getattr(model, 'model', model)).__name__}. The integer path covers GCN; GIN and "
                          "GAT run quantization-aware (simulated) only.")
    return IntegerGCN([IntegerGCNLayer(conv) for conv in model.model.convs]).eval()


def model_bytes(model: nn.Module, bits: int | None = None) -> int:
    """Bytes of a model's parameters: float32 (``bits`` None), or weight matrices at ``bits`` per value
    (packed) with biases, norms, the other vectors and the tracked activation ranges as 32-bit values and 8
    bytes of scale and zero point per quantized weight."""
    total = 0
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        matrix = tensor.dim() >= 2 or name.endswith(("attn_src.original", "attn_dst.original"))
        if bits is not None and matrix and "parametrizations" in name:
            total += (tensor.numel() * bits + 7) // 8 + 8
        elif bits is not None or "parametrizations" in name or not name.endswith(("low", "high")):
            total += tensor.numel() * 4
    return total


__all__ = ["IntegerGCN", "IntegerGCNLayer", "int_linear", "model_bytes", "supports_integer", "to_integer"]
