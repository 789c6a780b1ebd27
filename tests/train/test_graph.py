"""Graph-classification trainer: GIN protocol on a tiny rings-vs-paths dataset, resume equality."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale import config
from graphscale.datasets.base import GraphDataset
from graphscale.train import load_checkpoint, run


def rings_and_paths(num_graphs: int = 24, seed: int = 0) -> GraphDataset:
    """Label 1: a cycle of 7-9 nodes, label 0: a path of 3-5 nodes; constant features, so only structure tells."""
    generator = torch.Generator().manual_seed(seed)
    graphs, xs, ys = [], [], []
    for i in range(num_graphs):
        n = int(torch.randint(3, 6, (1,), generator=generator)) + 4 * (i % 2)
        src, dst = torch.arange(n - 1), torch.arange(1, n)
        if i % 2:
            src, dst = torch.cat([src, torch.tensor([n - 1])]), torch.cat([dst, torch.tensor([0])])
        graphs.append(gs.Graph(torch.cat([src, dst]), torch.cat([dst, src]), n))
        xs.append(torch.ones(n, 1))
        ys.append(i % 2)
    return GraphDataset("rings", graphs, xs, torch.tensor(ys), 2)


def overrides(tmp_path, name, *extra):
    return ["model.name=gin", "model.hidden_dim=16", "model.num_layers=3", "train.epochs=10", "train.folds=3",
            "train.batch_size=4", "train.lr=0.03", "train.lr_step=5", "train.weight_decay=0", "output.plot=false",
            "train.device=cpu", f"output.dir={tmp_path / name}", *extra]


def test_gin_protocol_on_tiny_dataset(tmp_path):
    summary = run(config.load(None, overrides(tmp_path, "a")), dataset=rings_and_paths(), progress=False)
    assert summary["task"] == "graph" and summary["num_graphs"] == 24 and summary["num_folds"] == 3
    assert len(summary["folds"]) == 3 and sum(f["num_test"] for f in summary["folds"]) == 24
    curve = np.array(json.loads((tmp_path / "a" / "history.json").read_text())["curves"][0]["test_acc"])
    per_fold = np.array([load_checkpoint(tmp_path / "a" / "checkpoints" / f"rep0-fold{k}.pt")["history"]["test_acc"]
                         for k in range(3)])
    assert np.allclose(per_fold.mean(0), curve)
    # GIN protocol: the epoch maximising the fold-averaged curve; last epoch recorded beside it.
    assert summary["best_epoch"] == int(curve.argmax())
    assert summary["test_acc"] == pytest.approx(curve.max())
    assert summary["test_acc_std"] == pytest.approx(per_fold[:, summary["best_epoch"]].std())
    assert summary["last_epoch_test_acc"] == pytest.approx(per_fold[:, -1].mean())
    assert summary["test_acc"] >= 0.8, summary  # sum readout separates the two classes


def test_folds_are_stratified_and_seeded(tmp_path):
    ds = rings_and_paths()
    a = run(config.load(None, overrides(tmp_path, "b", "train.epochs=1")), dataset=ds, progress=False)
    b = run(config.load(None, overrides(tmp_path, "c", "train.epochs=1")), dataset=ds, progress=False)
    assert [f["last_test_acc"] for f in a["folds"]] == [f["last_test_acc"] for f in b["folds"]]
    assert all(f["num_test"] == 8 for f in a["folds"])
    with pytest.raises(gs.ConfigError, match="train.folds: expected at most 24 folds"):
        run(config.load(None, overrides(tmp_path, "d", "train.folds=50")), dataset=ds, progress=False)


def test_interrupt_and_resume_gives_the_same_result(tmp_path):
    ds = rings_and_paths()
    extra = ("train.epochs=6", "output.checkpoint_every=3", "train.batch_size=8")
    full = run(config.load(None, overrides(tmp_path, "full", *extra)), dataset=ds, progress=False)

    def interrupt(metrics):
        if metrics["fold"] == 1 and metrics["epoch"] == 4:
            raise KeyboardInterrupt

    cfg = config.load(None, overrides(tmp_path, "part", *extra))
    with pytest.raises(KeyboardInterrupt):
        run(cfg, dataset=ds, progress=False, on_epoch=interrupt)
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "rep0-fold1.pt")["epoch"] == 3
    resumed = run(cfg, dataset=ds, progress=False, resume=True)
    for key in ("test_acc", "test_acc_std", "best_epoch", "last_epoch_test_acc"):
        assert full[key] == resumed[key], key
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "rep0-fold1.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "rep0-fold1.pt")
    assert a["history"] == b["history"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_edge_features_go_to_edge_models_only(tmp_path):
    ds = rings_and_paths(num_graphs=12)
    ds.edge_attrs = [torch.ones(g.num_edges, 3) for g in ds.graphs]
    for name in ("gin", "gine"):
        summary = run(config.load(None, overrides(tmp_path, name, f"model.name={name}", "train.epochs=1",
                                                  "train.folds=2", "model.num_layers=2")),
                      dataset=ds, progress=False)
        assert summary["model"] == name and len(summary["folds"]) == 2
    with pytest.raises(gs.ConfigError, match=r"model.name: .*got 'gni'.*Did you mean 'gin'"):
        run(config.load(None, overrides(tmp_path, "x", "model.name=gni")), dataset=ds, progress=False)
