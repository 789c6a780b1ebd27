"""benchmarks/minibatch_accuracy.py: only seeds after the tuning seeds are reported, and only the winner's."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
minibatch_accuracy = pytest.importorskip("minibatch_accuracy")


def _line(stage, key, seed, acc, method="neighbor"):
    return {"status": "ok", "stage": stage, "dataset": "citeseer", "method": method, "key": key, "seed": seed,
            "test_acc": acc, "val_acc": acc}


def test_final_stats_never_reports_a_tuning_seed():
    tuning = minibatch_accuracy.TUNE_SEEDS
    lines = [_line("tune", "win", 0, 0.99), _line("tune", "win", 1, 0.99), _line("tune", "lose", 0, 0.10),
             *(_line("final", "win", seed, 0.70) for seed in range(tuning, tuning + 5))]
    mean, std, count = minibatch_accuracy.final_stats(lines, "citeseer", "neighbor")
    assert count == 5 and mean == pytest.approx(0.70) and std == pytest.approx(0.0)
    assert minibatch_accuracy.final_stats(lines, "citeseer", "neighbor", "win")[2] == 5


def test_final_stats_ignores_runs_of_no_current_variant():
    assert minibatch_accuracy.final_stats([_line("tune", "old", 0, 0.7)], "citeseer", "neighbor") is None


def test_final_stats_keeps_only_the_current_winner_after_a_grid_change():
    grid = minibatch_accuracy.GRID["neighbor"](minibatch_accuracy.NUM_NODES["citeseer"])
    key = {name: minibatch_accuracy.config_key(minibatch_accuracy.base_config("citeseer", "neighbor", overrides))
           for name, overrides in grid.items()}
    first, second = list(grid)[:2]
    # the earlier winner has final runs, then the second variant wins on validation and gets its own
    reported = range(minibatch_accuracy.TUNE_SEEDS, minibatch_accuracy.TUNE_SEEDS + 5)
    lines = [_line("tune", key[first], 0, 0.70), _line("tune", key[second], 0, 0.80),
             *(_line("final", key[first], seed, 0.70) for seed in reported),
             *(_line("final", key[second], seed, 0.60) for seed in reported)]
    mean, _, count = minibatch_accuracy.final_stats(lines, "citeseer", "neighbor")
    assert count == 5 and mean == pytest.approx(0.60)


def test_extra_grid_variants_belong_to_their_dataset_only():
    m = minibatch_accuracy
    (dataset, method), extra = next(iter(m.EXTRA_GRID.items()))
    assert set(extra) <= set(m.grid(dataset, method))
    other = next(d for d in m.DATASETS if (d, method) not in m.EXTRA_GRID)
    assert not set(extra) & set(m.grid(other, method))
    # an extra variant with the best validation accuracy wins the tuning of its dataset
    name = next(iter(extra))
    base = next(iter(m.GRID[method](m.NUM_NODES[dataset])))
    key = {v: m.config_key(m.base_config(dataset, method, m.grid(dataset, method)[v])) for v in (name, base)}
    lines = [{**_line("tune", key[base], 0, 0.70, method), "dataset": dataset},
             {**_line("tune", key[name], 0, 0.75, method), "dataset": dataset}]
    assert m.tuned(lines, dataset, method)[0] == name
