"""BlogCatalog / PPI (.mat), karate (.adjlist) and plain edge-list files."""

from __future__ import annotations

import io
import lzma

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
import torch

import graphscale.datasets as gd
from graphscale.datasets.edgelist import load_adjlist, load_edgelist
from graphscale.datasets.mat import load_mat
from graphscale.errors import DatasetError


def test_blogcatalog_matches_published_counts(require_dataset):
    require_dataset("blogcatalog")
    data = gd.load("blogcatalog")
    assert data.num_nodes == 10312 and data.graph.num_edges == 667966 and data.num_classes == 39
    assert data.y.shape == (10312, 39) and int(data.y.sum()) == 14476 and data.edge_weight is None
    src, dst = data.graph.src.long(), data.graph.dst.long()
    forward = set(zip(src[:2000].tolist(), dst[:2000].tolist()))
    backward = set(zip(dst.tolist(), src.tolist()))
    assert forward <= backward and data.meta["self_loops"] == 0   # symmetric, no self-loops


def test_ppi_matches_published_counts(require_dataset):
    require_dataset("ppi")
    data = gd.load("ppi")
    assert data.num_nodes == 3890 and data.graph.num_edges == 76584 and data.num_classes == 50
    assert int(data.y.sum()) == 6640 and bool((data.y.sum(1) > 0).all()) and data.meta["self_loops"] == 894


def test_karate_factions(require_dataset):
    require_dataset("karate")
    data = gd.load("karate")
    assert data.num_nodes == 34 and data.graph.num_edges == 156 and data.num_classes == 2
    assert int((data.y == 0).sum()) == 17 and data.y[0] == 0 and data.y[33] == 1
    edges = set(zip(data.graph.src.tolist(), data.graph.dst.tolist()))
    assert (0, 1) in edges and (1, 0) in edges and (32, 33) in edges and (0, 33) not in edges


def test_mat_roundtrip_weights_and_errors(tmp_path):
    network = sp.csc_matrix(np.array([[0, 2.0, 0], [2.0, 0, 1], [0, 1, 0]]))
    group = sp.csc_matrix(np.array([[1.0, 0], [0, 1], [1, 1]]))
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"network": network, "group": group})
    (tmp_path / "toy.mat.xz").write_bytes(lzma.compress(buffer.getvalue()))
    data = load_mat(tmp_path / "toy.mat.xz")
    assert data.name == "toy" and data.graph.num_edges == 4
    torch.testing.assert_close(data.edge_weight, torch.tensor([2.0, 2.0, 1.0, 1.0]))
    assert data.y.tolist() == [[1, 0], [0, 1], [1, 1]]
    scipy.io.savemat(tmp_path / "bad.mat", {"adjacency": network})
    with pytest.raises(DatasetError, match="bad.mat: expected a variable 'network'"):
        load_mat(tmp_path / "bad.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DatasetError, match="junk.mat: expected a MATLAB v5 .mat file"):
        load_mat(tmp_path / "junk.mat")


def test_edgelist_and_adjlist(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# comment\na b 0.5\nb c 2\n\nc a 1  # trailing\n")
    data = load_edgelist(path)
    assert data.meta["node_ids"] == ["a", "b", "c"] and data.graph.num_edges == 6
    assert data.edge_weight is not None and float(data.edge_weight.max()) == 2.0 and data.num_classes == 0
    path.write_text("a b\nb c 3\n")
    with pytest.raises(DatasetError, match="g.txt line 2: expected 2 fields"):
        load_edgelist(path)
    path.write_text("a b x\n")
    with pytest.raises(DatasetError, match="g.txt line 1, column weight: expected a number, got 'x'"):
        load_edgelist(path)
    adj = tmp_path / "g.adjlist"
    adj.write_text("1 2 3\n2 1\n3 1\n4\n")
    data = load_adjlist(adj)
    assert data.num_nodes == 4 and data.graph.num_edges == 4
