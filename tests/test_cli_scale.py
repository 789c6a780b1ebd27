"""``graphscale train`` with samplers, GAS, SGC/SIGN and --memory-budget: JSON summary, shipped lookup, errors."""

from __future__ import annotations

import importlib.util
import json

import pytest

from graphscale.cli import main

REQUIRED_KEYS = {"dataset", "model", "task", "test_acc", "test_acc_std", "val_acc", "val_acc_std", "seeds", "epochs",
                 "epoch_time_s", "train_time_s", "peak_rss_mb", "per_seed_test_acc", "num_nodes", "sampler"}
NEEDS = {"gas": "graphscale.scale.gas", "sign": "graphscale.scale.precompute", "sgc": "graphscale.scale.precompute"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def needs(name: str) -> None:
    """Skip while the module behind ``name`` has not landed (ImportError only)."""
    module = NEEDS.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not in the package yet")


@pytest.mark.parametrize("sampler", ["neighbor", "cluster", "saint-node", "saint-edge", "saint-rw", "gas"])
def test_every_sampler_end_to_end(tmp_path, capsys, sampler):
    needs(sampler)
    out = tmp_path / "run"
    metis = ["--num-parts", "16", "--clusters-per-batch", "4", f"sampler.cache_dir={tmp_path / 'metis'}"]
    own = {"neighbor": ["--fanouts", "5,5", "--batch-size", "256"], "cluster": metis, "gas": metis,
           "saint-node": ["sampler.coverage=3"], "saint-edge": ["sampler.coverage=3"],
           "saint-rw": ["--num-roots", "200", "sampler.coverage=3"]}[sampler]  # each sampler's keys only
    code, stdout, err = run_cli(capsys, "train", "--model", "sage", "--sampler", sampler, "--epochs", "2",
                                "--seeds", "2", "--json", "--out", str(out), "--no-progress", "model.hidden_dim=16",
                                *own)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(summary)
    assert summary["sampler"] == sampler and summary["model"] == "sage" and summary["dataset"] == "synthetic"
    assert summary["seeds"] == 2 and len(summary["per_seed_test_acc"]) == 2 and summary["epochs_run"] == [2, 2]
    assert 0.0 <= summary["test_acc"] <= 1.0 and summary["epoch_time_s"] > 0
    for name in ("metrics.json", "config.yaml", "history.json", "checkpoints/run0.pt", "checkpoints/run1.pt"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())["curves"]
    assert len(history) == 2 and len(history[0]["val_acc"]) == 2


@pytest.mark.parametrize("model", ["sign", "sgc"])
def test_precomputed_models_end_to_end(tmp_path, capsys, model):
    needs(model)
    code, stdout, err = run_cli(capsys, "train", "--model", model, "--epochs", "3", "--json", "--no-progress",
                                "--out", str(tmp_path / model), "--memory-budget", "64MB")
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(summary) and summary["model"] == model and summary["sampler"] == "precomputed"
    assert summary["epochs_run"] == [3]


def test_full_batch_summary_is_unchanged_plus_sampler(tmp_path, capsys):
    code, stdout, err = run_cli(capsys, "train", "--epochs", "2", "--json", "--no-progress",
                                "--out", str(tmp_path / "fb"))
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["sampler"] == "none" and summary["model"] == "gcn" and REQUIRED_KEYS <= set(summary)


def test_resume_after_a_finished_sampler_run_reads_the_saved_seeds(tmp_path, capsys):
    args = ("train", "--sampler", "neighbor", "--fanouts", "4,4", "--epochs", "2", "--seeds", "2", "--out",
            str(tmp_path / "r"), "--no-progress", "--json")
    code, first, _ = run_cli(capsys, *args)
    assert code == 0
    (tmp_path / "r" / "checkpoints" / "run1.pt").unlink()  # as if the second seed had been interrupted
    code, again, _ = run_cli(capsys, *args, "--resume")
    assert code == 0
    before, after = (json.loads(text.strip().splitlines()[-1]) for text in (first, again))
    assert after["per_seed_test_acc"] == before["per_seed_test_acc"]  # seed 0 read back, seed 1 re-run identically
    code, _, err = run_cli(capsys, *args[:-1], "--resume", "sampler.batch_size=7")
    assert code == 2 and "sampler.batch_size=1024" in err and "got 7" in err


def test_shipped_lookup_considers_the_sampler(capsys):
    code, out, _ = run_cli(capsys, "train", "--dataset", "citeseer", "--model", "sage", "--sampler", "neighbor",
                           "--print-config")
    assert code == 0 and "name: neighbor" in out and "within 1.0 point of full batch" in out  # the shipped file
    code, out, _ = run_cli(capsys, "train", "--dataset", "cora", "--model", "gcn", "--sampler", "cluster",
                           "--num-parts", "12", "--memory-budget", "1.5G", "--print-config")
    assert code == 0
    assert "weight_decay_first_layer_only: true" in out  # fell back to node-gcn-cora.yaml
    assert "name: cluster" in out and "num_parts: 12" in out and "memory_budget: 1.5G" in out
    assert "\n  fanouts:" not in out  # a section holds its sampler's keys only
    code, out, _ = run_cli(capsys, "train", "--dataset", "mutag", "--batch-size", "64", "--print-config")
    assert code == 0 and "batch_size: 64  # Graphs per mini-batch" in out


@pytest.mark.parametrize("argv,needle", [
    (("--sampler", "nieghbor"), "sampler.name: expected one of 'none', 'neighbor'"),
    (("--sampler", "nieghbor"), "(--sampler). Did you mean 'neighbor'?"),
    (("--sampler", "neighbor", "--fanouts", "15,x"), "sampler.fanouts: expected a list of ints, each >= 1 or -1"),
    (("--sampler", "neighbor", "--fanouts", "15,0"), "got '15,0' (--fanouts)."),
    (("--sampler", "neighbor", "--fanouts", "5,5,5"), "expected 2 fanouts (one per message-passing layer)"),
    (("--memory-budget", "6XB"), "train.memory_budget: expected a size like 6GB, 512MB or 1.5G or null, "
                                 "got '6XB' (--memory-budget)."),
    (("--model", "sign", "--sampler", "cluster"), "sampler.name: expected none for model 'sign'"),
    (("--dataset", "mutag", "--sampler", "neighbor"), "expected none for graph classification"),
])
def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, needle):
    code, _, err = run_cli(capsys, "train", *argv, "--epochs", "1", "--out", str(tmp_path / "x"), "--no-progress")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("graphscale: error: ")
    assert needle in err and "Traceback" not in err
