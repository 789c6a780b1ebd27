"""A dataset in a published format loads by its folder's name from the data root (as PyG's
``TUDataset(root, name)``): TU, edges.csv, a folder holding one .mat network, KG triples; the CLI commands too."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

import graphscale.datasets as gd
from graphscale.cli import main
from graphscale.errors import DatasetError
from graphscale.kge.triples import load_kg


@pytest.fixture
def root(tmp_path, data_root, require_dataset):
    require_dataset("mutag")
    base = tmp_path / "data"
    shutil.copytree(data_root / "mutag", base / "nci-like")  # any TU folder: MUTAG_A.txt ... under another name
    (base / "mynet").mkdir()
    ring = sp.csc_matrix((np.ones(12), (np.arange(12), (np.arange(12) + 1) % 12)), shape=(12, 12))
    group = sp.csc_matrix((np.ones(12), (np.arange(12), np.arange(12) % 2)), shape=(12, 2))
    scipy.io.savemat(base / "mynet" / "network.mat", {"network": ring + ring.T, "group": group})
    (base / "mycsv").mkdir()
    (base / "mycsv" / "edges.csv").write_text("src,dst\n" + "".join(f"{i},{(i + 1) % 8}\n" for i in range(8)))
    (base / "my-kg").mkdir()
    triples = [f"e{i}\tr{i % 2}\te{(i + 1) % 10}\n" for i in range(10)]
    for split, rows in (("train", triples), ("valid", triples[:2]), ("test", triples[2:4])):
        (base / "my-kg" / f"{split}.txt").write_text("".join(rows))
    return base


def test_loaders_find_folders_by_name(root):
    assert gd.load("nci-like", root=root).num_classes == 2 and len(gd.load("nci-like", root=root)) == 188
    net = gd.load("mynet", root=root)
    assert net.num_nodes == 12 and net.y.shape == (12, 2)
    assert gd.load("mycsv", root=root).num_nodes == 8
    assert load_kg("my-kg", root=root).train.shape == (10, 3)
    with pytest.raises(DatasetError, match="expected a dataset name or a path to a dataset folder, got 'nci-lik'"):
        gd.load("nci-lik", root=root)  # neither registered nor in the data root: the usual one line


def test_commands_take_those_names(root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRAPHSCALE_DATA", str(root))
    assert main(["embed", "--dataset", "mynet", "--dim", "8", "--json", "--no-progress", "--out",
                 str(tmp_path / "e"), "model.num_walks=2", "model.walk_length=8", "evaluate.ratios=[0.5]"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["num_nodes"] == 12
    assert main(["embed", "--dataset", str(root / "mynet"), "--dim", "8", "--json", "--no-progress", "--out",
                 str(tmp_path / "e2"), "model.num_walks=2", "model.walk_length=8", "evaluate.ratios=[0.5]"]) == 0
    capsys.readouterr()
    assert main(["kg", "--dataset", "my-kg", "--model", "transe", "--dim", "8", "--epochs", "1", "--json",
                 "--no-progress", "--out", str(tmp_path / "k"), "train.batch_size=4", "train.negatives=4"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["num_train"] == 10
