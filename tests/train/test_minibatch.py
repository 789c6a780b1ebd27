"""Mini-batch node classification: accuracy close to full batch, every sampler, layer-wise inference, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

import graphscale as gs
from graphscale.config.schema import SAMPLER_KEYS
from graphscale.config import TrainConfig
from graphscale.datasets import load_synthetic, random_split
from graphscale.errors import ConfigError
from graphscale.nn.conv import SAGEConv
from graphscale.nn.models import build_node_model
from graphscale.train.metrics import accuracy
from graphscale.train.minibatch import SamplerConfig, layerwise_inference, train_minibatch

RESULT_KEYS = {"run", "seed", "split", "best_epoch", "epochs_run", "test_acc", "val_acc", "val_loss", "train_acc",
               "last_test_acc", "epoch_time_s", "warmup_time_s", "train_time_s"}  # a run of train_node


@pytest.fixture(scope="module")
def dataset():
    """A 1,200-node SBM with noisy class-centroid features and a 30/20/50 random split."""
    data = load_synthetic(num_nodes=1200, seed=3)
    train, val, test = random_split(data.num_nodes, 0.3, 0.2, seed=0)
    return dataclasses.replace(data, train_mask=train, val_mask=val, test_mask=test)


def full_batch_sage(data, epochs: int, seed: int) -> float:
    """Test accuracy at the best validation epoch of full-batch training (the reference)."""
    gs.seed(seed)
    model = build_node_model("sage", data.num_features, data.num_classes, hidden_dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best = (-1.0, 0.0)
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(data.graph, data.x)[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(data.graph, data.x)
        best = max(best, (accuracy(logits, data.y, data.val_mask), accuracy(logits, data.y, data.test_mask)))
    return best[1]


def test_neighbor_sampled_sage_is_close_to_full_batch(dataset):
    full = full_batch_sage(dataset, epochs=80, seed=0)
    result = train_minibatch(dataset, "sage", {"hidden_dim": 32},
                             {"name": "neighbor", "fanouts": [10, 10], "batch_size": 64, "num_workers": 1},
                             TrainConfig(epochs=25, device="cpu"), seed=0)
    assert set(result) == RESULT_KEYS
    assert full > 0.65  # the task is learnable (an MLP on the features alone gets far less)
    assert result["test_acc"] > full - 0.05, (result["test_acc"], full)
    assert result["epochs_run"] == 25 and 0 <= result["best_epoch"] < 25


@pytest.mark.parametrize(("name", "extra"), [("cluster", {}), ("cluster", {"cluster_norm": "unbiased"}),
                                             ("saint-node", {}), ("saint-edge", {}), ("saint-rw", {})])
def test_every_sampler_trains(dataset, name, extra, tmp_path):
    given = {"num_parts": 24, "clusters_per_batch": 4, "cache_dir": str(tmp_path), "coverage": 5.0, **extra}
    own = SAMPLER_KEYS[name]  # a key of another sampler is an error
    config = {"name": name, "num_workers": 2, **{k: v for k, v in given.items() if k in own}}
    result = train_minibatch(dataset, "sage", {"hidden_dim": 16}, config, TrainConfig(epochs=4, device="cpu"), seed=1)
    assert set(result) == RESULT_KEYS
    assert result["train_acc"] > 0.3  # 7 classes: chance is ~0.14
    if name == "cluster":
        assert list(tmp_path.glob("metis-p24-*.npy"))  # the partition was cached


def test_minibatch_runs_are_deterministic(dataset):
    config = {"name": "neighbor", "fanouts": [5, 5], "batch_size": 128, "num_workers": 2}
    runs = [train_minibatch(dataset, "gcn", {"hidden_dim": 8}, config, TrainConfig(epochs=2, device="cpu"), seed=4)
            for _ in range(2)]
    assert runs[0]["val_loss"] == runs[1]["val_loss"] and runs[0]["test_acc"] == runs[1]["test_acc"]


def test_layerwise_inference_equals_full_forward(dataset):
    torch.manual_seed(0)
    model = build_node_model("sage", dataset.num_features, dataset.num_classes, hidden_dim=16, num_layers=3).eval()
    with torch.no_grad():
        expected = model(dataset.graph, dataset.x)
    torch.testing.assert_close(layerwise_inference(model, dataset.graph, dataset.x, batch_size=500), expected)
    with pytest.raises(ConfigError, match="layer-wise"):
        layerwise_inference(build_node_model("gcn", dataset.num_features, 3), dataset.graph, dataset.x, 100)


def test_sage_edge_weight_is_a_weighted_sum():
    graph = gs.Graph(torch.tensor([0, 1, 2, 2]), torch.tensor([1, 2, 1, 0]), 3)
    conv = SAGEConv(4, 2)
    x = torch.randn(3, 4)
    inverse_degree = 1.0 / graph.in_degrees()[graph.dst.long()].float()
    torch.testing.assert_close(conv(graph, x, edge_weight=inverse_degree), conv(graph, x))
    doubled = conv(graph, x, edge_weight=2 * inverse_degree) - conv.lin_root(x) - conv.bias
    torch.testing.assert_close(doubled, 2 * (conv(graph, x) - conv.lin_root(x) - conv.bias))
    with pytest.raises(ConfigError, match="mean aggregator"):
        SAGEConv(4, 2, aggregator="pool")(graph, x, edge_weight=inverse_degree)


def test_config_errors(dataset):
    with pytest.raises(ConfigError, match="Did you mean 'fanouts'"):
        SamplerConfig.from_any({"fanout": [5]})
    with pytest.raises(ConfigError, match="sampler.name"):
        SamplerConfig.from_any("saint")
    with pytest.raises(ConfigError, match="expected 2 fanouts"):
        train_minibatch(dataset, "sage", {"hidden_dim": 8}, {"fanouts": [5, 5, 5]}, TrainConfig(epochs=1), 0)
    with pytest.raises(ConfigError, match="layer-wise"):
        train_minibatch(dataset, "gcn", None, {"eval": "layerwise"}, TrainConfig(epochs=1), 0)
    with pytest.raises(ConfigError, match="cluster_norm"):
        train_minibatch(dataset, "gat", None, {"name": "cluster", "num_parts": 8, "cluster_norm": "unbiased"},
                        TrainConfig(epochs=1), 0)
    with pytest.raises(ConfigError, match="cluster_norm"):
        SamplerConfig.from_any({"name": "cluster", "cluster_norm": "full"})
