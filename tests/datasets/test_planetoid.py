"""Planetoid loader against the published files and a re-implementation of the Kipf & Welling loader."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphscale.datasets as gd
from graphscale.datasets.io import load_pickle
from graphscale.errors import DatasetError


def kipf_reference(folder, name):
    """Features, one-hot labels and the undirected edge set exactly as tkipf/gcn's utils.load_data builds them."""
    x, y, tx, ty, allx, ally, graph = (load_pickle(folder / f"ind.{name}.{p}")
                                       for p in ("x", "y", "tx", "ty", "allx", "ally", "graph"))
    test_idx_reorder = [int(line) for line in (folder / f"ind.{name}.test.index").read_text().split()]
    test_idx_range = np.sort(test_idx_reorder)
    if name == "citeseer":
        full = range(min(test_idx_reorder), max(test_idx_reorder) + 1)
        tx_extended = sp.lil_matrix((len(full), x.shape[1]))
        tx_extended[test_idx_range - min(test_idx_range), :] = tx
        tx = tx_extended
        ty_extended = np.zeros((len(full), y.shape[1]))
        ty_extended[test_idx_range - min(test_idx_range), :] = ty
        ty = ty_extended
    features = sp.vstack((allx, tx)).tolil()
    features[test_idx_reorder, :] = features[test_idx_range, :]
    labels = np.vstack((ally, ty))
    labels[test_idx_reorder, :] = labels[test_idx_range, :]
    edges = {(u, v) for u, nbrs in graph.items() for v in nbrs if u != v}
    return features.toarray(), labels, edges | {(v, u) for u, v in edges}, test_idx_range, len(y)


@pytest.mark.parametrize("name, nodes, edges, classes, features, train", [
    ("cora", 2708, 10556, 7, 1433, 140),
    ("citeseer", 3327, 9104, 6, 3703, 120),
])
def test_planetoid_matches_kipf_loader(require_dataset, data_root, name, nodes, edges, classes, features, train):
    require_dataset(name)
    data = gd.load(name, normalize_features=False)
    assert (data.num_nodes, data.graph.num_edges, data.num_classes, data.num_features) == (nodes, edges, classes,
                                                                                           features)
    ref_x, ref_labels, ref_edges, test_ids, num_train = kipf_reference(data_root / "planetoid", name)
    assert num_train == train
    np.testing.assert_array_equal(data.x.numpy(), ref_x.astype(np.float32))
    labelled = ref_labels.sum(1) > 0
    np.testing.assert_array_equal(data.y.numpy(), np.where(labelled, ref_labels.argmax(1), -1))
    assert set(zip(data.graph.src.tolist(), data.graph.dst.tolist())) == ref_edges
    assert not data.graph.has_self_loops()
    assert (data.train_mask.sum(), data.val_mask.sum(), data.test_mask.sum()) == (train, 500, 1000)
    assert data.train_mask[:train].all() and data.val_mask[train:train + 500].all()
    assert data.test_mask.nonzero().view(-1).tolist() == test_ids.tolist()
    assert not (data.train_mask & data.val_mask).any() and not (data.val_mask & data.test_mask).any()
    # The Planetoid training set holds 20 nodes of every class.
    assert torch.bincount(data.y[data.train_mask], minlength=classes).tolist() == [20] * classes
    assert (data.y[data.train_mask | data.val_mask | data.test_mask] >= 0).all()


def test_citeseer_padded_test_ids_and_row_normalisation(require_dataset):
    require_dataset("citeseer")
    raw = gd.load("citeseer")  # the published 0/1 features by default
    assert set(raw.x.unique().tolist()) == {0.0, 1.0}
    data = gd.normalize_features(raw)  # the GCN paper's preprocessing, explicitly
    torch.testing.assert_close(data.x, gd.load("citeseer", normalize_features=True).x)
    unlabelled = (data.y < 0).nonzero().view(-1)
    assert unlabelled.numel() == 15 and (unlabelled >= 2312).all()
    assert (data.x[unlabelled] == 0).all()
    row_sums = data.x.sum(1)
    nonzero = row_sums > 0
    torch.testing.assert_close(row_sums[nonzero], torch.ones(int(nonzero.sum())))


def test_pubmed_without_allx_names_the_missing_file(require_dataset, data_root):
    require_dataset("cora")  # the planetoid folder exists; PubMed's allx is known to be absent
    if (data_root / "planetoid" / "ind.pubmed.allx").exists():
        pytest.skip("ind.pubmed.allx is present in this data root")
    with pytest.raises(DatasetError) as info:
        gd.load("pubmed", download=False)
    message = str(info.value)
    assert "ind.pubmed.allx" in message
    assert "https://github.com/kimiyoung/planetoid/raw/master/data/ind.pubmed.allx" in message


def test_pubmed_loads_once_allx_exists(require_dataset, data_root, tmp_path):
    require_dataset("cora")
    folder = tmp_path / "planetoid"
    folder.mkdir()
    for part in ("x", "y", "tx", "ty", "ally", "graph", "test.index"):
        shutil.copy(data_root / "planetoid" / f"ind.pubmed.{part}", folder)
    # Stand-in for the missing allx: random TF-IDF-like rows of the published shape (18717 x 500).
    allx = sp.random(18717, 500, density=0.05, format="csr", random_state=0, dtype=np.float64)
    (folder / "ind.pubmed.allx").write_bytes(pickle.dumps(allx, protocol=4))
    data = gd.load("pubmed", root=tmp_path, normalize_features=False, download=False)
    assert (data.num_nodes, data.graph.num_edges, data.num_classes, data.num_features) == (19717, 88648, 3, 500)
    assert (data.train_mask.sum(), data.val_mask.sum(), data.test_mask.sum()) == (60, 500, 1000)
    np.testing.assert_allclose(data.x[:18717].numpy(), allx.toarray().astype(np.float32))
    assert (data.y >= 0).all()
