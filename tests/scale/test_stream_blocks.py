"""Block-wise streamed execution: every block-exact layer, chunked, against the unchunked model."""

from __future__ import annotations

import pytest
import torch

from graphscale.errors import ConfigError, ShapeError
from graphscale.nn.models import build_node_model
from graphscale.scale.stream_blocks import BlockPlan, BlockwiseStack, plan_blocks

from test_stream import IN_DIM, NUM_CLASSES, NUM_NODES, random_graph

CHUNKS = BlockPlan(edges_per_chunk=300)

# no dropout of the layers' own (GAT feature / attention dropout draws per chunk): dropout between layers
# is a hash of the element index and equal in both
MODELS = {
    "gat": ("gat", {"hidden_dim": 4, "heads": 3, "attn_dropout": 0.0}),
    "gat-residual-3": ("gat", {"hidden_dim": 4, "heads": 2, "num_layers": 3, "attn_dropout": 0.0, "residual": True}),
    "gatv2": ("gatv2", {"hidden_dim": 4, "heads": 2, "attn_dropout": 0.0, "out_heads": 2}),
    "gin": ("gin", {"hidden_dim": 16}),
    "sage-pool": ("sage", {"hidden_dim": 16, "aggregator": "pool"}),
    "sage-mean": ("sage", {"hidden_dim": 16}),
    "gcn": ("gcn", {"hidden_dim": 16, "num_layers": 3}),
}


def run_both(name: str, plan: BlockPlan, graph, x, rows, dropout: float = 0.5):
    """Outputs and gradients of the unchunked model and of the block-wise one (same seeds)."""
    model_name, hparams = MODELS[name]
    torch.manual_seed(3)
    model = build_node_model(model_name, x.shape[1], NUM_CLASSES, dropout=dropout, **hparams)
    runner = BlockwiseStack(model, graph, plan)
    results = []
    for forward in (lambda: model(graph, x) if rows is None else model(graph, x)[rows], lambda: runner(x, rows)):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(11)
        out = forward()
        weight = torch.linspace(-1.0, 1.0, out.numel()).view_as(out)
        (out * weight).sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    model.eval()
    with torch.no_grad():
        evaluation = (model(graph, x), runner(x))
    return results, evaluation, runner


@pytest.mark.parametrize("name", list(MODELS))
def test_equal_outputs_and_gradients(name):
    graph = random_graph()
    x = torch.randn(NUM_NODES, IN_DIM, generator=torch.Generator().manual_seed(1))
    rows = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(2))[:90]
    ((ref, ref_grads), (out, grads)), (ref_eval, out_eval), runner = run_both(name, CHUNKS, graph, x, rows)
    assert len(runner.chunks(None)) > 8  # really several chunks
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out_eval, ref_eval, rtol=1e-5, atol=1e-5)


def test_rows_in_any_order_and_repeated():
    graph = random_graph(40, 200, seed=5)
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(4))
    for rows in (None, torch.tensor([7, 3, 3, 39, 0, 7])):
        (ref, ref_grads), (out, grads) = run_both("gat", BlockPlan(edges_per_chunk=25), graph, x, rows)[0]
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        for got, want in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_layer_dropout_recomputes_the_forward_masks():
    """With GAT's attention and feature dropout on, backward must see the masks of the forward pass: the
    gradient then matches a central finite difference of the (seeded) streamed loss."""
    graph = random_graph(60, 400, seed=8)
    x = torch.randn(60, 5, generator=torch.Generator().manual_seed(9))
    torch.manual_seed(3)
    model = build_node_model("gat", 5, 3, hidden_dim=4, heads=2, attn_dropout=0.5, dropout=0.3)
    runner = BlockwiseStack(model, graph, BlockPlan(edges_per_chunk=40))
    rows = torch.arange(0, 60, 2)
    weight = torch.linspace(-1.0, 1.0, rows.numel() * 3).view(-1, 3)

    def loss() -> torch.Tensor:
        torch.manual_seed(5)
        return (runner(x, rows) * weight).sum()

    loss().backward()
    param = model.convs[0].linear.weight
    direction = torch.randn(param.shape, generator=torch.Generator().manual_seed(6))
    predicted = float((param.grad * direction).sum())
    eps = 1e-3
    with torch.no_grad():
        param.add_(eps * direction)
        up = float(loss())
        param.sub_(2 * eps * direction)
        down = float(loss())
        param.add_(eps * direction)
    assert abs(predicted) > 1e-2
    assert (up - down) / (2 * eps) == pytest.approx(predicted, rel=3e-2)


def test_training_steps_match():
    """Three Adam steps block-wise and unchunked end with the same parameters (GAT, no layer dropout)."""
    graph, x = random_graph(), torch.randn(NUM_NODES, IN_DIM, generator=torch.Generator().manual_seed(6))
    y = torch.randint(0, NUM_CLASSES, (NUM_NODES,), generator=torch.Generator().manual_seed(7))
    rows = torch.arange(0, NUM_NODES, 4)
    finals = []
    for streamed in (False, True):
        torch.manual_seed(3)
        model = build_node_model("gat", IN_DIM, NUM_CLASSES, hidden_dim=4, heads=2, attn_dropout=0.0)
        runner = BlockwiseStack(model, graph, CHUNKS)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        for step in range(3):
            torch.manual_seed(100 + step)
            logits = runner(x, rows) if streamed else model(graph, x)[rows]
            loss = torch.nn.functional.cross_entropy(logits, y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        finals.append([p.detach().clone() for p in model.parameters()])
    for got, want in zip(*finals, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_plan_and_errors():
    model = build_node_model("gat", 100, 7)
    plan = plan_blocks(2 << 30, 10_000, 100_000, model, 100, base=300 << 20)
    assert plan.edges_per_chunk >= 1024 and plan.estimate["peak"] <= 2 << 30
    small = plan_blocks(700 << 20, 10_000, 100_000, model, 100, base=300 << 20)
    assert small.edges_per_chunk < plan.edges_per_chunk
    with pytest.raises(ConfigError, match="needs about"):
        plan_blocks(320 << 20, 10_000, 100_000, model, 100, base=300 << 20)
    with pytest.raises(ConfigError, match="ConvStack"):
        BlockwiseStack(build_node_model("appnp", IN_DIM, 3), random_graph(), CHUNKS)
    runner = BlockwiseStack(model := build_node_model("gin", IN_DIM, 3), random_graph(), CHUNKS)
    assert runner.model is model
    with pytest.raises(ShapeError, match="float32"):
        runner(torch.zeros(NUM_NODES, IN_DIM, dtype=torch.float64))
    with pytest.raises(ShapeError, match="expected rows in"):
        runner(torch.zeros(NUM_NODES, IN_DIM), torch.tensor([NUM_NODES]))


def test_streamed_model_picks_the_executor():
    from graphscale.scale.stream import StreamedStack
    from graphscale.scale.streaming import has_stage_split, plan_summary, streamed_model

    graph, x = random_graph(), torch.randn(NUM_NODES, IN_DIM)
    gat, gcn = build_node_model("gat", IN_DIM, 3), build_node_model("gcn", IN_DIM, 3)
    assert not has_stage_split(gat) and has_stage_split(gcn)
    assert not has_stage_split(build_node_model("sage", IN_DIM, 3, aggregator="pool"))
    assert isinstance(streamed_model(gat, graph, x, plan=CHUNKS), BlockwiseStack)
    runner = streamed_model(gcn, graph, x, budget=8 << 30)
    assert isinstance(runner, StreamedStack) and plan_summary(runner.graph.plan)["executor"] == "stages"
    assert plan_summary(streamed_model(gat, graph, x, budget=8 << 30).plan)["executor"] == "blocks"
    with pytest.raises(ConfigError, match="expected a budget or a plan"):
        streamed_model(gat, graph, x)
