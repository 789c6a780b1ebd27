"""``graphscale kg``: JSON summary, output folder, exported embeddings, errors with exit code 2, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphscale.cli import main

from .conftest import write_kg_folder

TINY = ["--model", "rotate", "--dim", "8", "--negatives", "16", "--epochs", "30", "--no-progress",
        "train.batch_size=32", "train.lr=0.05", "model.gamma=4.0", "train.threads=1"]
LAST_KEYS = ["mrr", "mr", "hits_at_1", "hits_at_3", "hits_at_10", "train_time_s", "triples_per_s", "peak_rss_mb"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_kg_json_summary_outputs_and_export(tmp_path, capsys, ring):
    folder = write_kg_folder(tmp_path / "my_kg", ring)
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *TINY, "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert list(summary)[-len(LAST_KEYS):] == LAST_KEYS
    assert summary["dataset"] == "my-kg" and summary["model"] == "rotate" and summary["complete"]
    assert summary["mrr"] > 0.6 and 1.0 <= summary["mr"] and summary["hits_at_10"] >= summary["hits_at_1"]
    assert summary["triples_per_s"] > 0 and summary["peak_rss_mb"] > 0
    for name in ("metrics.json", "config.yaml", "progress.jsonl", "checkpoints/last.pt"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["mrr"] == summary["mrr"]
    entity = np.load(out / "embeddings" / "entity_embeddings.npy")
    relation = np.load(out / "embeddings" / "relation_embeddings.npy")
    assert entity.shape == (ring.num_entities, 16) and relation.shape == (ring.num_relations, 8)
    ids = dict(line.split("\t") for line in (out / "embeddings" / "entities.tsv").read_text().splitlines())
    assert sorted(ids.values()) == sorted(ring.entity_names) and set(ids) == {str(i) for i in range(40)}

    code, stdout, _ = run_cli(capsys, "kg", "--dataset", str(folder), *TINY, "--out", str(out), "--resume")
    assert code == 0 and "test (filtered)  MRR" in stdout  # finished run: resumes at its last epoch
    assert f"MRR {summary['mrr']:.4f}" in stdout


@pytest.mark.parametrize("argv, message", [
    (["train.negativs=4"], "train.negativs: unknown key (override 'train.negativs=4'). Did you mean 'negatives'?"),
    (["--model", "rotat"], "model.name: expected one of"),
    (["train.negatives=0"], "train.negatives: expected int >= 1, got 0"),
    (["data.unseen=drop"], "data.unseen: expected one of 'error', 'skip', 'keep' or null, got 'drop'"),
])
def test_config_errors_exit_2(tmp_path, capsys, ring, argv, message):
    folder = write_kg_folder(tmp_path / "kg", ring)
    code, _, err = run_cli(capsys, "kg", "--dataset", str(folder), *TINY, *argv, "--out", str(tmp_path / "o"))
    assert code == 2 and message in err and "Traceback" not in err


def test_malformed_file_exits_2_naming_file_line_and_field(tmp_path, capsys, ring):
    folder = write_kg_folder(tmp_path / "kg", ring)
    lines = (folder / "valid.tsv").read_text().splitlines()
    lines[2] = "e1\t\te2"
    (folder / "valid.tsv").write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(capsys, "kg", "--dataset", str(folder), *TINY, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "valid.tsv line 3, field relation: expected a non-empty name, got ''" in err


def test_shipped_config_is_picked_up(capsys):
    code, stdout, _ = run_cli(capsys, "kg", "--dataset", "fb15k-237", "--model", "rotate", "--print-config")
    assert code == 0 and "name: rotate" in stdout and "dataset: fb15k-237" in stdout
    assert "target_mrr: 0.33" in stdout
    code, stdout, _ = run_cli(capsys, "kg", "--dataset", "fb15k-237", "--model", "rotate", "--dim", "64",
                              "--print-config", "train.lr=0.5")
    assert "dim: 64" in stdout and "lr: 0.5" in stdout


def test_shipped_kg_configs_load_and_match_their_names():
    from graphscale.config import config_dir, find_shipped, shipped_configs
    from graphscale.config import load
    from graphscale.kge.config import KGConfig

    names = [n for n in shipped_configs() if n.startswith("kg-")]
    for required in ("transe", "distmult", "complex", "simple", "rotate"):  # every model on FB15k-237
        assert f"kg-{required}-fb15k-237" in names
    for name in names:
        _, model, dataset = name.split("-", 2)
        cfg = load(config_dir() / f"{name}.yaml", cls=KGConfig)
        assert (cfg.task, cfg.model.name) == ("kg", model)
        assert cfg.expected.source
        if not dataset.endswith("-paper"):  # the plain --dataset D --model M command picks the measured one
            assert cfg.data.dataset == dataset and cfg.expected.mrr is not None
            assert find_shipped("kg", model, dataset) == config_dir() / f"{name}.yaml"


QUICK = [*TINY, "--epochs", "3"]


def strict_loads(text):
    def reject(token):
        raise ValueError(f"invalid JSON token {token}")

    return json.loads(text, parse_constant=reject)


def test_empty_test_file_exits_2_and_an_empty_valid_file_trains_without_validation(tmp_path, capsys, ring):
    folder = write_kg_folder(tmp_path / "kg", ring)
    test = (folder / "test").read_text()
    (folder / "test").write_text("\n\n")
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "--out", str(tmp_path / "a"), "--json")
    assert code == 2 and "NaN" not in stdout
    assert err.strip().splitlines()[-1].endswith("test: expected at least one test triple, got an empty file. Add "
                                                 "the test triples (head<TAB>relation<TAB>tail per line).")
    (folder / "test").write_text(test)
    (folder / "valid.tsv").write_text("")
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "train.eval_every=1",
                                "--out", str(tmp_path / "b"), "--json")
    assert code == 0, err
    summary = strict_loads(stdout.strip().splitlines()[-1])
    assert summary["num_valid"] == 0 and summary["mrr"] > 0 and not any(k.startswith("valid_") for k in summary)


def test_unseen_names_exit_2_or_are_skipped_and_counted(tmp_path, capsys, ring):
    folder = write_kg_folder(tmp_path / "kg", ring)
    with open(folder / "valid.tsv", "a") as handle:
        handle.write("e1\tshift9\te2\n")
    with open(folder / "test", "a") as handle:
        handle.write("e1\tshift1\tnowhere\nnowhere\tshift2\te3\n")
    code, _, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "--out", str(tmp_path / "a"))
    assert code == 2 and "Traceback" not in err
    assert (f"valid.tsv line {len(ring.valid) + 1}, field relation: expected a relation seen in train.txt, got "
            "'shift9'. Remove the triple, or set data.unseen=skip") in err
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "data.unseen=skip",
                                "--out", str(tmp_path / "b"), "--json")
    assert code == 0, err
    summary = strict_loads(stdout.strip().splitlines()[-1])
    assert (summary["skipped_valid"], summary["skipped_test"]) == (1, 2)
    assert (summary["num_valid"], summary["num_test"]) == (len(ring.valid), len(ring.test))
    assert summary["num_entities"] == ring.num_entities  # 'nowhere' got no (untrained) id
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "data.unseen=skip",
                                "--out", str(tmp_path / "c"))
    assert code == 0, err
    assert "unseen in train  dropped 1 valid and 2 test triples (data.unseen=skip)" in stdout
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "data.unseen=keep",
                                "--out", str(tmp_path / "d"))
    assert code == 0, err
    assert "unseen in train  1 valid and 2 test triples scored with untrained ids (data.unseen=keep)" in stdout


def test_json_summary_is_strict_json(monkeypatch, tmp_path, capsys, ring):
    import graphscale.kge.run as kg_run

    folder = write_kg_folder(tmp_path / "kg", ring)
    summary = {"dataset": "kg", "model": "rotate", "dim": 8, "negatives": 16, "negative_mode": "shared",
               "epochs_done": 1, "epochs": 1, "device": "cpu", "mrr": float("nan"), "mr": float("inf"),
               "hits_at_1": np.float32(0.5), "hits_at_3": -np.inf, "hits_at_10": 1.0, "train_time_s": 0.1,
               "triples_per_s": 1.0, "peak_rss_mb": 1.0, "history": [{"loss": float("nan")}]}
    monkeypatch.setattr(kg_run, "run", lambda *args, **kwargs: dict(summary))
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "--out", str(tmp_path / "a"), "--json")
    assert code == 0, err
    printed = strict_loads(stdout.strip().splitlines()[-1])
    assert printed["mrr"] is None and printed["mr"] is None and printed["hits_at_3"] is None
    assert printed["hits_at_1"] == 0.5 and printed["hits_at_10"] == 1.0 and printed["history"] == [{"loss": None}]



def test_selection_runs_read_validation_only(tmp_path, capsys, ring):
    """``evaluate.test=false``: validation metrics and no test metric in the summary (configs are chosen on it)."""
    folder = write_kg_folder(tmp_path / "kg", ring)
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "evaluate.test=false",
                                "--out", str(tmp_path / "a"), "--json")
    assert code == 0, err
    summary = strict_loads(stdout.strip().splitlines()[-1])
    assert summary["valid_mrr"] > 0 and not any(k.startswith(("test_", "mrr", "hits_", "mr")) for k in summary)
    code, stdout, err = run_cli(capsys, "kg", "--dataset", str(folder), *QUICK, "evaluate.test=false",
                                "--out", str(tmp_path / "b"))
    assert code == 0 and "valid (filtered) MRR" in stdout and "test (filtered)" not in stdout
