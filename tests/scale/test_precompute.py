"""SGC / SIGN precomputation: dense references, out of core equal to in memory, SGC equal to the
full-batch SGConv model (logits and whole training curves), SIGN training, errors."""

from __future__ import annotations

from itertools import pairwise

import dataclasses

import pytest
import torch

import graphscale as gs
from graphscale.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from graphscale.datasets import load_synthetic
from graphscale.errors import ConfigError, DatasetError, ShapeError
from graphscale.nn.models import build_node_model
from graphscale.scale.precompute import (
    PropagationOperator,
    SGCHead,
    budget_bytes,
    precompute_features,
)
from graphscale.train.precomputed import train_precomputed
from graphscale.train.node import train_node

RESULT_KEYS = {"run", "seed", "split", "best_epoch", "epochs_run", "test_acc", "val_acc", "val_loss", "train_acc",
               "last_test_acc", "epoch_time_s", "warmup_time_s", "train_time_s", "precompute_time_s", "edge_weight"}


def messy_graph(num_nodes: int = 70, num_edges: int = 400, seed: int = 0) -> gs.Graph:
    """Directed multigraph with self-loops, multi-edges and isolated nodes."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes - 4, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes - 4, (num_edges,), generator=gen)
    src[:4] = dst[:4]
    src[4:7], dst[4:7] = 3, 5
    return gs.Graph(src, dst, num_nodes)


def dense_operator(graph: gs.Graph) -> torch.Tensor:
    """``D_in^-1/2 (A + I) D_out^-1/2`` as a dense ``[N, N]`` float64 matrix (rows = destinations)."""
    n = graph.num_nodes
    adj = torch.eye(n, dtype=torch.float64)
    adj.index_put_((graph.dst.long(), graph.src.long()), torch.ones(graph.num_edges, dtype=torch.float64),
                   accumulate=True)
    return adj.sum(1).pow(-0.5)[:, None] * adj * adj.sum(0).pow(-0.5)[None, :]


@pytest.mark.parametrize("max_edges", [1, 37, 10**6])
def test_powers_equal_dense_reference(max_edges, monkeypatch):
    import graphscale.scale.precompute as module

    monkeypatch.setattr(module, "DEFAULT_CHUNK_EDGES", max_edges)  # 1: one row per chunk
    graph = messy_graph()
    x = torch.randn(70, 5)
    s = dense_operator(graph)
    features = precompute_features(graph, x, 3)
    assert len(features.operators) == 4 and not features.out_of_core
    expected = x.double()
    for k, operator in enumerate(features.operators):
        torch.testing.assert_close(operator.double(), expected, rtol=1e-5, atol=1e-6, msg=f"power {k}")
        expected = s @ expected
    last = precompute_features(graph, x, 3, keep_all=False).operators
    assert len(last) == 1
    torch.testing.assert_close(last[0], features.operators[3])


def test_mean_operator_equals_dense_neighbour_mean():
    graph = messy_graph(seed=3)  # self-loops, multi-edges, nodes without in-edges
    x = torch.randn(70, 5)
    adj = torch.zeros(70, 70, dtype=torch.float64)
    adj.index_put_((graph.dst.long(), graph.src.long()), torch.ones(graph.num_edges, dtype=torch.float64),
                   accumulate=True)
    s = adj / adj.sum(1, keepdim=True).clamp(min=1)  # rows = destinations; empty rows stay zero
    features = precompute_features(graph, x, 2, norm="mean", ppr_alpha=0.3, ppr_steps=3)
    torch.testing.assert_close(features.operators[1].double(), s @ x.double(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(features.operators[2].double(), s @ s @ x.double(), rtol=1e-5, atol=1e-6)
    expected = x.double()
    for _ in range(3):
        expected = 0.7 * s @ expected + 0.3 * x.double()
    torch.testing.assert_close(features.operators[3].double(), expected, rtol=1e-5, atol=1e-6)
    assert (features.operators[1][66:] == 0).all()  # the 4 isolated nodes
    with pytest.raises(ConfigError, match="norm"):
        precompute_features(graph, x, 1, norm="sym")


@pytest.mark.parametrize("max_edges", [7, 10**6])
def test_weighted_operators_equal_dense_references(max_edges, monkeypatch):
    import graphscale.scale.precompute as module

    monkeypatch.setattr(module, "DEFAULT_CHUNK_EDGES", max_edges)
    graph = messy_graph(seed=5)  # self-loops, multi-edges, isolated nodes
    weight = torch.rand(graph.num_edges) + 0.05
    weight[graph.dst == 2] = 0.0  # a node whose in-edges weigh nothing aggregates zeros under "mean"
    x = torch.randn(70, 4)
    adj = torch.zeros(70, 70, dtype=torch.float64)
    adj.index_put_((graph.dst.long(), graph.src.long()), weight.double(), accumulate=True)
    looped = adj + torch.eye(70, dtype=torch.float64)
    gcn = looped.sum(1).pow(-0.5)[:, None] * looped * looped.sum(0).pow(-0.5)[None, :]
    mean = adj / torch.where(adj.sum(1, keepdim=True) > 0, adj.sum(1, keepdim=True), 1.0)
    for norm, s in (("gcn", gcn), ("mean", mean)):
        features = precompute_features(graph, x, 2, norm=norm, edge_weight=weight)
        torch.testing.assert_close(features.operators[2].double(), s @ s @ x.double(), rtol=1e-5, atol=1e-6)
        # all-one weights: the unweighted operators, bit for bit
        ones = precompute_features(graph, x, 2, norm=norm, edge_weight=torch.ones(graph.num_edges))
        plain = precompute_features(graph, x, 2, norm=norm)
        assert all(torch.equal(a, b) for a, b in zip(ones.operators, plain.operators)), norm
    assert (precompute_features(graph, x, 1, norm="mean", edge_weight=weight).operators[1][2] == 0).all()
    for bad in (float("nan"), -0.5):
        with pytest.raises(DatasetError, match="expected finite, non-negative edge weights"):
            precompute_features(graph, x, 1, edge_weight=torch.full((graph.num_edges,), bad))
    with pytest.raises(ShapeError, match="edge_weight"):
        precompute_features(graph, x, 1, edge_weight=torch.ones(3))


def test_chunks_cover_the_rows_within_the_edge_limit():
    adjacency = PropagationOperator(messy_graph())
    indptr = adjacency.indptr
    for limit in (1, 5, 50, 10**6):
        bounds = adjacency.chunks(limit)
        assert bounds[0][0] == 0 and bounds[-1][1] == 70
        assert all(a[1] == b[0] for a, b in pairwise(bounds))
        for start, end in bounds:
            assert end - start == 1 or int(indptr[end] - indptr[start]) <= limit


def test_ppr_operator_equals_dense_reference():
    graph = messy_graph(seed=1)
    x = torch.randn(70, 4)
    alpha, steps = 0.2, 6
    s = (1 - alpha) * dense_operator(graph)
    expected = torch.matrix_power(s, steps) @ x.double()
    for t in range(steps):
        expected += alpha * torch.matrix_power(s, t) @ x.double()
    features = precompute_features(graph, x, 1, ppr_alpha=alpha, ppr_steps=steps)
    assert len(features.operators) == 3
    torch.testing.assert_close(features.operators[2].double(), expected, rtol=1e-5, atol=1e-6)


def test_out_of_core_equals_in_memory(tmp_path):
    graph = messy_graph(seed=2)
    x = torch.randn(70, 6)
    memory = precompute_features(graph, x, 2, ppr_alpha=0.1, ppr_steps=3)
    budget = 70 * 6 * 4  # far less than the operators: memmaps
    disk = precompute_features(graph, x, 2, ppr_alpha=0.1, ppr_steps=3, memory_budget=budget, folder=tmp_path)
    assert disk.out_of_core and not memory.out_of_core
    folder = disk.folder
    assert sorted(p.name for p in folder.iterdir()) == ["ppr2.npy", "s1.npy", "s2.npy"]  # temporaries removed
    for a, b in zip(memory.operators, disk.operators):
        assert torch.equal(a, b)
    ids = torch.tensor([5, 1, 69, 3, 3])
    for a, b in zip(memory.rows(ids), disk.rows(ids)):
        assert torch.equal(a, b)
    sgc = precompute_features(graph, x, 3, keep_all=False, out_of_core=True, folder=tmp_path)
    assert [p.name for p in sgc.folder.iterdir()] == ["s3.npy"]
    torch.testing.assert_close(sgc.operators[0], precompute_features(graph, x, 3, keep_all=False).operators[0])
    disk.close()
    assert not folder.exists()


def test_sgc_head_gives_the_logits_of_the_full_batch_sgconv_model():
    graph = messy_graph(seed=3)
    x = torch.randn(70, 8)
    torch.manual_seed(0)
    reference = build_node_model("sgc", 8, 3, K=2).eval()
    head = SGCHead(8, 3)
    head.linear.load_state_dict(reference.conv.linear.state_dict())
    features = precompute_features(graph, x, 2, keep_all=False)
    torch.testing.assert_close(head(features.operators), reference(graph, x))


def test_sgc_training_equals_full_batch_sgc_step_for_step():
    data = load_synthetic(num_nodes=400, num_features=24, seed=4)
    train_cfg = TrainConfig(epochs=15, lr=0.2, weight_decay=5e-6, select="last", seed=3, device="cpu")
    cfg = RunConfig(data=DataConfig(dataset=data.name), model=ModelConfig(name="sgc", hparams={"K": 2}),
                    train=train_cfg)
    reference: list[dict] = []
    summary = train_node(cfg, data, torch.device("cpu"), progress=False, on_epoch=reference.append)
    curve: list[dict] = []
    result = train_precomputed(data, "sgc", {"K": 2}, train_cfg, seed=3, on_epoch=curve.append)
    assert set(result) == RESULT_KEYS
    assert len(curve) == len(reference) == 15
    for ours, theirs in zip(curve, reference):
        for key in ("train_loss", "val_loss"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), (key, ours["epoch"])
    assert result["test_acc"] == pytest.approx(summary["runs"][0]["test_acc"], abs=1e-6)


def test_weighted_sgc_training_equals_full_batch_weighted_sgc_and_follows_the_weights():
    data = load_synthetic(num_nodes=300, num_features=12, seed=6)
    weighted = dataclasses.replace(data, edge_weight=torch.rand(data.graph.num_edges,
                                                                generator=torch.Generator().manual_seed(0)) + 0.1)
    train_cfg = TrainConfig(epochs=8, lr=0.2, select="last", seed=1, device="cpu")
    cfg = RunConfig(data=DataConfig(dataset=data.name), model=ModelConfig(name="sgc", hparams={"K": 2}),
                    train=train_cfg)
    reference: list[dict] = []
    summary = train_node(cfg, weighted, torch.device("cpu"), progress=False, on_epoch=reference.append)
    assert summary["edge_weight"] == "used"
    curve: list[dict] = []
    result = train_precomputed(weighted, "sgc", {"K": 2}, train_cfg, seed=1, on_epoch=curve.append)
    assert result["edge_weight"] == "used"
    for ours, theirs in zip(curve, reference, strict=True):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-4, abs=1e-6), ours["epoch"]
    # the cached operators follow the weights: other weights, or none, give another curve
    plain: list[dict] = []
    assert train_precomputed(data, "sgc", {"K": 2}, train_cfg, seed=1, on_epoch=plain.append)["edge_weight"] == "none"
    assert [c["train_loss"] for c in plain] != [c["train_loss"] for c in curve]
    ones: list[dict] = []
    train_precomputed(dataclasses.replace(data, edge_weight=torch.ones(data.graph.num_edges)), "sgc", {"K": 2},
                      train_cfg, seed=1, on_epoch=ones.append)
    assert [c["train_loss"] for c in ones] == [c["train_loss"] for c in plain]


def test_sign_trains_in_memory_mini_batched_and_out_of_core():
    data = load_synthetic(num_nodes=600, num_features=16, seed=5)
    train_cfg = TrainConfig(epochs=20, lr=0.01, weight_decay=5e-4, device="cpu")
    hparams = {"K": 2, "hidden_dim": 32, "dropout": 0.3}
    full = train_precomputed(data, "sign", hparams, train_cfg, seed=0)
    assert set(full) == RESULT_KEYS and full["epochs_run"] == 20
    assert full["train_acc"] > 0.6  # 7 skewed classes
    batched_hparams = {**hparams, "batch_size": 48, "ppr_alpha": 0.15, "ppr_steps": 4, "norm": "mean"}
    batched = train_precomputed(data, "sign", batched_hparams, train_cfg, seed=0, memory_budget="64KB")
    assert batched["train_acc"] > 0.6
    again = train_precomputed(data, "sign", batched_hparams, train_cfg, seed=0, memory_budget="64KB")
    assert again["test_acc"] == batched["test_acc"] and again["val_loss"] == batched["val_loss"]  # seeded


def test_sizes_and_errors():
    assert budget_bytes("6GB") == 6 * 2**30 and budget_bytes("512 MiB") == 512 * 2**20
    assert budget_bytes(1000) == 1000 and budget_bytes(1e9) == 10**9
    assert budget_bytes("1.5g") == 3 * 2**29 and budget_bytes(None) is None
    for bad in ("lots", "-1GB", 0, "3 parsecs"):
        with pytest.raises(ConfigError, match="memory_budget"):
            budget_bytes(bad)
    data = load_synthetic(num_nodes=100, num_features=4, seed=0)
    train_cfg = TrainConfig(epochs=1, device="cpu")
    with pytest.raises(ConfigError, match="Did you mean 'sign'"):
        train_precomputed(data, "sing", None, train_cfg, 0)
    with pytest.raises(ConfigError, match="hidden_dims"):
        train_precomputed(data, "sign", {"hidden_dims": 3}, train_cfg, 0)
    with pytest.raises(ConfigError, match="batch_size"):
        train_precomputed(data, "sgc", {"batch_size": 0}, train_cfg, 0)
    with pytest.raises(ConfigError, match="ppr_alpha"):
        train_precomputed(data, "sign", {"ppr_alpha": 1.5}, train_cfg, 0)
    with pytest.raises(ConfigError, match=r"hparam norm: expected one of 'gcn', 'mean'"):
        train_precomputed(data, "sgc", {"norm": "row"}, train_cfg, 0)
    with pytest.raises(ShapeError, match=r"\[100, F\]"):
        precompute_features(data.graph, torch.zeros(5, 2), 2)
