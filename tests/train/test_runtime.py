"""Output folders: refused when taken, rolled back on a failed run, kept aside under --overwrite."""

from __future__ import annotations

import pytest
import torch

from graphscale.errors import ConfigError, DatasetError
from graphscale.train.runtime import numbered_default, output_folder

ARTIFACTS = ("config.yaml", "metrics.json", "checkpoints")


def earlier_run(folder):
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.yaml").write_text("old config\n")
    (folder / "metrics.json").write_text("old metrics\n")
    (folder / "checkpoints" / "run0.pt").write_text("old checkpoint\n")
    return folder


def contents(folder):
    return {str(p.relative_to(folder)): p.read_text() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path):
    folder = earlier_run(tmp_path / "run")
    before = contents(folder)
    with pytest.raises(ConfigError, match="earlier run .*--resume.*--overwrite"):
        with output_folder(folder, ARTIFACTS):
            pytest.fail("the body must not run")
    assert contents(folder) == before


def test_a_failed_overwrite_puts_the_earlier_run_back(tmp_path):
    folder = earlier_run(tmp_path / "run")
    (folder / "notes.txt").write_text("the user's\n")
    before = contents(folder)
    with pytest.raises(DatasetError):
        with output_folder(folder, ARTIFACTS, overwrite=True):
            assert not (folder / "metrics.json").exists()  # the earlier run is out of the way
            (folder / "config.yaml").write_text("new config\n")
            (folder / "checkpoints").mkdir()
            (folder / "checkpoints" / "run0.pt").write_text("new checkpoint\n")
            raise DatasetError("found late")
    assert contents(folder) == before


def test_a_finished_overwrite_drops_the_earlier_run(tmp_path):
    folder = earlier_run(tmp_path / "run")
    with output_folder(folder, ARTIFACTS, overwrite=True):
        (folder / "metrics.json").write_text("new metrics\n")
    assert contents(folder) == {"metrics.json": "new metrics\n"}


def test_an_interrupted_overwrite_keeps_the_earlier_run_until_a_later_run_finishes(tmp_path):
    folder = earlier_run(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        with output_folder(folder, ARTIFACTS, overwrite=True):
            (folder / "checkpoints").mkdir()
            (folder / "checkpoints" / "run0.pt").write_text("new checkpoint\n")
            raise KeyboardInterrupt
    (backup,) = folder.glob(".replaced-*")
    assert (backup / "metrics.json").read_text() == "old metrics\n"
    assert (folder / "checkpoints" / "run0.pt").read_text() == "new checkpoint\n"  # --resume continues it
    with output_folder(folder, ARTIFACTS, resume=True):
        (folder / "metrics.json").write_text("new metrics\n")
    assert not list(folder.glob(".replaced-*"))


def test_a_failed_run_in_a_new_folder_leaves_nothing(tmp_path):
    folder = tmp_path / "a" / "b" / "run"
    with pytest.raises(DatasetError):
        with output_folder(folder, ARTIFACTS):
            (folder / "config.yaml").write_text("x")
            raise DatasetError("bad input")
    assert not (tmp_path / "a").exists()


def test_a_failed_resume_keeps_what_the_run_had(tmp_path):
    folder = earlier_run(tmp_path / "run")
    with pytest.raises(DatasetError):
        with output_folder(folder, ARTIFACTS, resume=True):
            raise DatasetError("bad input")
    assert (folder / "checkpoints" / "run0.pt").is_file()


def test_partial_writes_of_a_killed_run_are_removed(tmp_path):
    folder = earlier_run(tmp_path / "run")
    (folder / "checkpoints" / ".run1.pt.abc123.tmp").write_text("half")
    (folder / ".training_curve.png.tmp.png").write_text("half")
    (folder / ".hidden-but-mine").write_text("kept")
    with output_folder(folder, ARTIFACTS, resume=True):
        pass
    assert sorted(p.name for p in folder.rglob(".*")) == [".hidden-but-mine"]


def test_numbered_default_folders(tmp_path):
    base = tmp_path / "runs" / "cora-gcn"
    assert numbered_default(base, ARTIFACTS, resume=False) == base
    assert numbered_default(base, ARTIFACTS, resume=True) == base
    earlier_run(base)
    assert numbered_default(base, ARTIFACTS, resume=False) == base.with_name("cora-gcn-2")
    assert numbered_default(base, ARTIFACTS, resume=True) == base
    earlier_run(base.with_name("cora-gcn-2"))
    assert numbered_default(base, ARTIFACTS, resume=True) == base.with_name("cora-gcn-2")
    assert numbered_default(base, ARTIFACTS, resume=False) == base.with_name("cora-gcn-3")


@pytest.mark.parametrize("where", ["file", "under-file", "read-only"])
def test_unusable_paths_are_refused_before_anything_is_made(tmp_path, where):
    (tmp_path / "file").write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    path = {"file": tmp_path / "file", "under-file": tmp_path / "file" / "run", "read-only": locked / "run"}[where]
    try:
        with pytest.raises(ConfigError, match="--out"):
            with output_folder(path, ARTIFACTS):
                pytest.fail("the body must not run")
    finally:
        locked.chmod(0o700)
    assert not (locked / "run").exists()


def test_a_dataset_without_a_published_split_still_trains_on_a_random_one(tmp_path):
    """check_trainable asks for labelled nodes, not for masks: without them the trainer draws a split."""
    import dataclasses

    from graphscale import config
    from graphscale.datasets import load_synthetic
    from graphscale.train.run import run

    data = dataclasses.replace(load_synthetic(num_nodes=200, seed=1), train_mask=None, val_mask=None, test_mask=None)
    cfg = config.load(None, ["train.epochs=2", "train.seeds=1", "model.hidden_dim=4", "output.plot=false",
                             f"output.dir={tmp_path / 'out'}"])
    assert 0.0 <= run(cfg, progress=False, dataset=data)["test_acc"] <= 1.0
    few = dataclasses.replace(data, y=data.y.masked_fill(torch.arange(200) >= 4, -1))
    with pytest.raises(DatasetError, match="at least 5 labelled nodes"):
        run(cfg, progress=False, dataset=few, overwrite=True)
