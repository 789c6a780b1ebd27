"""The ``graphscale`` command: train on the synthetic default, config resolution, errors, datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphscale.cli import main

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GRAPHSCALE_DATA", str(REPO.parent / "shared" / "datasets"))
REQUIRED_KEYS = {"dataset", "model", "task", "test_acc", "test_acc_std", "val_acc", "seeds", "epochs",
                 "epoch_time_s", "train_time_s", "peak_rss_mb"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_json_on_the_synthetic_default(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--json", "--out", str(tmp_path / "run"), "train.epochs=10",
                             "train.lr=0.05", "--seeds", "2")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(summary) and "num_nodes" in summary
    assert summary["dataset"] == "synthetic" and summary["model"] == "gcn" and summary["task"] == "node"
    assert summary["seeds"] == 2 and summary["epochs"] == 10 and len(summary["per_seed_test_acc"]) == 2
    assert 0.5 < summary["test_acc"] <= 1.0  # 7 classes: chance is ~0.14
    assert summary["epoch_time_s"] > 0 and summary["peak_rss_mb"] > 0
    for name in ("metrics.json", "config.yaml", "history.json", "training_curve.png", "checkpoints/run1.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_acc"] == summary["test_acc"]


def test_human_summary_and_resume(tmp_path, capsys):
    args = ("train", "--out", str(tmp_path / "run"), "--epochs", "3", "--device", "cpu", "--no-progress")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "test accuracy" in out and "synthetic / gcn" in out
    code, out_again, _ = run_cli(capsys, *args, "--resume")  # every run finished: results come from checkpoints
    assert code == 0
    line = next(ln for ln in out.splitlines() if "test accuracy" in ln)
    assert line in out_again


def test_shipped_config_is_used_and_flags_override_it(capsys):
    code, out, _ = run_cli(capsys, "train", "--dataset", "cora", "--model", "GCN", "--print-config")
    assert code == 0
    assert "seeds: 10" in out and "weight_decay_first_layer_only: true" in out and "test_acc: 0.815" in out
    code, out, _ = run_cli(capsys, "train", "--dataset", "cora", "--model", "gcn", "--seeds", "3",
                           "--print-config", "model.hidden_dim=32")
    assert "seeds: 3" in out and "hidden_dim: 32" in out and "test_acc: 0.815" in out
    code, out, _ = run_cli(capsys, "train", "--dataset", "mutag", "--print-config")
    assert code == 0 and "task: graph" in out and "name: gin" in out and "lr_step: 50" in out


def test_overrides_may_follow_options(capsys):
    # overrides on both sides of an option: all apply, in order; anything else after an option is an error
    code, out, _ = run_cli(capsys, "train", "train.lr=0.05", "--seeds", "3", "model.hidden_dim=32",
                           "train.lr=0.02", "--print-config")
    assert code == 0 and "seeds: 3" in out and "hidden_dim: 32" in out and "lr: 0.02" in out
    code, out, _ = run_cli(capsys, "kg", "--dataset", "fb15k-237", "--model", "rotate", "--dim", "64",
                           "train.lr=0.003", "--print-config", "train.subsampling=true")
    assert code == 0 and "dim: 64" in out and "lr: 0.003" in out and "subsampling: true" in out
    with pytest.raises(SystemExit) as exc:
        main(["train", "train.lr=0.1", "--seeds", "2", "stray"])
    assert exc.value.code == 2 and "unrecognized arguments: stray" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (("train", "train.lr=-1"), "graphscale: error: train.lr: expected float > 0, got -1 (override 'train.lr=-1')."),
    (("train", "train.epoch=3"), "Did you mean 'epochs'?"),
    (("train", "--model", "gcm", "--epochs", "1"), "Did you mean 'gcn'?"),
    (("train", "--dataset", "no-such-dataset"), "graphscale: error: "),
])
def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, needle):
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "x"), "--no-progress")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("graphscale: error: ")
    assert needle in err and "Traceback" not in err


def test_malformed_custom_dataset(tmp_path):
    data = tmp_path / "mygraph"
    data.mkdir()
    (data / "edges.csv").write_text("src,dst\n0,1\n1,\n2,0\n")
    proc = subprocess.run([sys.executable, "-m", "graphscale", "train", "--dataset", str(data), "--epochs", "2",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphscale: error: ") and "edges.csv" in lines[0]
    assert "line 3" in lines[0] and "Traceback" not in proc.stderr


def test_custom_dataset_trains(tmp_path, capsys):
    data = tmp_path / "ring"
    data.mkdir()
    edges = [(i, (i + 1) % 40) for i in range(40)]
    (data / "edges.csv").write_text("src,dst\n" + "".join(f"{a},{b}\n" for a, b in edges))
    (data / "nodes.csv").write_text("id,label\n" + "".join(f"{i},{'ab'[i // 20]}\n" for i in range(40)))
    code, out, err = run_cli(capsys, "train", "--dataset", str(data), "--epochs", "3", "--json",
                             "--out", str(tmp_path / "out"), "--no-progress")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["dataset"] == "ring" and summary["num_nodes"] == 40


def test_datasets_json(capsys):
    code, out, _ = run_cli(capsys, "datasets", "--json")
    assert code == 0
    entries = json.loads(out.strip().splitlines()[-1])
    by_name = {entry["name"]: entry for entry in entries}
    assert {"synthetic", "cora", "mutag"} <= set(by_name)
    assert by_name["synthetic"]["found"] is True
    assert by_name["mutag"]["task"].startswith("graph") and by_name["cora"]["task"].startswith("node")
    # every command's datasets, with what uses them: the KG sets too
    assert by_name["fb15k-237"]["task"] == by_name["wn18rr"]["task"] == "knowledge-graph"
    assert by_name["fb15k-237"]["commands"] == "kg" and "embed" in by_name["blogcatalog"]["commands"]
    assert by_name["fb15k-237"]["num_entities"] == 14541
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0 and out.splitlines()[0].split()[:4] == ["name", "task", "commands", "found"]


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "graphscale", "datasets", "--json"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout.strip().splitlines()[-1]), list)


def test_bare_command_prints_help_and_version(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 0 and "usage: graphscale" in out and "train" in out and "embed" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    import graphscale

    assert capsys.readouterr().out.strip() == f"graphscale {graphscale.__version__}"


@pytest.mark.parametrize(("command", "name", "key"), [("train", "node-gcn-cora", "dataset: cora"),
                                                       ("kg", "kg-transe-fb15k-237", "dataset: fb15k-237"),
                                                       ("embed", "embed-deepwalk-blogcatalog.yaml",
                                                        "dataset: blogcatalog")])
def test_config_accepts_a_shipped_name(capsys, command, name, key):
    code, out, err = run_cli(capsys, command, "--config", name, "--print-config")
    assert code == 0, err
    assert key in out
    code, _, err = run_cli(capsys, command, "--config", "no-such-config", "--print-config")
    assert code == 2 and "expected an existing YAML file or a shipped config name" in err


def test_progress_bars_are_quiet_off_a_terminal_unless_asked(tmp_path):
    """stderr to a pipe (a log, a batch job): no bar; GRAPHSCALE_PROGRESS=1 brings it back there."""
    def train(out: str, **env: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "graphscale", "train", "--out", str(tmp_path / out),
                               "train.epochs=3", "--json"], capture_output=True, text=True, check=False,
                              env={**os.environ, **env})
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    assert "it/s]" not in train("quiet") and "s/it]" not in train("quiet2")
    shown = train("asked", GRAPHSCALE_PROGRESS="1")
    assert "train synthetic" in shown and "3/3" in shown
