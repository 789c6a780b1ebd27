"""PPRGo trainer (graphscale.train.pprgo): beats its plain-MLP baseline on a planted homophilous graph, CLI JSON
summary with the phase figures, bad input."""

from __future__ import annotations

import json

import pytest
import torch

import graphscale as gs
from graphscale import config
from graphscale.cli import main
from graphscale.datasets.base import NodeDataset, random_split
from graphscale.train.node import train_node
from graphscale.train.pprgo import NeighborLists


def planted(num_nodes: int = 240, num_classes: int = 4, seed: int = 0) -> NodeDataset:
    """SBM with 4 communities (90% of edges inside) and features that barely tell the classes apart."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % num_classes
    prob = torch.where(y[:, None] == y[None, :], 0.08, 0.003)
    adj = (torch.rand(num_nodes, num_nodes, generator=gen) < prob).triu(1)
    src, dst = (adj | adj.T).nonzero().T
    signal = torch.cat([0.6 * torch.nn.functional.one_hot(y, num_classes).float(), torch.zeros(num_nodes, 4)], 1)
    x = signal + torch.randn(num_nodes, 8, generator=gen)  # [N, 8]
    return NodeDataset("planted", gs.Graph(src, dst, num_nodes), x, y, num_classes,
                       *random_split(num_nodes, 0.2, 0.2, seed=0))


def summary_of(dataset: NodeDataset, *overrides: str) -> dict:
    cfg = config.load(None, ["model.name=pprgo", "train.epochs=60", "train.lr=0.02", "train.seeds=2",
                             "train.device=cpu", "model.hidden_dim=16", "model.alpha=0.15", "model.K=10",
                             "model.ppr_topk=16", "model.batch_size=16", *overrides])
    return train_node(cfg, dataset, torch.device("cpu"), progress=False)


def test_ppr_propagation_beats_the_plain_mlp_baseline():
    dataset = planted()
    method = summary_of(dataset)
    # the baseline: each node's own features only (top-1 list = the node itself, no propagation at inference)
    baseline = summary_of(dataset, "model.ppr_topk=1", "model.K=0")
    assert baseline["ppr_neighbors"] == 1.0 and method["ppr_neighbors"] > 10
    assert method["test_acc"] > baseline["test_acc"] + 0.15, (method["test_acc"], baseline["test_acc"])
    assert method["test_acc"] > 0.7
    # inference from the top-k rows of every node agrees with the paper's propagation
    topk = summary_of(dataset, "model.inference=topk")
    assert topk["test_acc"] > baseline["test_acc"] + 0.15
    for key in ("ppr_s", "train_s", "inference_s", "end_to_end_s", "ppr_peak_rss_mb", "inference_peak_rss_mb"):
        assert method[key] >= 0, key
    assert method["ppr_roots"] == int(dataset.train_mask.sum() + dataset.val_mask.sum())


def test_neighbor_lists_take_gathers_the_rows_lists():
    lists = NeighborLists(torch.tensor([0, 2, 2, 5]).numpy(), torch.tensor([4, 1, 7, 8, 9]).numpy(),
                          torch.tensor([0.5, 0.25, 0.4, 0.3, 0.2]).numpy())
    ptr, neighbors, scores = lists.take(torch.tensor([2, 0, 1]))
    assert ptr.tolist() == [0, 3, 5, 5] and neighbors.tolist() == [7, 8, 9, 4, 1]
    torch.testing.assert_close(scores, torch.tensor([0.4, 0.3, 0.2, 0.5, 0.25]))


def test_cli_train_pprgo_json(tmp_path, capsys):
    code = main(["train", "--model", "pprgo", "--json", "--out", str(tmp_path / "run"), "--epochs", "5",
                 "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["model"] == "pprgo" and summary["dataset"] == "synthetic" and summary["sampler"] == "none"
    for key in ("ppr_s", "train_s", "inference_s", "end_to_end_s", "peak_rss_mb", "ppr_peak_rss_mb",
                "train_peak_rss_mb", "inference_peak_rss_mb"):
        assert isinstance(summary[key], float) and summary[key] >= 0, key
    assert summary["test_acc"] > 0.3  # 7 classes


@pytest.mark.parametrize("argv,needle", [
    (["model.ppr_topk=0"], "ppr_topk: expected int >= 1, got 0"),
    (["model.ppr_eps=0"], "ppr_eps: expected float > 0"),
    (["model.ppr_norm=l1"], "ppr_norm"),
    (["--sampler", "neighbor"], "expected none for model 'pprgo'"),
])
def test_bad_input_exits_2(tmp_path, capsys, argv, needle):
    code = main(["train", "--model", "pprgo", "--out", str(tmp_path / "bad"), "--epochs", "1", *argv])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
