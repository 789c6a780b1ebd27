"""``graphscale embed`` end to end on karate, a custom folder and an edge-list file; bad input exits with 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphscale.cli import main

FAST = ["--dim", "16", "--no-progress", "model.num_walks=10", "model.walk_length=20", "evaluate.repeats=2",
        "evaluate.ratios=[0.5]"]


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_karate_end_to_end_and_resume(tmp_path, capsys, require_dataset):
    require_dataset("karate")
    out = tmp_path / "karate"
    assert main(["embed", "--dataset", "karate", "--model", "deepwalk", "--out", str(out), "--json", *FAST]) == 0
    summary = _last_json(capsys)
    assert list(summary)[-5:] == ["micro_f1", "macro_f1", "train_time_s", "sample_time_s", "peak_rss_mb"]
    assert summary["num_nodes"] == 34 and summary["micro_f1"] > 0.7 and summary["peak_rss_mb"] > 0
    for name in ("embeddings.npy", "embeddings.nodes.txt", "metrics.json", "config.yaml", "f1_vs_ratio.png",
                 "checkpoint.pt"):
        assert (out / name).is_file(), name
    embeddings = np.load(out / "embeddings.npy")
    assert embeddings.shape == (34, 16)
    assert (out / "embeddings.nodes.txt").read_text().split() == [str(i) for i in range(1, 35)]
    assert json.loads((out / "metrics.json").read_text())["micro_f1"] == summary["micro_f1"]
    # --resume on a finished run loads the tables instead of training again
    assert main(["embed", "--dataset", "karate", "--model", "deepwalk", "--out", str(out), "--json", "--resume",
                 *FAST]) == 0
    assert _last_json(capsys)["num_samples"] == summary["num_samples"]
    np.testing.assert_array_equal(np.load(out / "embeddings.npy"), embeddings)


def test_custom_folder_and_edge_list(tmp_path, capsys):
    folder = tmp_path / "two_triangles"
    folder.mkdir()
    (folder / "edges.csv").write_text("src,dst\na,b\nb,c\nc,a\nd,e\ne,f\nf,d\nc,d\n")
    (folder / "nodes.csv").write_text("id,label\na,x\nb,x\nc,x\nd,y\ne,y\nf,y\n")
    assert main(["embed", "--dataset", str(folder), "--model", "line", "--out", str(tmp_path / "o1"), "--json",
                 *FAST]) == 0
    summary = _last_json(capsys)
    assert summary["num_nodes"] == 6 and summary["micro_f1"] is not None
    assert (tmp_path / "o1" / "embeddings.nodes.txt").read_text().split() == list("abcdef")
    edges = tmp_path / "graph.txt"
    edges.write_text("# weighted\n1 2 1.0\n2 3 2.5\n3 1 1.0\n3 4 0.5\n")
    assert main(["embed", "--dataset", str(edges), "--model", "node2vec", "--p", "0.5", "--q", "2",
                 "--out", str(tmp_path / "o2"), "--json", *FAST]) == 0
    summary = _last_json(capsys)
    assert summary["num_nodes"] == 4 and summary["micro_f1"] is None and summary["walk_mode"] == "alias"


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "no/such/file.txt"], "expected an existing dataset file or folder"),
    (["--dataset", "blogcatalgo"], "Did you mean 'blogcatalog'"),
    (["--dataset", "karate", "model.window=0"], "model.window: expected int >= 1, got 0"),
    (["--dataset", "karate", "model.windw=3"], "Did you mean 'window'"),
    (["--dataset", "karate", "--model", "word2vec"], "model.name: expected one of"),
])
def test_bad_input_exits_with_2(argv, message, tmp_path, capsys):
    assert main(["embed", *argv, "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_edge_list_line_is_named(tmp_path, capsys):
    edges = tmp_path / "bad.txt"
    edges.write_text("1 2\n2 3 4 5\n")
    assert main(["embed", "--dataset", str(edges), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "bad.txt line 2: expected 2 fields" in capsys.readouterr().err


def test_validation_fraction_selects_on_held_out_nodes_and_reports_on_the_rest(tmp_path, capsys, require_dataset):
    from graphscale.datasets import load
    from graphscale.embed.evaluate import node_classification, selection_split

    require_dataset("karate")
    out = tmp_path / "karate"
    assert main(["embed", "--dataset", "karate", "--model", "deepwalk", "--out", str(out), "--json", *FAST,
                 "evaluate.validation_fraction=0.3"]) == 0
    summary = _last_json(capsys)
    y = load("karate").y
    selection, reported = selection_split(y, 0.3)
    chosen, rest = set(np.flatnonzero(selection >= 0)), set(np.flatnonzero(reported >= 0))
    assert len(chosen) == 10 and not chosen & rest and chosen | rest == set(range(34))
    embeddings = np.load(out / "embeddings.npy")
    settings = {"ratios": [0.5], "repeats": 2, "seed": 0}
    assert summary["validation_micro_f1"] == node_classification(embeddings, selection, **settings)["micro_f1"][0]
    held_out = np.flatnonzero(reported >= 0)
    assert summary["micro_f1"] == node_classification(embeddings, y, test_nodes=held_out, **settings)["micro_f1"][0]


def test_node_classification_scores_only_the_held_out_nodes():
    """``test_nodes``: the classifier trains on the published share of all labelled nodes, scores only these."""
    from graphscale.embed.evaluate import node_classification

    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = np.zeros((200, 2))
    x[np.arange(200), y] = 1.0  # separable ...
    noisy = np.arange(0, 200, 4)  # ... except every fourth node, whose row is noise
    x[noisy] = rng.normal(size=(noisy.size, 2))
    clean = np.setdiff1d(np.arange(200), noisy)
    settings = {"ratios": [0.3, 0.5], "repeats": 3, "seed": 0}
    held = node_classification(x, y, test_nodes=clean, **settings)
    everyone = node_classification(x, y, **settings)
    assert held["micro_f1"] == [1.0, 1.0] and max(everyone["micro_f1"]) < 0.95


def test_selection_split_is_one_fixed_draw_for_multi_label_data_too():
    from graphscale.embed.evaluate import selection_split

    y = np.zeros((50, 3), dtype=np.int8)
    y[np.arange(40), np.arange(40) % 3] = 1  # ten unlabelled rows
    first, second = selection_split(y, 0.25), selection_split(y, 0.25)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    selected, reported = (set(np.flatnonzero(part.any(1))) for part in first)
    assert len(selected) == 10 and len(reported) == 30 and not selected & reported
    assert np.array_equal(first[0] + first[1], y)


def test_run_folder_holds_word2vec_vectors_and_labels_for_visualize(tmp_path, capsys, require_dataset):
    """The word2vec text file reads back as the embeddings; `visualize --run` needs no other file and names the
    classes in the legend."""
    require_dataset("karate")
    out = tmp_path / "karate"
    assert main(["embed", "--dataset", "karate", "--model", "deepwalk", "--out", str(out), "--json", *FAST]) == 0
    capsys.readouterr()
    embeddings = np.load(out / "embeddings.npy")
    lines = (out / "embeddings.w2v.txt").read_text().splitlines()
    assert lines[0] == f"{embeddings.shape[0]} {embeddings.shape[1]}"  # word2vec's header: count, dimension
    ids = (out / "embeddings.nodes.txt").read_text().split()
    for line, node, row in zip(lines[1:], ids, embeddings, strict=True):
        fields = line.split(" ")
        assert fields[0] == node
        np.testing.assert_allclose(np.array(fields[1:], dtype=np.float32), row, rtol=1e-5, atol=1e-6)
    labels = np.load(out / "labels.npy")
    assert labels.shape == (34,) and set(labels.tolist()) == {0, 1}
    assert (out / "classes.txt").read_text().split("\n")[:2] == ["Mr. Hi", "Officer"]
    assert main(["visualize", "--run", str(out), "--json", "--no-progress", "--recall-queries", "20"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["num_labels"] == 2 and summary["plot"] == str(out / "largevis.png")
    assert (out / "largevis.png").is_file() and (out / "largevis.npy").is_file()
    from graphscale.commands.visualize import _labels_from_npy

    assert set(_labels_from_npy(out / "labels.npy", 34).tolist()) == {"Mr. Hi", "Officer"}
    assert main(["visualize", "--run", str(tmp_path / "none")]) == 2
    assert "expected a graphscale embed run folder" in capsys.readouterr().err
