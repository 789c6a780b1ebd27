"""The integer inference path: int32 aggregation and int8 matmul exactly equal to integer references, and the
integer GCN close to the QAT model it was built from."""

from __future__ import annotations

import pytest
import torch

from graphscale.compress.integer import int_linear, model_bytes, requantize, to_integer
from graphscale.compress.qat import quantize_model
from graphscale.errors import ConfigError, ShapeError
from graphscale.graph import Graph
from graphscale.nn.models import build_node_model
from graphscale.saga.integer import int_aggregate, int_aggregate_reference, int_aggregate_requant


def _graphs():
    gen = torch.Generator().manual_seed(0)
    src, dst = torch.randint(0, 60, (400,), generator=gen), torch.randint(0, 50, (400,), generator=gen)
    yield Graph(src % 50, dst, 50)                                             # random, multi-edges
    yield Graph(torch.tensor([0, 1, 1, 3, 3]), torch.tensor([1, 1, 2, 3, 3]), 6)   # self-loops, isolated 4, 5
    yield Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 4)  # no edges


@pytest.mark.parametrize("zero_point", [0, -7, 100])
def test_int_aggregate_is_exact(zero_point):
    for graph in _graphs():
        q = torch.randint(-128, 128, (graph.num_nodes, 13), dtype=torch.int8, generator=torch.Generator().manual_seed(1))
        dense = torch.zeros(graph.num_nodes, graph.num_nodes, dtype=torch.int64)
        dense.index_put_((graph.dst, graph.src), torch.ones(graph.num_edges, dtype=torch.int64), accumulate=True)
        expected = dense @ (q.to(torch.int64) - zero_point)                     # int64: no overflow, exact
        out = int_aggregate(graph, q, zero_point)
        assert out.dtype == torch.int32 and torch.equal(out.to(torch.int64), expected)
        assert torch.equal(int_aggregate_reference(graph, q, zero_point).to(torch.int64), expected)


def test_int_aggregate_requant_equals_the_int32_sum_requantized():
    graph = next(_graphs())
    q = torch.randint(-128, 128, (50, 9), dtype=torch.int8, generator=torch.Generator().manual_seed(2))
    row_scale = torch.rand(50, generator=torch.Generator().manual_seed(3)) * 0.01
    fused = int_aggregate_requant(graph, q, 5, row_scale, 0.05, -3, bits=8)
    value = int_aggregate(graph, q, 5).to(torch.float32) * row_scale[:, None]
    expected = torch.clamp(torch.round(value / 0.05) - 3, -128, 127).to(torch.int8)
    assert (fused.to(torch.int32) - expected.to(torch.int32)).abs().max() <= 1   # float rounding at .5 ties only
    assert (fused != expected).float().mean() < 0.01


def test_int_aggregate_rejects_float_input():
    with pytest.raises(ShapeError, match="expected int8 features"):
        int_aggregate(next(_graphs()), torch.zeros(50, 3))


def test_int_linear_is_exact():
    gen = torch.Generator().manual_seed(4)
    q = torch.randint(-128, 128, (37, 29), dtype=torch.int8, generator=gen)
    w = torch.randint(-127, 128, (29, 11), dtype=torch.int8, generator=gen)
    sums = w.to(torch.int32).sum(0, dtype=torch.int32)
    expected = (q.to(torch.int64) - 9) @ w.to(torch.int64)
    out = int_linear(q, 9, w, sums)
    assert out.dtype == torch.int32 and torch.equal(out.to(torch.int64), expected)


def test_requantize_matches_torch_quantization():
    acc = torch.randint(-5000, 5000, (20, 7), dtype=torch.int32, generator=torch.Generator().manual_seed(5))
    offset, rows, bias = torch.arange(7, dtype=torch.int32), torch.rand(20) + 0.5, torch.randn(7)
    out = requantize(acc, (0.1, 4), 8, mult=0.001, offset=offset, rows=rows, bias=bias)
    value = (acc - offset).float() * (0.001 * rows[:, None]) + bias
    expected = torch.clamp(torch.round(value / 0.1) + 4, -128, 127)
    assert (out.float() - expected).abs().max() <= 1 and (out.float() != expected).float().mean() < 0.02


def _trained_qat(bits: int, hidden: int):
    gen = torch.Generator().manual_seed(6)
    graph = Graph(torch.randint(0, 300, (2400,), generator=gen), torch.randint(0, 300, (2400,), generator=gen), 300)
    x = torch.rand(300, 24, generator=gen)
    torch.manual_seed(0)
    model = quantize_model(build_node_model("gcn", 24, 5, hidden_dim=hidden, num_layers=3), bits, p_max=0.2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    y = torch.randint(0, 5, (300,), generator=gen)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(graph, x), y).backward()
        opt.step()
    return model.eval(), graph, x


@pytest.mark.parametrize(("bits", "hidden"), [(8, 8), (8, 64), (4, 32)])   # 64 > 24: aggregate before W
def test_integer_model_follows_the_qat_model(bits, hidden):
    model, graph, x = _trained_qat(bits, hidden)
    with torch.no_grad():
        simulated = model(graph, x)
    logits = to_integer(model)(graph, x)
    step = float(model.model.convs[-1].q_output.params()[0])    # one quantization step of the output
    assert (logits - simulated).abs().max() <= step + 1e-6
    assert (logits.argmax(1) == simulated.argmax(1)).float().mean() >= 0.98
    weights = [conv.conv.linear.weight.numel() for conv in model.model.convs]
    vectors = sum(conv.conv.bias.numel() for conv in model.model.convs) + 3 * 4 * 2   # biases, 4 ranges per layer
    assert model_bytes(model) == 4 * (sum(weights) + vectors - 24)
    assert model_bytes(model, bits) == sum((n * bits + 7) // 8 + 8 for n in weights) + 4 * vectors


def test_to_integer_rejects_other_models():
    with pytest.raises(ConfigError, match="expected a quantized GCN stack"):
        to_integer(quantize_model(build_node_model("gat", 8, 3), 8))


def test_integer_gin_follows_the_qat_gin():
    from graphscale.compress.integer_gin import gin_to_integer
    from graphscale.graph import batch
    from graphscale.nn.models import build_graph_model

    gen = torch.Generator().manual_seed(7)
    graphs = [Graph(torch.randint(0, 15, (40,), generator=gen), torch.randint(0, 15, (40,), generator=gen), 15)
              for _ in range(20)]
    graph, x, y = batch(graphs), torch.rand(300, 7, generator=gen), torch.randint(0, 2, (20,), generator=gen)
    torch.manual_seed(0)
    model = quantize_model(build_graph_model("gin", 7, 2, hidden_dim=16, num_layers=4), 8)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(graph, x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        simulated = model(graph, x)
    logits = gin_to_integer(model)(graph, x)
    assert torch.allclose(logits, simulated, atol=1e-4 * simulated.abs().max().item())
    with pytest.raises(ConfigError, match="expected a quantized GIN graph model"):
        gin_to_integer(quantize_model(build_node_model("gin", 7, 2), 8))
