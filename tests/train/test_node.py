"""Full-batch node trainer: learning, split rotation, early stopping, interrupt + resume equality."""

from __future__ import annotations

import json

import pytest
import torch

import graphscale as gs
from graphscale import config
from graphscale.datasets.base import NodeDataset, random_split
from graphscale.train import load_checkpoint, run


def two_block_sbm(num_nodes: int = 80, num_splits: int = 0, seed: int = 0) -> NodeDataset:
    """Two communities, noisy one-hot features: a GCN should beat the features alone."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % 2
    prob = torch.where(y[:, None] == y[None, :], 0.2, 0.01)
    adj = (torch.rand(num_nodes, num_nodes, generator=generator) < prob).triu(1)
    src, dst = (adj | adj.T).nonzero().T
    x = torch.nn.functional.one_hot(y, 2).float() + 1.0 * torch.randn(num_nodes, 2, generator=generator)
    if num_splits == 0:
        masks = random_split(num_nodes, 0.3, 0.2, seed=0)
    else:
        parts = [random_split(num_nodes, 0.3, 0.2, seed=s) for s in range(num_splits)]
        masks = tuple(torch.stack([p[i] for p in parts], dim=1) for i in range(3))
    return NodeDataset("sbm", gs.Graph(src, dst, num_nodes), x, y, 2, *masks)


def overrides(tmp_path, name, *extra):
    return ["train.epochs=30", "model.hidden_dim=8", "train.lr=0.05", "output.plot=false",
            f"output.dir={tmp_path / name}", "train.device=cpu", *extra]


def test_trains_and_writes_outputs(tmp_path):
    cfg = config.load(None, overrides(tmp_path, "a", "train.seeds=2", "output.plot=true"))
    summary = run(cfg, dataset=two_block_sbm(), progress=False)
    assert summary["task"] == "node" and summary["num_nodes"] == 80 and summary["seeds"] == 2
    assert summary["test_acc"] > 0.75, summary
    assert len(summary["runs"]) == 2 and [r["seed"] for r in summary["runs"]] == [0, 1]
    assert summary["epoch_time_s"] > 0 and summary["peak_rss_mb"] > 0
    out = tmp_path / "a"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_acc"] == pytest.approx(summary["test_acc"])
    history = json.loads((out / "history.json").read_text())["curves"]
    for run_result, curve in zip(summary["runs"], history):
        # the reported test accuracy is the one at the best-validation epoch
        assert curve["test_acc"][run_result["best_epoch"]] == run_result["test_acc"]
        assert max(curve["val_acc"]) == run_result["val_acc"]
    assert config.load(out / "config.yaml").train.epochs == 30
    assert (out / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["run0.pt", "run1.pt"]


def test_multi_split_rotation_and_fixed_split(tmp_path):
    ds = two_block_sbm(num_splits=3)
    summary = run(config.load(None, overrides(tmp_path, "b", "train.seeds=4", "train.epochs=3")),
                  dataset=ds, progress=False)
    assert [r["split"] for r in summary["runs"]] == [0, 1, 2, 0]
    summary = run(config.load(None, overrides(tmp_path, "c", "train.seeds=2", "train.epochs=3", "data.split=2")),
                  dataset=ds, progress=False)
    assert [r["split"] for r in summary["runs"]] == [2, 2]
    with pytest.raises(gs.ConfigError, match=r"data.split: expected an index < 3"):
        run(config.load(None, overrides(tmp_path, "d", "data.split=5")), dataset=ds, progress=False)


def test_early_stopping(tmp_path):
    cfg = config.load(None, overrides(tmp_path, "e", "train.epochs=300", "train.patience=5", "train.lr=0.2",
                                      "train.select=val_loss"))
    summary = run(cfg, dataset=two_block_sbm(), progress=False)
    result = summary["runs"][0]
    assert result["epochs_run"] < 300
    assert result["epochs_run"] == result["best_epoch"] + 1 + 5


def test_interrupt_and_resume_gives_the_same_result(tmp_path):
    ds = two_block_sbm()
    extra = ("train.seeds=2", "model.dropout=0.5", "output.checkpoint_every=4", "train.epochs=18")
    full = run(config.load(None, overrides(tmp_path, "full", *extra)), dataset=ds, progress=False)

    def interrupt(metrics):
        if metrics["run"] == 1 and metrics["epoch"] == 9:  # after the checkpoint of epoch 8, before 12
            raise KeyboardInterrupt

    cfg = config.load(None, overrides(tmp_path, "part", *extra))
    with pytest.raises(KeyboardInterrupt):
        run(cfg, dataset=ds, progress=False, on_epoch=interrupt)
    partial = load_checkpoint(tmp_path / "part" / "checkpoints" / "run1.pt")
    assert partial["epoch"] == 8 and not partial["done"]
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "run0.pt")["done"]

    resumed = run(cfg, dataset=ds, progress=False, resume=True)
    for a, b in zip(full["runs"], resumed["runs"]):
        for key in ("test_acc", "val_acc", "val_loss", "best_epoch", "epochs_run"):
            assert a[key] == b[key], key
    final_a = load_checkpoint(tmp_path / "full" / "checkpoints" / "run1.pt")
    final_b = load_checkpoint(tmp_path / "part" / "checkpoints" / "run1.pt")
    assert final_a["history"] == final_b["history"]
    assert all(torch.equal(final_a["model"][k], final_b["model"][k]) for k in final_a["model"])

    with pytest.raises(gs.ConfigError, match="--resume"):
        run(config.load(None, overrides(tmp_path, "part", *extra, "train.lr=0.01")), dataset=ds, progress=False,
            resume=True)
