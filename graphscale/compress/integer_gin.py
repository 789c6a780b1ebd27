"""Integer inference of a Degree-Quant GIN graph classifier (:class:`graphscale.nn.graph_models.GIN` under
:mod:`.qat`), as :mod:`.integer` does it for GCN.

Per GIN-0 layer (``eps = 0``): the quantized input rows are summed over the graph with self-loops in int32
(``(1 + 0) x_v + sum_u x_u``, :func:`graphscale.saga.integer.int_aggregate_requant`) and requantized to the
aggregate's range; the MLP's two linear maps are ``int8 x int8 -> int32`` matmuls (``torch._int_mm``). Batch
norm (eval statistics), ReLU, the sum readout and the per-layer linear heads (on their int8 weights read back as
float) stay in float, as in the QAT model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph
from ..nn.conv.normalization import with_self_loops
from ..nn.graph_models import GIN
from ..nn.pool import readout
from ..saga.integer import int_aggregate_requant
from .integer import _params, int_linear, requantize
from .qat import QGINConv, QuantizedModel
from .quant import quantize, symmetric_scale


class IntegerLinear(nn.Module):
    """An ``nn.Linear`` (read through its weight parametrization) as int8 weights: ``(q - z) W_q^T`` in int32,
    dequantized. Shapes: q ``[N, F_in]`` int8 -> ``[N, F_out]`` float32 (bias added)."""

    def __init__(self, linear: nn.Linear, bits: int) -> None:
        super().__init__()
        weight = linear.parametrizations.weight.original.detach()
        self.scale = float(symmetric_scale(weight, bits))
        q_weight = quantize(weight, torch.tensor(self.scale), torch.zeros(()), bits, symmetric=True)
        self.register_buffer("weight_t", q_weight.t().contiguous())
        self.register_buffer("column_sums", q_weight.to(torch.int32).sum(1, dtype=torch.int32))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, q: Tensor, params: tuple[float, int]) -> Tensor:
        out = int_linear(q, params[1], self.weight_t, self.column_sums).to(torch.float32) * (params[0] * self.scale)
        return out if self.bias is None else out + self.bias


class IntegerGINLayer(nn.Module):
    """One GIN-0 layer with the default MLP ``Linear -> BatchNorm -> ReLU -> Linear`` on integers.

    Shapes: x ``[N, F_in]`` float; returns the dequantized layer output ``[N, F_out]`` float32.
    """

    def __init__(self, layer: QGINConv) -> None:
        super().__init__()
        mlp, bits = layer.conv.mlp, layer.context.spec.bits
        expected = (nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear)
        kinds = [type(m) for m in mlp] if isinstance(mlp, nn.Sequential) else []
        if len(kinds) != 4 or not all(isinstance(m, k) for m, k in zip(mlp, expected)) or float(layer.conv.eps) != 0:
            raise ConfigError("to_integer: expected GIN-0 layers with the MLP Linear -> BatchNorm -> ReLU -> Linear, "
                              f"got eps {float(layer.conv.eps)} and {[k.__name__ for k in kinds]}. Build it with "
                              "learn_eps false.")
        self.bits, self.norm = bits, mlp[1]
        self.first, self.second = IntegerLinear(mlp[0], bits), IntegerLinear(mlp[3], bits)
        self.input, self.aggregate = _params(layer.q_input), _params(layer.q_aggregate)
        self.hidden, self.output = _params(layer.q_hidden[0]), _params(layer.q_output)

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        looped = with_self_loops(graph)
        q_x = requantize(x.float(), self.input, self.bits)
        scale = torch.full((graph.num_nodes,), self.input[0])
        q_a = int_aggregate_requant(looped, q_x, self.input[1], scale, *self.aggregate, self.bits)
        hidden = F.relu(self.norm(self.first(q_a, self.aggregate)))
        q_h = requantize(hidden, self.hidden, self.bits)
        q_out = requantize(self.second(q_h, self.hidden), self.output, self.bits)
        return (q_out.to(torch.float32) - self.output[1]) * self.output[0]


class IntegerGIN(nn.Module):
    """The GIN graph classifier on integers: :class:`IntegerGINLayer` s, batch norm and ReLU after each, the
    readout of every layer's states into its linear head (int8 weights read back as float), heads summed.

    Shapes: x ``[N, F_in]`` float; returns ``[B, C]`` float32 logits.
    """

    def __init__(self, model: GIN) -> None:
        super().__init__()
        self.layers = nn.ModuleList(IntegerGINLayer(conv) for conv in model.convs)
        self.norms, self.heads, self.readout = model.norms, model.heads, model.readout

    @torch.no_grad()
    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        states = [x.float()]
        for layer, norm in zip(self.layers, self.norms):
            states.append(F.relu(norm(layer(graph, states[-1]))))
        return sum(head(readout(graph, state, self.readout)) for head, state in zip(self.heads, states))


def gin_to_integer(model: QuantizedModel) -> IntegerGIN:
    """The integer inference model of a trained QAT GIN graph classifier.

    Raises:
        ConfigError: Not a quantized GIN graph model, or GIN layers other than GIN-0 with the default MLP.
    """
    if not isinstance(model, QuantizedModel) or not isinstance(model.model, GIN):
        raise ConfigError(f"gin_to_integer: expected a quantized GIN graph model, got "
                          f"{type(getattr(model, 'model', model)).__name__}.")
    return IntegerGIN(model.model).eval()


__all__ = ["IntegerGIN", "IntegerGINLayer", "IntegerLinear", "gin_to_integer"]
