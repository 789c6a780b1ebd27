"""ShaDow-GNN training: the scope's depth matters on a planted 2-hop task, results, CLI, config errors."""

from __future__ import annotations

import json

import pytest
import torch

import graphscale as gs
from graphscale.cli import main
from graphscale.config import TrainConfig
from graphscale.datasets.base import NodeDataset
from graphscale.errors import ConfigError
from graphscale.train.minibatch import train_minibatch

RESULT_KEYS = {"run", "seed", "split", "best_epoch", "epochs_run", "test_acc", "val_acc", "val_loss", "train_acc",
               "last_test_acc", "epoch_time_s", "warmup_time_s", "train_time_s", "subgraph_nodes", "subgraph_edges"}


def two_hop_task(groups: int = 240, classes: int = 3, seed: int = 0) -> NodeDataset:
    """Chains ``leaf - middle - target`` (undirected): a target's class is written only in its leaf's features,
    two hops away; targets and middles carry noise. Targets split 50/25/25; other nodes are in no split."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (groups,), generator=gen)
    target, middle, leaf = torch.arange(groups), torch.arange(groups) + groups, torch.arange(groups) + 2 * groups
    src = torch.cat([leaf, middle, middle, target])
    dst = torch.cat([middle, leaf, target, middle])
    x = torch.randn(3 * groups, 8, generator=gen) * 0.3
    x[leaf, :classes] += torch.nn.functional.one_hot(labels, classes).float()
    y = torch.cat([labels, labels, labels])
    masks = [torch.zeros(3 * groups, dtype=torch.bool) for _ in range(3)]
    order = torch.randperm(groups, generator=gen)
    masks[0][order[:groups // 2]], masks[1][order[groups // 2:3 * groups // 4]] = True, True
    masks[2][order[3 * groups // 4:]] = True
    return NodeDataset("two-hop", gs.Graph(src, dst, 3 * groups), x, y, classes, *masks)


def shadow(fanouts, **extra):
    return {"name": "shadow", "fanouts": fanouts, "batch_size": 32, "num_workers": 0, **extra}


def test_two_hop_scope_beats_one_hop_scope():
    """A 3-layer SAGE on 2-hop scopes reads the leaf; on 1-hop scopes the leaf is outside every subgraph (the
    plain baseline: the same model without the second hop), so it is at chance."""
    data = two_hop_task()
    config = TrainConfig(epochs=40, lr=0.01, weight_decay=0.0, device="cpu")
    hparams = {"hidden_dim": 16, "num_layers": 3, "dropout": 0.0}
    deep = train_minibatch(data, "sage", hparams, shadow([4, 4]), config, seed=0)
    shallow = train_minibatch(data, "sage", hparams, shadow([4]), config, seed=0)
    assert set(deep) == RESULT_KEYS
    assert deep["test_acc"] > 0.9, deep
    assert shallow["test_acc"] < 0.6, shallow  # 3 classes: chance is ~0.33
    assert deep["subgraph_nodes"] == 3 and shallow["subgraph_nodes"] == 2  # target, middle (, leaf)
    assert deep["subgraph_edges"] == 4 and shallow["subgraph_edges"] == 2


@pytest.mark.parametrize(("model", "extra"), [("gcn", {"shadow_readout": "target-mean"}),
                                              ("gin", {"shadow_readout": "target-max"}), ("gat", {}),
                                              ("sage", {"shadow_method": "ppr", "ppr_topk": 2})])
def test_zoo_models_and_ppr_scopes_train_on_subgraphs(model, extra):
    data = two_hop_task(groups=60)
    result = train_minibatch(data, model, {"num_layers": 3}, shadow([3, 3], **extra),
                             TrainConfig(epochs=2, device="cpu"), seed=1)
    assert 0.0 <= result["test_acc"] <= 1.0 and result["epochs_run"] == 2
    assert result["subgraph_nodes"] == 3  # a chain's target, middle and leaf (2 hops, or PPR's top 2)


def test_shadow_config_errors():
    data = two_hop_task(groups=20)
    with pytest.raises(ConfigError, match="sampler.eval"):
        train_minibatch(data, "sage", None, shadow([2], eval="layerwise"), TrainConfig(epochs=1), 0)
    with pytest.raises(ConfigError, match="walk_length"):
        train_minibatch(data, "sage", None, shadow([2], walk_length=3), TrainConfig(epochs=1), 0)
    with pytest.raises(ConfigError, match="shadow_method"):
        train_minibatch(data, "sage", None, shadow([2], shadow_method="bfs"), TrainConfig(epochs=1), 0)


def test_cli_train_shadow_json(tmp_path, capsys):
    code = main(["train", "--sampler", "shadow", "--fanouts", "5,5", "--batch-size", "16", "--json", "--epochs", "4",
                 "--out", str(tmp_path / "run"), "model.name=sage", "model.num_layers=3", "train.lr=0.02",
                 "output.plot=false"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert summary["sampler"] == "shadow" and 0.0 <= summary["test_acc"] <= 1.0 and summary["epochs_run"] == [4]
    assert 1 < summary["subgraph_nodes"] <= 1 + 5 + 25 and summary["subgraph_edges"] > 0


@pytest.mark.parametrize("override", ["sampler.walk_length=3", "sampler.num_parts=4", "data.node_embedding=4"])
def test_cli_rejects_settings_of_other_samplers(tmp_path, capsys, override):
    code = main(["train", "--sampler", "shadow", "--epochs", "1", "--out", str(tmp_path / "run"), override])
    assert code == 2
    assert override.split("=")[0].split(".")[1] in capsys.readouterr().err
