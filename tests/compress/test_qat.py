"""Quantization-aware training models: protection masks in the layers, STE gradients reaching every weight,
float mode, and ``graphscale train --quant`` end to end (JSON summary, bad input exits 2)."""

from __future__ import annotations

import json

import pytest
import torch

from graphscale.cli import main
from graphscale.compress.qat import QGCNConv, float_mode, quantize_model
from graphscale.compress.quant import fake_quant
from graphscale.errors import ConfigError
from graphscale.graph import Graph
from graphscale.nn.models import build_graph_model, build_node_model


def _star_graph() -> tuple[Graph, torch.Tensor]:
    """Hubs 0..4 with in-degree 30, leaves 5..154 with in-degree 1 (an edge from a hub)."""
    leaves = torch.arange(5, 155)
    src = torch.cat([leaves, leaves % 5])
    dst = torch.cat([leaves % 5, leaves])
    return Graph(src, dst, 155), torch.rand(155, 12, generator=torch.Generator().manual_seed(0))


def _capture_aggregate(model):
    """Record (input, output, mask) of the first GCN layer's aggregate quantizer on every forward."""
    seen = []
    layer = model.model.convs[0]
    assert isinstance(layer, QGCNConv)
    layer.q_aggregate.register_forward_hook(
        lambda module, args, out: seen.append((args[0].detach(), out.detach(), args[1])))
    return seen


def test_protection_masks_keep_protected_rows_unquantized_and_favour_high_degrees():
    graph, x = _star_graph()
    torch.manual_seed(0)
    model = quantize_model(build_node_model("gcn", 12, 3, hidden_dim=8, dropout=0.0), 4, p_min=0.0, p_max=0.8)
    seen = _capture_aggregate(model)
    model.train()
    for _ in range(40):
        model(graph, x)
    masks = torch.stack([mask for _, _, mask in seen])
    hubs, leaves = masks[:, :5].float().mean(), masks[:, 5:].float().mean()
    assert 0.65 < hubs < 0.95 and leaves == 0.0        # p = 0.8 at the top degree, 0 at the lowest
    layer = model.model.convs[0].q_aggregate
    value, out, mask = seen[-1]
    assert mask.any() and torch.equal(out[mask], value[mask])             # protected: full precision
    quantized = fake_quant(value, *layer.params(), 4)
    assert torch.equal(out[~mask], quantized[~mask]) and not torch.equal(quantized[mask], value[mask])
    model.eval()
    with torch.no_grad():
        model(graph, x)
    assert seen[-1][2] is None                          # inference: no mask, every row quantized


def test_without_protection_the_training_forward_differs():
    graph, x = _star_graph()
    outputs = []
    for p_max in (0.0, 1.0):
        torch.manual_seed(0)
        model = quantize_model(build_node_model("gcn", 12, 3, hidden_dim=8, dropout=0.0), 4, p_min=p_max,
                               p_max=p_max)
        model.train()
        outputs.append(model(graph, x).detach())
    torch.manual_seed(0)
    plain = build_node_model("gcn", 12, 3, hidden_dim=8, dropout=0.0)
    with torch.no_grad():   # every node protected: only the weights are quantized
        for conv in plain.convs:
            w = conv.linear.weight
            conv.linear.weight.copy_(fake_quant(w, w.abs().max() / 7, torch.zeros(()), 4, symmetric=True))
        reference = plain(graph, x)
    assert torch.allclose(outputs[1], reference, atol=1e-5)
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["gcn", "gin", "gat"])
def test_qat_gradients_reach_every_weight_and_float_mode_restores_the_model(name):
    graph, x = _star_graph()
    torch.manual_seed(0)
    model = quantize_model(build_node_model(name, 12, 3), 8)
    model.train()
    model(graph, x).square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not missing
    model.eval()
    with torch.no_grad():
        quantized = model(graph, x)
        with float_mode(model):
            plain = model(graph, x)
    error = (quantized - plain).abs().max() / plain.abs().max()   # one step's ranges: some clipping
    assert not torch.equal(quantized, plain) and error < 0.15


def test_graph_gin_is_quantized_and_unsupported_layers_are_refused():
    model = quantize_model(build_graph_model("gin", 7, 2, hidden_dim=16, num_layers=3), 8)
    assert sum(1 for m in model.modules() if type(m).__name__ == "QGINConv") == 2
    with pytest.raises(ConfigError, match="SAGEConv"):
        quantize_model(build_node_model("sage", 12, 3), 8)


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_train_quant_json(tmp_path, capsys):
    code, out, err = _run(capsys, "train", "--quant", "int8", "--json", "--no-progress", "--out", str(tmp_path / "r"),
                          "--epochs", "20", "train.lr=0.05")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["quant"] == "int8" and summary["quant_bits"] == 8
    assert summary["test_acc"] > 0.4 and summary["int_agreement"] >= 0.98
    assert abs(summary["int_test_acc"] - summary["test_acc"]) <= 0.02
    assert summary["model_bytes_int"] < summary["model_bytes_fp32"] / 2
    assert summary["int_inference_ms"] > 0 and summary["fp32_inference_ms"] > 0


@pytest.mark.parametrize(("args", "message"), [
    (("--quant", "int3"), "train.quant: expected one of 'int8', 'int4'"),
    (("--quant", "int8", "--model", "sage"), "SAGEConv"),
    (("--quant", "int8", "--sampler", "neighbor"), "train.quant: expected full-batch training"),
    (("--quant", "int4", "train.quant_p_min=0.5", "train.quant_p_max=0.1"), "p_min <= p_max"),
])
def test_cli_bad_quant_input_exits_2(tmp_path, capsys, args, message):
    code, _, err = _run(capsys, "train", "--no-progress", "--epochs", "1", "--out", str(tmp_path / "r"), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_train_quant_graph_task(tmp_path, capsys, require_dataset):
    require_dataset("mutag")
    code, out, err = _run(capsys, "train", "--dataset", "mutag", "--quant", "int8", "--json", "--no-progress",
                          "--out", str(tmp_path / "g"), "--epochs", "2", "train.folds=2", "model.num_layers=3",
                          "model.hidden_dim=16")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["task"] == "graph" and summary["quant_bits"] == 8 and summary["int_agreement"] >= 0.95
    assert 0.0 <= summary["int_last_epoch_test_acc"] <= 1.0
    assert summary["model_bytes_int"] < summary["model_bytes_fp32"] / 2
