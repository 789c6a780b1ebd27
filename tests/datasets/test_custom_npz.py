"""Custom CSV folders (happy path and error messages) and the gnn-benchmark .npz format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

import graphscale.datasets as gd
from graphscale.datasets.custom import load_custom
from graphscale.datasets.npz import load_npz
from graphscale.errors import DatasetError


def _folder(tmp_path, edges, nodes=None, name="mygraph"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "edges.csv").write_text(edges)
    if nodes is not None:
        (folder / "nodes.csv").write_text(nodes)
    return folder


NODES = ("id,label,split,f1,f2\n"
         "alice,cat,train,1.0,0\n"
         "bob,dog,val,0,2.5\n"
         "carol,cat,test,3,1\n"
         "dave,,,0,0\n")
EDGES = "src,dst,weight\nalice,bob,0.5\nbob,carol,2\ncarol,erin,1\nbob,alice,4\n"


def test_custom_happy_path(tmp_path):
    data = gd.load(_folder(tmp_path, EDGES, NODES), unknown_nodes="add")  # erin is only in edges.csv
    assert data.name == "mygraph" and data.num_nodes == 5 and data.meta["nodes_only_in_edges"] == 1
    assert data.meta["node_ids"] == ["alice", "bob", "carol", "dave", "erin"]  # nodes.csv order, then edges.csv
    assert data.meta["classes"] == ["cat", "dog"] and data.y.tolist() == [0, 1, 0, -1, -1]
    torch.testing.assert_close(data.x, torch.tensor([[1.0, 0], [0, 2.5], [3, 1], [0, 0], [0, 0]]))
    assert data.train_mask.tolist() == [True, False, False, False, False]
    assert data.val_mask.tolist() == [False, True, False, False, False]
    assert data.test_mask.tolist() == [False, False, True, False, False]
    # Undirected: reverse edges added, duplicates merged keeping the larger weight.
    pairs = dict(zip(zip(data.graph.src.tolist(), data.graph.dst.tolist()), data.edge_weight.tolist()))
    assert pairs == {(0, 1): 4.0, (1, 0): 4.0, (1, 2): 2.0, (2, 1): 2.0, (2, 4): 1.0, (4, 2): 1.0}


def test_custom_directed_edges_only_gz(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    with gzip.open(folder / "edges.csv.gz", "wt") as handle:
        handle.write("src,dst\n10,20\n20,30\n30,10\n10,20\n")
    data = load_custom(folder, undirected=False, features="ones")
    assert data.meta["node_ids"] == ["10", "20", "30"]
    assert data.graph.src.tolist() == [0, 1, 2, 0] and data.graph.dst.tolist() == [1, 2, 0, 1]
    assert data.x.shape == (3, 1) and "structural" in data.meta["features"]
    assert data.train_mask is None and data.num_classes == 0 and (data.y == -1).all()


def test_custom_random_split_when_no_split_column(tmp_path):
    nodes = "id,label\n" + "".join(f"n{i},{i % 3}\n" for i in range(50))
    edges = "src,dst\n" + "".join(f"n{i},n{(i + 1) % 50}\n" for i in range(50))
    data = gd.load(_folder(tmp_path, edges, nodes), seed=3)
    assert "structural features='degree'" in data.meta["features"]
    assert torch.equal(data.x[:, :-1].argmax(1), torch.full((50,), 1))  # every node has degree 2: bucket 1
    assert [int(m.sum()) for m in data.split()] == [30, 10, 10]
    assert "seed=3" in data.meta["split"] and data.meta["classes"] == ["0", "1", "2"]


@pytest.mark.parametrize("edges, nodes, message", [
    ("src,dst\na,b\nc,\n", None, "edges.csv line 3, column dst: expected a node id, got ''."),
    ("src,dst\na,b,c\n", None, "edges.csv line 2: expected 2 fields (src,dst), got 3"),
    ("from,to\na,b\n", None, "edges.csv line 1: expected a header 'src,dst[,weight]', got 'from,to'"),
    ("", None, "edges.csv line 1: expected a header 'src,dst[,weight]', got an empty file"),
    ("src,dst,weight\na,b,heavy\n", None, "edges.csv line 2, column weight: expected a number, got 'heavy'."),
    ("src,dst\na,b\n", "id,label,split,f\na,x,train,1\nb,y,holdout,2\n",
     "nodes.csv line 3, column split: expected train, val, test or empty, got 'holdout'."),
    ("src,dst\na,b\n", "id,label,f\na,x,1\nb,y,one\n", "nodes.csv line 3, column f: expected a number, got 'one'."),
    ("src,dst\na,b\n", "id,label\na,x\na,y\n", "nodes.csv line 3, column id: expected each node once, got 'a' again."),
    ("src,dst\na,b\n", "id,label,split\na,,train\n", "nodes.csv line 2, column label: expected a label"),
])
def test_custom_errors_name_file_line_and_column(tmp_path, edges, nodes, message):
    folder = _folder(tmp_path, edges, nodes)
    with pytest.raises(DatasetError) as info:
        load_custom(folder)
    assert message in str(info.value)


def test_custom_rejects_unknown_nodes_by_default(tmp_path):
    folder = _folder(tmp_path, "src,dst\na,b\nb,zed\n", "id,label\na,x\nb,y\n")
    with pytest.raises(DatasetError, match="edges.csv line 3, column dst: expected a node id listed in nodes.csv"):
        load_custom(folder)


def _write_gnn_benchmark(path, adjacency, features, labels, dense_attr=False):
    import scipy.sparse as sp

    adj = sp.csr_matrix(adjacency)
    arrays = {"adj_data": adj.data, "adj_indices": adj.indices, "adj_indptr": adj.indptr, "adj_shape": adj.shape,
              "labels": labels, "node_names": np.array(["a", "b"], dtype=object)}
    if dense_attr:
        arrays["attr_matrix"] = features
    else:
        attr = sp.csr_matrix(features)
        arrays.update(attr_data=attr.data, attr_indices=attr.indices, attr_indptr=attr.indptr, attr_shape=attr.shape)
    np.savez(path, **arrays)  # object array node_names is never read (allow_pickle=False)


@pytest.mark.parametrize("dense_attr", [False, True])
def test_gnn_benchmark_npz(tmp_path, dense_attr):
    rng = np.random.default_rng(0)
    n = 180
    adjacency = np.triu(rng.random((n, n)) < 0.05, 1).astype(np.float32)  # one direction only, as published
    adjacency[5, 5] = 1  # a self loop: removed
    features = (rng.random((n, 7)) < 0.3).astype(np.float32)
    labels = np.arange(n) % 3
    path = tmp_path / "amazon_electronics_photo.npz"
    _write_gnn_benchmark(path, adjacency, features, labels, dense_attr)
    data = gd.load(path, seed=1)
    assert data.name == "amazon_electronics_photo" and data.num_classes == 3
    np.testing.assert_array_equal(data.x.numpy(), features)
    assert data.y.tolist() == labels.tolist()
    expected = {(i, j) for i, j in zip(*np.nonzero(adjacency)) if i != j}
    expected |= {(j, i) for i, j in expected}
    assert set(zip(data.graph.src.tolist(), data.graph.dst.tolist())) == expected
    assert data.graph.num_edges == len(expected)
    for masks, per_class in ((data.train_mask, 20), (data.val_mask, 30), (data.test_mask, 10)):
        assert torch.bincount(data.y[masks], minlength=3).tolist() == [per_class] * 3


def test_npz_registered_name_uses_root_folder(tmp_path):
    folder = tmp_path / "amazon-photo"
    folder.mkdir()
    _write_gnn_benchmark(folder / "amazon_electronics_photo.npz", np.eye(3, k=1), np.eye(3), np.array([0, 1, 1]))
    data = gd.load("Amazon-Photo", root=tmp_path, download=False, num_train_per_class=1, num_val_per_class=0)
    assert data.name == "amazon-photo" and data.graph.num_edges == 4 and int(data.train_mask.sum()) == 2


def test_npz_missing_keys(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, adj_data=np.ones(1))
    with pytest.raises(DatasetError, match=r"broken.npz: expected arrays \['adj_data', 'adj_indices'"):
        load_npz(path)
