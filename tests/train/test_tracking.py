"""``--tensorboard``: every logged scalar of train, kg and embed runs lands in TensorBoard event files that
TensorBoard's own reader reads back, beside an unchanged metrics.json."""

from __future__ import annotations

import json

import pytest

from graphscale.cli import main

pytest.importorskip("tensorboard", reason="tensorboard is in the test extra")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_train_writes_every_epoch_of_every_seed(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--json", "--out", str(out), "--tensorboard", "train.epochs=4", "--seeds", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    logged = scalars(out / "tensorboard")
    for run in (0, 1):
        assert [step for step, _ in logged[f"run{run}/train_loss"]] == [0, 1, 2, 3]
        assert len(logged[f"run{run}/val_acc"]) == 4
    history = json.loads((out / "history.json").read_text())
    first = history[0] if isinstance(history, list) else history
    assert summary["test_acc"] > 0 and first  # metrics.json and history.json are written as before


def test_kg_and_embed_log_their_curves(tmp_path, capsys):
    folder = tmp_path / "kg"
    folder.mkdir()
    triples = [(f"e{i}", f"r{i % 2}", f"e{(i + 1) % 12}") for i in range(12)]
    for split, rows in (("train", triples), ("valid", triples[:3]), ("test", triples[3:6])):
        (folder / f"{split}.txt").write_text("".join("\t".join(t) + "\n" for t in rows))
    assert main(["kg", "--dataset", str(folder), "--model", "transe", "--dim", "8", "--epochs", "3", "--json",
                 "--no-progress", "--tensorboard", "--out", str(tmp_path / "kg-run"), "train.batch_size=4",
                 "train.negatives=4"]) == 0
    kg_logged = scalars(tmp_path / "kg-run" / "tensorboard")  # steps: progress.jsonl's 1-based epochs
    assert [step for step, _ in kg_logged["loss"]] == [1, 2, 3] and len(kg_logged["lr"]) == 3
    assert (tmp_path / "kg-run" / "training_curve.png").is_file()  # loss and validation MRR
    edges = tmp_path / "ring.txt"
    edges.write_text("".join(f"{i} {(i + 1) % 10}\n" for i in range(10)))
    assert main(["embed", "--dataset", str(edges), "--model", "deepwalk", "--dim", "8", "--json", "--no-progress",
                 "--tensorboard", "--out", str(tmp_path / "embed-run"), "model.num_walks=4",
                 "model.walk_length=10", "train.pool_size=64"]) == 0
    losses = scalars(tmp_path / "embed-run" / "tensorboard")["train_loss"]
    assert len(losses) >= 2 and all(value > 0 for _, value in losses)  # one point per pool
    capsys.readouterr()


def test_missing_tensorboard_is_one_clear_line_before_any_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tensorboard", None)  # import tensorboard -> ImportError
    assert main(["train", "--out", str(tmp_path / "run"), "--tensorboard", "train.epochs=2"]) == 2
    assert "expected the tensorboard package" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_plots_mark_the_selected_epoch_and_kg_runs_plot_mrr(tmp_path, capsys, monkeypatch):
    """The training curve draws each run's kept epoch; a KG run plots its loss and validation MRR."""
    import graphscale.train.plot as plot

    drawn = []
    real_axvline = None

    def spy(self, x=0, *args, **kwargs):
        drawn.append(x)
        return real_axvline(self, x, *args, **kwargs)

    import matplotlib.axes

    real_axvline = matplotlib.axes.Axes.axvline
    monkeypatch.setattr(matplotlib.axes.Axes, "axvline", spy)
    out = tmp_path / "run"
    assert main(["train", "--json", "--out", str(out), "train.epochs=6", "--seeds", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kept = {json.loads((out / "metrics.json").read_text())["runs"][r]["best_epoch"] + 1 for r in (0, 1)}
    assert set(drawn) == kept and (out / "training_curve.png").is_file() and summary["seeds"] == 2
    records = [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5, "valid": {"mrr": 0.2}},
               {"epoch": 3, "loss": 1.2}, {"epoch": 4, "loss": 1.0, "valid": {"mrr": 0.3}}]
    assert plot.plot_kg_curves(records, tmp_path / "kg.png", "kg").is_file()
    assert plot.plot_kg_curves([], tmp_path / "none.png", "kg") is None
