"""Quantization-aware training models of Degree-Quant (:mod:`.quant`): ``quantize_model`` wraps a built
GCN, GIN or GAT model so that the one training engine trains it as it trains the float model.

Where the fake quantizers sit (Tailor et al., ICLR 2021, Sec. 3 and Fig. 2), per message-passing layer:

* weights: every ``nn.Linear`` weight of the model (and GAT's attention vectors) is read through a
  parametrization that fake-quantizes it (symmetric, per tensor), so the layers' own math runs on them;
* layer input ``x``, messages (GCN: ``d_u^{-1/2} (x W)_u`` or ``d_u^{-1/2} x_u``, the rows that are summed;
  GIN: the input rows; GAT: the projected heads ``x W``), the aggregation output and the layer output: each
  through its own :class:`~.quant.RangeTracker`; GIN also the hidden activation of its MLP.

GCN runs the layer's declared SAGA stages (``conv.stages()``: ``pre`` -> sum over in-edges -> ``post``) with the
symmetric normalisation split into a source factor (on the messages) and a destination factor (on the
aggregate), so the sum itself is over integers in the integer model (:mod:`.integer`). GAT keeps its attention
logits, softmax and the attention weights in float (the messages it weighs and the aggregate are quantized).

Protection: :class:`QuantizedModel` draws one mask per forward in training (:func:`.quant.protection_mask`
over the in-degrees of the graph it runs on) shared by all layers; protected rows bypass every activation
quantizer. Mini-batches of sampled Blocks are not supported (full graphs and batched graphs are).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..errors import ConfigError
from ..graph import Block, Graph
from ..nn.conv import GATConv, GCNConv, GINConv
from ..nn.conv.gat import finish_heads
from ..nn.conv.normalization import with_self_loops
from ..nn.conv.stages import Aggregation, RowContext
from ..saga import edge_softmax, fn, saga
from .quant import QuantContext, QuantSpec, RangeTracker, WeightFakeQuant, protection_mask

SUPPORTED = "gcn, gin, gat"


def _check_graph(graph: Graph, x: Any, where: str) -> None:
    """Raise ConfigError for a Block or a ``(x_src, x_dst)`` pair: QAT layers run full (or batched) graphs."""
    if isinstance(graph, Block) or not isinstance(x, Tensor):
        raise ConfigError(f"{where}: expected a full graph and one feature tensor (Degree-Quant trains full-batch "
                          f"or on batched graphs), got {type(graph).__name__}. Use sampler none.")


def split_norm(graph: Graph, aggregation: Aggregation) -> tuple[Graph, Tensor, Tensor]:
    """The graph the sum runs on (self-loops added when declared) and the factors of its edge weights:
    ``w_uv = src[u] * dst[v]`` (GCN: ``d_out(u)^{-1/2}``, ``d_in(v)^{-1/2}``; mean: ``1``, ``1 / d_in(v)``).
    Cached on ``graph``. Shapes: ``src [N_src]``, ``dst [N_dst]`` float32."""
    def build() -> tuple[Graph, Tensor, Tensor]:
        prop = with_self_loops(graph) if aggregation.self_loops else graph
        deg_in, deg_out = prop.in_degrees().float(), prop.out_degrees().float()
        if aggregation.gcn:
            src = torch.where(deg_out > 0, deg_out.clamp(min=1).rsqrt(), torch.zeros_like(deg_out))
            dst = torch.where(deg_in > 0, deg_in.clamp(min=1).rsqrt(), torch.zeros_like(deg_in))
        else:
            src = torch.ones_like(deg_out)
            dst = 1.0 / deg_in.clamp(min=1) if aggregation.reduce == "mean" else torch.ones_like(deg_in)
        return prop, src, dst

    key = f"compress.split_norm.{aggregation.reduce}.{aggregation.self_loops}.{aggregation.gcn}"
    return graph.cached(key, build)


class QGCNConv(nn.Module):
    """A :class:`~graphscale.nn.conv.GCNConv` under quantization-aware training (module docstring).

    Shapes: graph with ``N`` nodes; x ``[N, F_in]``; returns ``[N, F_out]``.
    """

    def __init__(self, conv: GCNConv, context: QuantContext) -> None:
        super().__init__()
        self.conv, self.context = conv, context
        spec = context.spec
        self.q_input, self.q_message = RangeTracker(spec), RangeTracker(spec)
        self.q_aggregate, self.q_output = RangeTracker(spec), RangeTracker(spec)

    def forward(self, graph: Graph, x: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if not self.context.enabled:
            return self.conv(graph, x) if edge_weight is None else self.conv(graph, x, edge_weight=edge_weight)
        _check_graph(graph, x, "QGCNConv")
        if edge_weight is not None:
            raise ConfigError("train.quant: expected a graph without edge weights for a quantized GCN, got edge "
                              "weights. Drop the weight column of edges.csv.")
        mask, stages = self.context.mask, self.conv.stages()
        h = self.q_input(x, mask)
        prop, src_norm, dst_norm = split_norm(graph, stages.aggregation)
        message = self.q_message(stages.pre(h) * src_norm[:, None], mask)
        aggregate = saga(prop, src=message, apply_edge=fn.copy_src)
        aggregate = self.q_aggregate(aggregate * dst_norm[:, None], mask)
        return self.q_output(stages.finish(aggregate, h, None, RowContext(None)), mask)


class QGINConv(nn.Module):
    """A :class:`~graphscale.nn.conv.GINConv` under quantization-aware training: quantized input (the
    messages), ``(1 + eps) x_v + sum_u x_u`` quantized, the MLP with quantized hidden activations, quantized
    output. Shapes: x ``[N, F_in]``; returns ``[N, F_out]``."""

    def __init__(self, conv: GINConv, context: QuantContext) -> None:
        super().__init__()
        self.conv, self.context = conv, context
        spec = context.spec
        self.q_input, self.q_aggregate, self.q_output = RangeTracker(spec), RangeTracker(spec), RangeTracker(spec)
        linears = sum(isinstance(m, nn.Linear) for m in conv.mlp) if isinstance(conv.mlp, nn.Sequential) else 0
        self.q_hidden = nn.ModuleList(RangeTracker(spec) for _ in range(max(linears - 1, 0)))

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        if not self.context.enabled:
            return self.conv(graph, x)
        _check_graph(graph, x, "QGINConv")
        mask = self.context.mask
        h = self.q_input(x, mask)
        combined = (1 + self.conv.eps) * h + saga(graph, src=h, apply_edge=fn.copy_src)
        out = self.q_aggregate(combined, mask)
        if not isinstance(self.conv.mlp, nn.Sequential):
            return self.q_output(self.conv.mlp(out), mask)
        seen = 0
        for module in self.conv.mlp:
            if isinstance(module, nn.Linear):
                if seen > 0:
                    out = self.q_hidden[seen - 1](out, mask)
                seen += 1
            out = module(out)
        return self.q_output(out, mask)


class QGATConv(nn.Module):
    """A :class:`~graphscale.nn.conv.GATConv` under quantization-aware training: quantized input, projected
    heads (the messages) and aggregate and output; attention logits / softmax in float (module docstring).
    Shapes: x ``[N, F_in]``; returns ``[N, H * F]`` or ``[N, F]``."""

    def __init__(self, conv: GATConv, context: QuantContext) -> None:
        super().__init__()
        self.conv, self.context = conv, context
        spec = context.spec
        self.q_input, self.q_message = RangeTracker(spec), RangeTracker(spec)
        self.q_aggregate, self.q_output = RangeTracker(spec), RangeTracker(spec)

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        if not self.context.enabled:
            return self.conv(graph, x)
        _check_graph(graph, x, "QGATConv")
        conv, mask = self.conv, self.context.mask
        h_in = self.q_input(x, mask)
        heads = self.q_message(conv.linear(conv.feat_drop(h_in)), mask).view(-1, conv.num_heads, conv.out_dim)
        el = (heads * conv.attn_src).sum(-1, keepdim=True)   # [N, H, 1]
        er = (heads * conv.attn_dst).sum(-1, keepdim=True)
        prop = with_self_loops(graph) if conv.add_self_loops else graph
        logits = F.leaky_relu(saga(prop, src=el, dst=er, apply_edge=fn.src_add_dst, gather=None), conv.negative_slope)
        attention = conv.attn_drop(edge_softmax(prop, logits))
        out = saga(prop, src=heads, edge=attention, apply_edge=fn.src_mul_edge)   # [N, H, F]
        out = self.q_aggregate(out, mask)
        return self.q_output(finish_heads(out, h_in, conv.residual, conv.concat, conv.bias), mask)


WRAPPERS: dict[type, type] = {GCNConv: QGCNConv, GINConv: QGINConv, GATConv: QGATConv}


def _convert(module: nn.Module, context: QuantContext) -> int:
    """Replace every GCN / GIN / GAT conv below ``module`` by its QAT wrapper; returns how many. Raises
    ConfigError for any other conv layer."""
    count = 0
    for name, child in module.named_children():
        wrapper = WRAPPERS.get(type(child))
        if wrapper is not None:
            setattr(module, name, wrapper(child, context))
            count += 1
        elif type(child).__module__.startswith("graphscale.nn.conv"):
            raise ConfigError(f"train.quant: expected a model built from {SUPPORTED} layers, got a "
                              f"{type(child).__name__}. Degree-Quant is implemented for {SUPPORTED}.")
        else:
            count += _convert(child, context)
    return count


class QuantizedModel(nn.Module):
    """A model under Degree-Quant QAT: ``forward(graph, *args)`` of the wrapped model, with one protection mask
    per training forward (shared by its layers) and every weight and activation fake-quantized.

    Shapes: those of the wrapped model (``graph`` with ``N`` nodes; the mask is ``[N]`` bool).
    """

    def __init__(self, model: nn.Module, spec: QuantSpec) -> None:
        super().__init__()
        self.context = QuantContext(spec)
        if _convert(model, self.context) == 0:
            raise ConfigError(f"train.quant: expected a model with {SUPPORTED} layers, got "
                              f"{type(model).__name__}. Degree-Quant is implemented for {SUPPORTED}.")
        weight_quant = WeightFakeQuant(self.context)
        for module in list(model.modules()):
            names = ["weight"] if isinstance(module, nn.Linear) else []
            names += ["attn_src", "attn_dst"] if isinstance(module, GATConv) else []
            for name in names:
                parametrize.register_parametrization(module, name, weight_quant)
        self.model = model

    @property
    def spec(self) -> QuantSpec:
        """The quantization settings shared by the layers."""
        return self.context.spec

    def forward(self, graph: Graph, *args: Any, **kwargs: Any) -> Tensor:
        context = self.context
        if self.training and context.enabled and isinstance(graph, Graph) and not isinstance(graph, Block):
            context.mask = protection_mask(graph.in_degrees(), context.spec.p_min, context.spec.p_max)
        try:
            return self.model(graph, *args, **kwargs)
        finally:
            context.mask = None


class float_mode:
    """Context manager: run a :class:`QuantizedModel` as the float model of the same weights."""

    def __init__(self, model: QuantizedModel) -> None:
        self.model = model

    def __enter__(self) -> QuantizedModel:
        self.model.context.enabled = False
        return self.model

    def __exit__(self, *exc: object) -> None:
        self.model.context.enabled = True


def quantize_model(model: nn.Module, bits: int = 8, **spec: Any) -> QuantizedModel:
    """Wrap a built GCN / GIN / GAT model for Degree-Quant QAT (``spec``: p_min, p_max, percentile, momentum).

    Raises:
        ConfigError: Another layer type, bits other than 4 / 8, or an invalid protection / range setting.
    """
    return QuantizedModel(model, QuantSpec(bits=bits, **spec))


__all__ = ["SUPPORTED", "QGATConv", "QGCNConv", "QGINConv", "QuantizedModel", "float_mode", "quantize_model",
           "split_norm"]
