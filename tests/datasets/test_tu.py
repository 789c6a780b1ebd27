"""TU loader: the three published datasets and a hand-written folder with known features."""

from __future__ import annotations

import lzma

import pytest
import torch

import graphscale.datasets as gd
from graphscale.datasets.tu import load_tu
from graphscale.errors import DatasetError


@pytest.mark.parametrize("name, graphs, nodes, edges, classes, counts, node_dim, edge_dim", [
    ("mutag", 188, 3371, 7442, 2, [63, 125], 7, 4),
    ("proteins", 1113, 43471, 162088, 2, [663, 450], 3, 0),
    ("enzymes", 600, 19580, 74564, 6, [100] * 6, 3, 0),
])
def test_tu_published_counts(require_dataset, name, graphs, nodes, edges, classes, counts, node_dim, edge_dim):
    require_dataset(name)
    data = gd.load(name)
    assert isinstance(data, gd.GraphDataset)
    assert (len(data), data.num_classes, data.num_features, data.num_edge_features) == (graphs, classes, node_dim,
                                                                                        edge_dim)
    assert sum(g.num_nodes for g in data.graphs) == nodes and sum(x.shape[0] for x in data.xs) == nodes
    assert sum(g.num_edges for g in data.graphs) == edges
    assert torch.bincount(data.y).tolist() == counts
    assert all(x.dtype == torch.float32 and (x.sum(1) == 1).all() for x in data.xs)  # one-hot node labels
    for g in data.graphs[:50]:  # TU lists every undirected edge in both directions
        pairs = set(zip(g.src.tolist(), g.dst.tolist()))
        assert pairs == {(v, u) for u, v in pairs}
    if edge_dim:
        assert all(e.shape == (g.num_edges, edge_dim) for g, e in zip(data.graphs, data.edge_attrs))


def test_enzymes_with_node_attributes(require_dataset):
    require_dataset("enzymes")
    data = gd.load("enzymes", use_node_attributes=True)
    assert data.num_features == 3 + 18
    assert data.xs[0][:, :3].sum(1).eq(1).all()
    assert data.xs[0][0, 3].item() == pytest.approx(11.0)  # first attribute row starts with " 11.000000"


def _write_tiny(folder, compress_a=False, a_lines=None):
    folder.mkdir(exist_ok=True)
    a = a_lines or "1, 2\n2, 1\n2, 3\n3, 2\n4, 5\n5, 4\n"
    if compress_a:
        with lzma.open(folder / "TINY_A.txt.xz", "wt") as handle:
            handle.write(a)
    else:
        (folder / "TINY_A.txt").write_text(a)
    (folder / "TINY_graph_indicator.txt").write_text("1\n1\n1\n2\n2\n")
    (folder / "TINY_graph_labels.txt").write_text("-1\n1\n")
    (folder / "TINY_node_labels.txt").write_text("2\n3\n2\n4\n2\n")
    (folder / "TINY_edge_labels.txt").write_text("0\n0\n1\n1\n0\n0\n")
    (folder / "TINY_node_attributes.txt").write_text(" 0.5, 1\n 1.5, 2\n 2.5, 3\n 3.5, 4\n 4.5, 5\n")


def test_tiny_tu_folder_exact(tmp_path):
    _write_tiny(tmp_path / "tiny", compress_a=True)
    data = gd.load(tmp_path / "tiny", use_node_attributes=True)  # a path loads the folder
    assert data.name == "tiny" and len(data) == 2 and data.y.tolist() == [0, 1]
    assert [g.num_nodes for g in data.graphs] == [3, 2]
    assert list(zip(data.graphs[1].src.tolist(), data.graphs[1].dst.tolist())) == [(0, 1), (1, 0)]
    expected_first = torch.tensor([[1, 0, 0, 0.5, 1], [0, 1, 0, 1.5, 2], [1, 0, 0, 2.5, 3]])
    torch.testing.assert_close(data.xs[0], expected_first)  # labels 2..4 -> 3 one-hot columns + 2 attributes
    torch.testing.assert_close(data.xs[1], torch.tensor([[0, 0, 1, 3.5, 4], [1, 0, 0, 4.5, 5.0]]))
    torch.testing.assert_close(data.edge_attrs[0], torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1.0]]))
    assert data.meta["label_values"] == [-1, 1]


def test_tu_edge_across_graphs_is_rejected(tmp_path):
    _write_tiny(tmp_path / "bad", a_lines="1, 2\n2, 1\n3, 4\n4, 3\n4, 5\n5, 4\n")
    with pytest.raises(DatasetError, match=r"TINY_A.txt line 3: expected both nodes in one graph, got nodes 3 and 4"):
        load_tu(tmp_path / "bad")


def test_tu_bad_token_names_line(tmp_path):
    _write_tiny(tmp_path / "bad", a_lines="1, 2\n2, x\n")
    with pytest.raises(DatasetError, match=r"TINY_A.txt line 2: expected 2 integers, got '2, x'"):
        load_tu(tmp_path / "bad")
