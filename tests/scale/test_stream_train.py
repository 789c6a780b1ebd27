"""``train.memory_budget``: the full-batch trainer streamed (same curves as unchunked), and the memory plan."""

from __future__ import annotations

import json

import pytest
import torch

import graphscale as gs
from graphscale import config
from graphscale.datasets.base import NodeDataset, random_split
from graphscale.errors import ConfigError
from graphscale.scale import stream_plan
from graphscale.scale.stream_plan import ModelShape, plan_for_budget
from graphscale.train import run


def community_graph(num_nodes: int = 300, seed: int = 0) -> NodeDataset:
    """Three communities with noisy features (a GCN learns them within a few epochs)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % 3
    prob = torch.where(y[:, None] == y[None, :], 0.05, 0.005)
    adj = (torch.rand(num_nodes, num_nodes, generator=generator) < prob).triu(1)
    src, dst = (adj | adj.T).nonzero().T
    signal = torch.nn.functional.one_hot(y, 3).float() + torch.randn(num_nodes, 3, generator=generator)
    x = torch.cat([signal, torch.randn(num_nodes, 13, generator=generator)], dim=1)
    return NodeDataset("communities", gs.Graph(src, dst, num_nodes), x, y, 3, *random_split(num_nodes, 0.3, 0.2))


def summary_of(tmp_path, name: str, *extra: str) -> dict:
    cfg = config.load(None, ["train.epochs=6", "model.hidden_dim=16", "train.lr=0.05", "output.plot=false",
                             "train.device=cpu", f"output.dir={tmp_path / name}", *extra])
    summary = run(cfg, dataset=community_graph(), progress=False)
    summary["curves"] = json.loads((tmp_path / name / "history.json").read_text())["curves"]
    return summary


@pytest.mark.parametrize("model", ["gcn", "sage"])
def test_budgeted_training_matches_unchunked(tmp_path, monkeypatch, model):
    # small chunk sizes so a 300-node graph runs in several row chunks and adjacency blocks
    monkeypatch.setattr(stream_plan, "MAX_TEMP", 24 * 1024)
    monkeypatch.setattr(stream_plan, "MIN_TEMP", 24 * 1024)
    monkeypatch.setattr(stream_plan, "MIN_BLOCK_EDGES", 256)
    plain = summary_of(tmp_path, "plain", f"model.name={model}")
    streamed = summary_of(tmp_path, "streamed", f"model.name={model}", "train.memory_budget=8GB")
    plan = streamed["stream_plan"]
    assert plan["rows_per_chunk"] < 300 and plan["edges_per_block"] == 1024 and not plan["spill_adjacency"]
    assert streamed["memory_budget"] == "8GB"
    for key in ("train_loss", "val_loss", "val_acc", "test_acc"):
        assert streamed["curves"][0][key] == pytest.approx(plain["curves"][0][key], rel=1e-4, abs=1e-5), key
    assert streamed["test_acc"] == plain["test_acc"]


def test_in_memory_budget_from_the_config(tmp_path):
    """``train.memory_spill=false``: the trainer's plan keeps everything in memory and still trains the same."""
    unchunked = summary_of(tmp_path, "plain")
    streamed = summary_of(tmp_path, "in-memory", "train.memory_budget=8GB", "train.memory_spill=false")
    plan = streamed["stream_plan"]
    assert not (plan["spill_adjacency"] or plan["spill_inputs"] or plan["spill_nodes"]) and plan["cache_constant"]
    for a, b in zip(unchunked["curves"][0]["train_loss"], streamed["curves"][0]["train_loss"]):
        assert abs(a - b) <= 1e-4 * max(1.0, abs(a))


def test_budget_below_what_is_in_use(tmp_path):
    with pytest.raises(ConfigError, match=r"train.memory_budget: expected a budget .* already in use"):
        summary_of(tmp_path, "tiny", "train.memory_budget=64MB")


@pytest.mark.parametrize("model", ["gat", "gin", "sage-pool"])
def test_layers_without_a_stage_split_stream_block_wise(tmp_path, monkeypatch, model):
    """GAT (no attention dropout), GIN and GraphSAGE pool train block-wise with the unchunked curves."""
    monkeypatch.setattr(stream_plan, "MAX_TEMP", 24 * 1024)
    monkeypatch.setattr(stream_plan, "MIN_BLOCK_EDGES", 256)
    extra = {"gat": ["model.name=gat", "model.attn_dropout=0.0", "model.hidden_dim=4", "model.heads=2"],
             "gin": ["model.name=gin"], "sage-pool": ["model.name=sage", "model.aggregator=pool"]}[model]
    plain = summary_of(tmp_path, "plain", *extra)
    streamed = summary_of(tmp_path, "streamed", *extra, "train.memory_budget=8GB")
    assert streamed["stream_plan"]["executor"] == "blocks" and streamed["stream_plan"]["edges_per_chunk"] == 256
    for key in ("train_loss", "val_loss", "val_acc", "test_acc"):
        assert streamed["curves"][0][key] == pytest.approx(plain["curves"][0][key], rel=1e-4, abs=1e-5), key


def test_streaming_rejects_models_that_are_no_conv_stack(tmp_path):
    with pytest.raises(ConfigError, match=r"train.memory_budget: expected a ConvStack .* got APPNPNet"):
        summary_of(tmp_path, "appnp", "model.name=appnp", "train.memory_budget=8GB")


PRODUCTS_GCN = ModelShape(input_dim=100, widths=(100, 47), out_dims=(256, 47), needs_grad=(False, True),
                          allocates_input=(False, True))
WIDE_INPUT = ModelShape(input_dim=512, widths=(512, 47), out_dims=(256, 47), needs_grad=(False, True),
                        allocates_input=(True, True), input_dropout=True)
NODES, EDGES, BASE = 2_449_029, 123_718_280, int(2.4 * 2**30)   # ogbn-products, 2.4 GiB already in use


def test_plan_spills_what_does_not_fit():
    roomy = plan_for_budget(16 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE)
    assert not roomy.spill_adjacency and roomy.col_tiles == 1 and roomy.rows_per_chunk > 10_000
    six = plan_for_budget(6 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE)
    assert six.estimate["peak"] <= 6 * 2**30 and six.col_tiles == 1
    five = plan_for_budget(5 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE)
    assert five.spill_adjacency and not five.spill_inputs and five.estimate["peak"] <= 5 * 2**30
    four = plan_for_budget(4 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE)
    assert four.spill_nodes and four.spill_inputs and four.estimate["peak"] <= 4 * 2**30
    with pytest.raises(ConfigError, match="needs about 3.6"):
        plan_for_budget(3 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE)


def test_plan_tiles_wide_aggregation_inputs():
    """A 512-wide dropped-out input is aggregated from disk one source tile at a time when it does not fit."""
    assert plan_for_budget(20 * 2**30, NODES, EDGES, WIDE_INPUT, base=BASE).col_tiles == 1
    tiled = plan_for_budget(14 * 2**30, NODES, EDGES, WIDE_INPUT, base=BASE)
    assert tiled.spill_inputs and not tiled.spill_nodes and tiled.col_tiles >= 4
    assert tiled.estimate["peak"] <= 14 * 2**30
    assert plan_for_budget(8 * 2**30, NODES, EDGES, WIDE_INPUT, base=BASE).spill_nodes


def test_in_memory_plans_recompute_the_first_aggregation_before_failing():
    """``spill=False``: never a file; when A_0 does not fit beside the rest it is recomputed per chunk."""
    roomy = plan_for_budget(16 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE, spill=False)
    assert roomy.cache_constant and not (roomy.spill_adjacency or roomy.spill_inputs or roomy.spill_nodes)
    tight = plan_for_budget(5 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE, spill=False)
    assert not tight.cache_constant and not tight.spill_adjacency and tight.estimate["peak"] <= 5 * 2**30
    assert tight.estimate["node_state"] < roomy.estimate["node_state"] - 4 * NODES * 99
    with pytest.raises(ConfigError, match="expected a budget the streamed model fits in"):
        plan_for_budget(4 * 2**30, NODES, EDGES, PRODUCTS_GCN, base=BASE, spill=False)
    # a first layer that projects first has no constant A_0: nothing to recompute
    assert plan_for_budget(24 * 2**30, NODES, EDGES, WIDE_INPUT, base=BASE, spill=False).cache_constant
