"""``graphscale visualize``: end to end on a small file, label formats, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graphscale.cli import main

FAST = ("--samples", "900000", "--perplexity", "10", "--recall-queries", "200", "--no-progress")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("vis")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    x = (rng.standard_normal((3, 16))[labels] * 8 + rng.standard_normal((300, 16))).astype(np.float32)
    np.save(folder / "emb.npy", x)
    np.save(folder / "labels.npy", labels)
    return folder, labels


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_visualize_end_to_end_with_json(small, capsys):
    folder, _ = small
    out = folder / "run" / "plot.png"
    code, stdout, err = run_cli(capsys, "visualize", "--embeddings", str(folder / "emb.npy"), "--labels",
                                str(folder / "labels.npy"), "--out", str(out), "--json", *FAST)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["num_points"] == 300 and summary["dim"] == 16 and summary["num_labels"] == 3
    assert summary["knn_recall"] >= 0.9 and summary["label_agreement_2d"] >= 0.9  # chance is ~0.33; Hogwild SGD is not bit-reproducible
    for key in ("knn_time_s", "layout_time_s", "total_time_s", "peak_rss_mb", "knn_preservation_10"):
        assert summary[key] > 0, key
    coords = np.load(folder / "run" / "plot.npy")
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "run" / "plot.json").read_text())["knn_recall"] == summary["knn_recall"]
    assert not list((folder / "run").glob(".*tmp*"))  # atomic writes leave nothing behind


def test_visualize_label_csv_with_node_ids_and_multilabel_npy(small, capsys):
    folder, labels = small
    (folder / "ids.nodes.txt").write_text("".join(f"user{i}\n" for i in range(300)))
    np.save(folder / "ids.npy", np.load(folder / "emb.npy"))
    rows = ["node,group"] + [f"user{i},g{labels[i]}" for i in range(0, 300, 2)]  # odd rows unlabelled
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    code, stdout, err = run_cli(capsys, "visualize", "--embeddings", str(folder / "ids.npy"), "--labels",
                                str(folder / "labels.csv"), "--out", str(folder / "csv.png"),
                                "--coords", str(folder / "xy.npy"), "--json", *FAST)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["num_labels"] == 3 and summary["label_agreement_2d"] >= 0.9 and (folder / "xy.npy").is_file()
    multi = np.zeros((300, 4), dtype=np.int8)
    multi[np.arange(300), labels] = 1
    multi[:10, 3] = 1  # second label on some rows: colour by the first
    np.save(folder / "multi.npy", multi)
    code, stdout, err = run_cli(capsys, "visualize", "--embeddings", str(folder / "emb.npy"), "--labels",
                                str(folder / "multi.npy"), "--out", str(folder / "multi-plot.png"), *FAST)
    assert code == 0, err
    assert "LargeVis layout of 300 x 16 vectors" in stdout


@pytest.mark.parametrize("make, flag, message", [
    (lambda f: f / "missing.npy", "--embeddings", "expected an existing .npy file"),
    (lambda f: (f / "one.npy", np.save(f / "one.npy", np.zeros(5)))[0], "--embeddings", "2-D array"),
    (lambda f: (f / "nan.npy", np.save(f / "nan.npy", np.array([[0.0, 1], [np.nan, 2], [3, 3]])))[0],
     "--embeddings", "NaN or inf in row 1"),
    (lambda f: (f / "junk.npy", (f / "junk.npy").write_text("not numpy"))[0], "--embeddings", "unreadable"),
    (lambda f: (f / "short.npy", np.save(f / "short.npy", np.zeros(7)))[0], "--labels", "expected 300 rows"),
    (lambda f: (f / "bad.csv", (f / "bad.csv").write_text("node,label\n0,a\n1,b\n300,c\n"))[0], "--labels",
     "line 4, column node"),
    (lambda f: (f / "few.csv", (f / "few.csv").write_text("label\na\nb\n"))[0], "--labels",
     "one label per embedding row"),
    (lambda f: (f / "labels.json", (f / "labels.json").write_text("{}"))[0], "--labels", "expected a .npy, .csv"),
])
def test_bad_input_exits_2_with_one_clear_line(small, capsys, make, flag, message):
    folder, _ = small
    path = make(folder)
    argv = ["visualize", "--embeddings", str(folder / "emb.npy"), "--out", str(folder / "err.png"), *FAST]
    if flag == "--embeddings":
        argv[2] = str(path)
    else:
        argv += ["--labels", str(path)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert err.startswith("graphscale: error:") and len(err.strip().splitlines()) == 1
    assert not (folder / "err.png").exists()


def test_out_must_be_png_and_settings_positive(small, capsys):
    folder, _ = small
    emb = str(folder / "emb.npy")
    code, _, err = run_cli(capsys, "visualize", "--embeddings", emb, "--out", str(folder / "p.jpg"))
    assert code == 2 and "expected a .png file name" in err
    code, _, err = run_cli(capsys, "visualize", "--embeddings", emb, "--out", str(folder / "p.png"),
                           "--perplexity", "0")
    assert code == 2 and "--perplexity: expected a positive number" in err
    code, _, err = run_cli(capsys, "visualize", "--embeddings", emb, "--out", str(folder / "p.png"),
                           "--neighbors", "300")
    assert code == 2 and "n_neighbors < number of points (300)" in err
