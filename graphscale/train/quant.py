"""Degree-Quant in the trainers (``train.quant``): the model wrapped for quantization-aware training, the
integer model of a finished GCN run measured against the float model of the same weights, and the summary.

A quantized run trains through the same trainers and engine (:mod:`.loop`) as a float one: its reported
accuracies are those of the QAT model in eval mode (every weight and activation quantized, no protection,
as the paper reports them). Full-batch GCN runs also build the integer model (:mod:`graphscale.compress.
integer`) and record its accuracy, the model size and the inference time of both (same process, back to back).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..errors import ConfigError
from .metrics import accuracy, mean_std

TIMING_REPEATS = 3


def quant_spec(cfg: RunConfig) -> dict[str, Any]:
    """``quantize_model`` keywords of ``cfg.train`` (bits, p_min, p_max, percentile, momentum)."""
    from ..compress.quant import BITS

    train = cfg.train
    return {"bits": BITS[train.quant], "p_min": train.quant_p_min, "p_max": train.quant_p_max,
            "percentile": train.quant_percentile, "momentum": train.quant_momentum}


def apply_quant(cfg: RunConfig, model: nn.Module) -> nn.Module:
    """``model`` itself without ``train.quant``; else its Degree-Quant QAT wrapper.

    Raises:
        ConfigError: A sampler or memory budget (QAT trains full graphs), or a model without GCN / GIN / GAT
            layers; p_min above p_max.
    """
    if cfg.train.quant is None:
        return model
    from ..compress.qat import quantize_model

    if cfg.sampler.name != "none" or cfg.train.memory_budget is not None or cfg.data.partitions is not None:
        raise ConfigError(f"train.quant: expected full-batch training (sampler none, no memory budget, no "
                          f"partitions), got sampler {cfg.sampler.name!r}{cfg.where('train.quant')}. Degree-Quant "
                          "runs full graphs and batched graphs; drop --sampler / --memory-budget.")
    try:
        return quantize_model(model, **quant_spec(cfg))
    except ConfigError as err:
        where = cfg.where("train.quant")
        raise ConfigError(f"{str(err).rstrip('.')}{where}.") from None


def _time_pair_ms(first: Any, second: Any) -> tuple[float, float]:
    """Best wall times in milliseconds of ``first()`` and ``second()`` over ``TIMING_REPEATS`` rounds that run
    them back to back, alternating (after one warm-up call of each), so both see the same machine load."""
    first()
    second()
    best = [float("inf"), float("inf")]
    for _ in range(TIMING_REPEATS):
        for i, run in enumerate((first, second)):
            began = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - began)
    return 1000 * best[0], 1000 * best[1]


def size_metrics(model: nn.Module) -> dict[str, Any]:
    """``model_bytes_fp32`` and ``model_bytes_int`` of a quantized model (empty for a float one)."""
    from ..compress.integer import model_bytes
    from ..compress.qat import QuantizedModel

    if not isinstance(model, QuantizedModel):
        return {}
    return {"model_bytes_fp32": model_bytes(model), "model_bytes_int": model_bytes(model, model.spec.bits)}


def integer_metrics(model: nn.Module, graph: Any, x: Tensor, y: Tensor,
                    masks: tuple[Tensor, ...]) -> dict[str, Any]:
    """For a quantized GCN stack: the integer model's val / test accuracy, its agreement with the QAT model's
    predictions, the model bytes (float32 and at ``bits``) and the inference time of the float model and of
    the integer model, measured back to back. Empty for other models."""
    from ..compress.integer import supports_integer, to_integer
    from ..compress.qat import float_mode

    out = size_metrics(model)
    if not out:
        return {}
    if not supports_integer(model) or x.device.type != "cpu":
        return out
    model.eval()
    integer = to_integer(model)
    with torch.no_grad():
        simulated = model(graph, x)
        logits = integer(graph, x)
        def fp32() -> Tensor:
            with float_mode(model):
                return model(graph, x)

        fp32_ms, int_ms = _time_pair_ms(fp32, lambda: integer(graph, x))
    _, val_mask, test_mask = masks
    return {**out, "int_val_acc": accuracy(logits, y, val_mask), "int_test_acc": accuracy(logits, y, test_mask),
            "int_agreement": float((logits.argmax(-1) == simulated.argmax(-1)).float().mean()),
            "fp32_inference_ms": fp32_ms, "int_inference_ms": int_ms}


def graph_integer_metrics(model: nn.Module, batches: list[tuple[Any, ...]]) -> dict[str, Any]:
    """For a quantized GIN graph classifier after its last epoch: the integer model's accuracy on ``batches``
    (``(graph, x, edge_attr, y)``) and its agreement with the QAT model. Empty for other models."""
    from ..compress.integer_gin import IntegerGIN, gin_to_integer
    from ..compress.qat import QuantizedModel
    from ..nn.graph_models import GIN

    if not isinstance(model, QuantizedModel) or not isinstance(model.model, GIN) or float(model.model.convs[0].conv.eps):
        return {}
    model.eval()
    integer: IntegerGIN = gin_to_integer(model)
    correct = agree = total = 0
    with torch.no_grad():
        for graph, x, _, y in batches:
            predicted = integer(graph.to("cpu"), x.cpu()).argmax(-1)
            correct += int((predicted == y.cpu()).sum())
            agree += int((predicted == model(graph, x).argmax(-1).cpu()).sum())
            total += len(y)
    return {"int_last_epoch_test_acc": correct / max(total, 1), "int_agreement": agree / max(total, 1)}


def quant_summary(cfg: RunConfig, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary fields of a quantized run: ``quant``, ``quant_bits`` and the means of the integer-model
    figures its runs recorded (with ``int_speedup`` = fp32 / int inference time). Empty without quant."""
    if cfg.train.quant is None:
        return {}
    out: dict[str, Any] = {"quant": cfg.train.quant, "quant_bits": quant_spec(cfg)["bits"],
                           "quant_p_min": cfg.train.quant_p_min, "quant_p_max": cfg.train.quant_p_max}
    keys = ("int_test_acc", "int_val_acc", "int_last_epoch_test_acc", "int_agreement", "model_bytes_fp32", "model_bytes_int",
            "fp32_inference_ms", "int_inference_ms")
    for key in keys:
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = mean_std(values)[0]
            if key == "int_test_acc":
                out["int_test_acc_std"] = mean_std(values)[1]
    if out.get("int_inference_ms"):
        out["int_speedup"] = out["fp32_inference_ms"] / out["int_inference_ms"]
    return out


__all__ = ["apply_quant", "graph_integer_metrics", "integer_metrics", "quant_spec", "quant_summary", "size_metrics"]
