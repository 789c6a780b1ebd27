"""run() on the scaled paths: dispatch by sampler/model, multi-seed summary, interrupted runs resume."""

from __future__ import annotations

import dataclasses
import json

import pytest

from graphscale import config
from graphscale.datasets import load_synthetic, random_split
from graphscale.errors import ConfigError
from graphscale.train.run import compact, run
from graphscale.train.node import trainer_kind

SUMMARY_KEYS = {"dataset", "model", "task", "sampler", "test_acc", "test_acc_std", "val_acc", "val_acc_std",
                "train_acc", "seeds", "epochs", "epoch_time_s", "warmup_time_s", "train_time_s", "peak_rss_mb",
                "epochs_run", "num_nodes", "num_edges", "num_classes", "per_seed_test_acc"}


@pytest.fixture(scope="module")
def dataset():
    data = load_synthetic(num_nodes=400, seed=5)
    train, val, test = random_split(data.num_nodes, 0.4, 0.2, seed=0)
    return dataclasses.replace(data, train_mask=train, val_mask=val, test_mask=test)


def make(tmp_path, *overrides: str):
    neighbor = ["sampler.fanouts=4,4", "sampler.batch_size=64"] if "sampler.name=neighbor" in overrides else []
    return config.load(None, ["model.name=sage", "model.hidden_dim=8", "train.epochs=3", "train.seeds=3",
                              *neighbor, f"output.dir={tmp_path / 'out'}", "output.plot=false", *overrides])


@pytest.mark.parametrize("overrides,kind", [
    ((), "full"), (("sampler.name=neighbor",), "minibatch"), (("sampler.name=saint-rw",), "minibatch"),
    (("sampler.name=gas",), "gas"), (("model.name=sign",), "precomputed"), (("model.name=sgc",), "precomputed"),
    (("model.name=sgc", "sampler.name=cluster"), "minibatch"),
])
def test_trainer_kind(tmp_path, overrides, kind):
    assert trainer_kind(make(tmp_path, *overrides)) == kind


def test_interrupted_sampler_run_resumes_without_redoing_finished_seeds(tmp_path, dataset):
    cfg = make(tmp_path, "sampler.name=neighbor")
    reference = compact(run(cfg, progress=False, dataset=dataset))
    assert SUMMARY_KEYS <= set(reference) and reference["sampler"] == "neighbor"
    assert reference["epochs_run"] == [3, 3, 3] and len(reference["per_seed_test_acc"]) == 3

    def interrupt(metrics):
        if metrics["run"] == 1 and metrics["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, on_epoch=interrupt, dataset=dataset, overwrite=True)
    checkpoints = tmp_path / "out" / "checkpoints"
    assert (checkpoints / "run0.pt").is_file() and not (checkpoints / "run1.pt").exists()
    seen: list[tuple[int, int]] = []
    resumed = compact(run(cfg, resume=True, progress=False, on_epoch=lambda m: seen.append((m["run"], m["epoch"])),
                          dataset=dataset))
    assert {r for r, _ in seen} == {1, 2}  # seed 0 came from its checkpoint
    assert resumed["per_seed_test_acc"] == reference["per_seed_test_acc"]  # and the rest is deterministic


def test_normalized_features_reach_the_minibatch_trainer(tmp_path, dataset):
    shifted = dataclasses.replace(dataset, x=dataset.x.abs() * 7.0)  # row normalisation removes the scale
    plain = run(make(tmp_path, "sampler.name=cluster", "sampler.num_parts=8", "train.seeds=1",
                     "data.normalize_features=true", f"sampler.cache_dir={tmp_path}"), progress=False,
                dataset=dataclasses.replace(dataset, x=dataset.x.abs()))
    scaled = run(make(tmp_path, "sampler.name=cluster", "sampler.num_parts=8", "train.seeds=1",
                      "data.normalize_features=true", f"sampler.cache_dir={tmp_path}"), progress=False,
                 dataset=shifted, overwrite=True)
    assert plain["runs"][0]["val_loss"] == pytest.approx(scaled["runs"][0]["val_loss"], rel=1e-4)


def test_mismatches_fail_before_training(tmp_path, dataset):
    with pytest.raises(ConfigError, match="expected none for model 'sign'"):
        run(make(tmp_path, "model.name=sign", "sampler.name=neighbor"), progress=False, dataset=dataset)
    with pytest.raises(ConfigError, match="data.split: expected an index < 1"):
        run(make(tmp_path, "sampler.name=neighbor", "data.split=3"), progress=False, dataset=dataset)
    run(make(tmp_path, "train.seeds=1", "train.epochs=1"), progress=False, dataset=dataset)  # a full-batch run
    with pytest.raises(ConfigError, match="config.yaml was written with sampler.name='none', got 'neighbor'"):
        run(make(tmp_path, "train.seeds=1", "sampler.name=neighbor"), resume=True, progress=False, dataset=dataset)


def test_reduce_features_is_the_truncated_svd(dataset):
    import torch

    from graphscale.train.run import reduce_features

    generator = torch.Generator().manual_seed(0)
    low_rank = torch.randn(400, 6, generator=generator) @ torch.randn(6, 40, generator=generator)
    x = (low_rank + 0.01 * torch.randn(400, 40, generator=generator)).float()
    reduced = reduce_features(dataclasses.replace(dataset, x=x, meta={}), 6)
    assert reduced.x.shape == (400, 6) and reduced.meta["feature_svd"] == 6
    exact = torch.linalg.svdvals(x.double())[:6].float()
    torch.testing.assert_close(torch.linalg.svdvals(reduced.x), exact, rtol=1e-3, atol=1e-3)
    # U_k S_k keeps the inner products of the rank-k approximation: x x^T ~ (U S)(U S)^T
    torch.testing.assert_close(reduced.x @ reduced.x.T, x @ x.T, rtol=0.0, atol=0.05 * float((x @ x.T).abs().max()))
    assert reduce_features(reduced, 6) is reduced
    with pytest.raises(ConfigError, match="data.feature_svd: expected fewer dimensions than the 40"):
        reduce_features(dataclasses.replace(dataset, x=x, meta={}), 40)


@pytest.mark.parametrize("overrides", [("sampler.name=neighbor",), ("sampler.name=gas", "sampler.num_parts=8"),
                                       ("model.name=sign",)], ids=["neighbor", "gas", "sign"])
def test_interrupted_run_continues_from_its_last_checkpoint(tmp_path, dataset, overrides):
    """Every trainer runs on the one engine: a run killed mid-way continues from its checkpoint, not from
    scratch, and ends exactly where the uninterrupted run ends (GAS histories included)."""
    metis = (f"sampler.cache_dir={tmp_path}",) if "sampler.name=gas" in overrides else ()
    extra = (*overrides, *metis, "train.epochs=6", "train.seeds=1", "train.patience=0", "output.checkpoint_every=2")
    reference = run(make(tmp_path / "a", *extra), progress=False, dataset=dataset)

    def interrupt(metrics):
        if metrics["epoch"] == 4:  # after the checkpoint of epoch 4 (epochs 0-3 done), before the next
            raise KeyboardInterrupt

    cfg = make(tmp_path / "b", *extra)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, on_epoch=interrupt, dataset=dataset)
    seen: list[int] = []
    resumed = run(cfg, resume=True, progress=False, on_epoch=lambda m: seen.append(m["epoch"]), dataset=dataset)
    assert seen == [4, 5]
    for key in ("test_acc", "val_acc", "val_loss", "best_epoch", "epochs_run"):
        assert resumed["runs"][0][key] == reference["runs"][0][key], key
    curves = [json.loads((tmp_path / part / "out" / "history.json").read_text()) for part in ("a", "b")]
    assert curves[0] == curves[1] and len(curves[0]["curves"][0]["val_acc"]) == 6
