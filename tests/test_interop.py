"""A PyG / DGL user's first steps: edge_index where a graph goes, round trips with networkx and scipy that keep
weights and node order, one ``.to()`` for a dataset and a block."""

from __future__ import annotations

from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.datasets import NodeDataset, normalize_features, random_split
from graphscale.errors import GraphFormatError
from graphscale.interop import from_networkx, from_scipy, to_edge_index, to_networkx, to_scipy
from graphscale.nn.conv import APPNP, GCNConv, SAGEConv
from graphscale.sampling import NeighborSampler

EDGE_INDEX = torch.tensor([[0, 1, 2, 2, 3], [1, 2, 0, 0, 4]])  # a parallel edge 2 -> 0, node 5 isolated


def test_graph_takes_an_edge_index_as_pyg_users_pass_it():
    g = gs.Graph(EDGE_INDEX, num_nodes=6)
    assert (g.num_nodes, g.num_edges) == (6, 5)
    assert torch.equal(to_edge_index(g), EDGE_INDEX)
    assert gs.Graph(EDGE_INDEX, 6).num_nodes == 6 and gs.Graph(EDGE_INDEX).num_nodes == 5
    with pytest.raises(GraphFormatError, match=r"Transpose the \[E, 2\] edge list"):
        gs.Graph(EDGE_INDEX.t())


@pytest.mark.parametrize("conv", [GCNConv(3, 2), SAGEConv(3, 2), APPNP(K=2)], ids=["gcn", "sage", "appnp"])
def test_layers_name_the_right_call_for_pyg_argument_habits(conv):
    x = torch.randn(6, 3)
    name = type(conv).__name__
    with pytest.raises(GraphFormatError, match=rf"{name}.forward: expected \(graph, x\).*PyG's order.*Fix: "
                                               r"conv\(Graph\(edge_index, num_nodes=x.shape\[0\]\), x\)"):
        conv(x, EDGE_INDEX)
    with pytest.raises(GraphFormatError, match=r"got an edge_index tensor of shape \(2, 5\)\. Fix: conv\(Graph"):
        conv(EDGE_INDEX, x)
    assert conv(gs.Graph(EDGE_INDEX, num_nodes=x.shape[0]), x).shape[0] == 6  # the named fix works


def test_networkx_round_trip_keeps_weights_node_order_and_attributes():
    g = gs.Graph(EDGE_INDEX, num_nodes=6)
    weight = torch.tensor([0.5, 1.5, 2.0, 3.0, 4.0])
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 2, 2])
    nx_graph = to_networkx(g, weight, x=x, y=y)
    assert isinstance(nx_graph, nx.MultiDiGraph) and nx_graph.number_of_edges() == 5  # the parallel edge too
    back, back_weight, nodes = from_networkx(nx_graph)
    assert torch.equal(to_edge_index(back), EDGE_INDEX) and back.num_nodes == 6
    torch.testing.assert_close(back_weight, weight)
    torch.testing.assert_close(nodes["x"], x)
    assert torch.equal(nodes["y"], y)
    assert gs.Graph.from_networkx(g.to_networkx()).num_edges == 5  # the method form round-trips as well
    # relabelled in networkx's node order; an undirected graph gives both directions with their weight
    und = nx.Graph()
    und.add_nodes_from(["c", "a", "b"])
    und.add_edge("a", "b", weight=2.0)
    und.add_edge("c", "a", weight=3.0)
    g2, w2, _ = from_networkx(und)
    pairs = sorted(zip(g2.src.tolist(), g2.dst.tolist(), w2.tolist()))
    assert pairs == [(0, 1, 3.0), (1, 0, 3.0), (1, 2, 2.0), (2, 1, 2.0)]  # c=0, a=1, b=2


def test_scipy_round_trip_keeps_weights():
    g = gs.Graph(torch.tensor([2, 0, 1]), torch.tensor([0, 1, 2]), 4)
    weight = torch.tensor([3.0, 1.0, 2.0])
    back, back_weight = from_scipy(to_scipy(g, weight))
    order = np.lexsort((g.dst.numpy(), g.src.numpy()))  # scipy's order: row-major
    assert back.src.tolist() == g.src[order].tolist() and back.dst.tolist() == g.dst[order].tolist()
    torch.testing.assert_close(back_weight, weight[order])
    assert back.num_nodes == 4


def test_dataset_and_block_move_with_one_to():
    g = gs.Graph(EDGE_INDEX, num_nodes=6)
    data = NodeDataset("tiny", g, torch.rand(6, 3), torch.tensor([0, 1, 1, 0, 1, 0]), 2,
                       *random_split(6, 0.5, 0.25, seed=0), edge_weight=torch.rand(5))
    moved = data.to("meta")  # a device every machine has
    tensors = [moved.x, moved.y, moved.train_mask, moved.val_mask, moved.test_mask, moved.edge_weight,
               moved.graph.src]
    assert all(t.device.type == "meta" for t in tensors) and data.x.device.type == "cpu"
    block = NeighborSampler(g, [2]).sample_blocks(torch.tensor([0, 1]))[0]
    on_meta = block.to("meta")
    assert on_meta.src_ids.device.type == on_meta.src.device.type == "meta" and block.src_ids.device.type == "cpu"
    tu = gs.datasets.GraphDataset("pair", [g, g], [torch.rand(6, 3)] * 2, torch.tensor([0, 1]), 2)
    assert tu.to("meta").xs[1].device.type == "meta"


def test_feature_normalisation_is_an_explicit_transform():
    g = gs.Graph(EDGE_INDEX, num_nodes=6)
    x = torch.tensor([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [1.0, 3.0], [0.0, 1.0], [5.0, 5.0]])
    data = NodeDataset("tiny", g, x, torch.zeros(6, dtype=torch.long), 1)
    rows = normalize_features(data).x.sum(1)
    torch.testing.assert_close(rows, torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0]))
    assert torch.equal(data.x, x)  # a copy: the dataset keeps its raw features


class _DGLLike:
    """What from_dgl reads of a dgl.DGLGraph: edges(), num_nodes(), ndata, edata."""

    def __init__(self, src, dst, n, ndata, edata):
        self._edges, self._n, self.ndata, self.edata = (src, dst), n, ndata, edata

    def edges(self):
        return self._edges

    def num_nodes(self):
        return self._n


def test_pyg_and_dgl_graphs_convert_without_importing_them():
    import sys
    from types import SimpleNamespace

    from graphscale.errors import GraphscaleError
    from graphscale.interop import from_dgl, from_pyg, to_dgl, to_pyg

    x, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    masks = random_split(6, 0.5, 0.25, seed=1)
    weight = torch.rand(5)
    data = SimpleNamespace(edge_index=EDGE_INDEX, num_nodes=6, x=x, y=y, train_mask=masks[0], val_mask=masks[1],
                           test_mask=masks[2], edge_weight=weight)
    ds = from_pyg(data, name="tiny")
    assert torch.equal(to_edge_index(ds.graph), EDGE_INDEX) and ds.num_nodes == 6 and ds.num_classes == 3
    assert torch.equal(ds.x, x) and torch.equal(ds.y, y) and torch.equal(ds.train_mask, masks[0])
    torch.testing.assert_close(ds.edge_weight, weight)
    dgl_like = _DGLLike(EDGE_INDEX[0], EDGE_INDEX[1], 6, {"feat": x, "label": y, "test_mask": masks[2]},
                        {"weight": weight})
    ds2 = from_dgl(dgl_like)
    assert torch.equal(ds2.x, x) and torch.equal(ds2.y, y) and torch.equal(ds2.test_mask, masks[2])
    assert ds2.train_mask is None and torch.equal(to_edge_index(ds2.graph), EDGE_INDEX)
    assert "torch_geometric" not in sys.modules and "dgl" not in sys.modules  # never imported by these
    for convert, package in ((to_pyg, "torch_geometric"), (to_dgl, "dgl")):
        try:
            __import__(package)
        except ImportError:
            with pytest.raises(GraphscaleError, match=f"expected {package} installed"):
                convert(ds)


class _HeteroDataLike:
    """What from_pyg reads of a PyG HeteroData: node_types, edge_types and per-type stores."""

    def __init__(self, stores, node_types, edge_types):
        self._stores, self.node_types, self.edge_types = stores, node_types, edge_types

    def __getitem__(self, key):
        return self._stores[key]


class _DGLHeteroLike:
    """What from_dgl reads of a DGL heterograph: ntypes, canonical_etypes, num_nodes(t), edges(etype=), nodes."""

    def __init__(self, counts, edges, data):
        self.ntypes, self.canonical_etypes = list(counts), list(edges)
        self._counts, self._edges = counts, edges
        self.nodes = {t: SimpleNamespace(data=data.get(t, {})) for t in counts}

    def num_nodes(self, ntype):
        return self._counts[ntype]

    def edges(self, etype):
        return self._edges[etype]


def test_hetero_data_and_dgl_heterographs_convert_without_importing_them():
    import sys

    from graphscale.datasets import HeteroNodeDataset
    from graphscale.interop import from_dgl, from_pyg

    writes, cites = ("author", "writes", "paper"), ("paper", "cites", "paper")
    w, c = torch.tensor([[0, 1, 2], [1, 0, 2]]), torch.tensor([[0, 1], [2, 2]])
    x, y = torch.randn(3, 4), torch.tensor([0, 1, 1])
    train = torch.tensor([True, False, True])
    stores = {"paper": SimpleNamespace(num_nodes=3, x=x, y=y, train_mask=train), "author": SimpleNamespace(num_nodes=3),
              writes: SimpleNamespace(edge_index=w), cites: SimpleNamespace(edge_index=c)}
    ds = from_pyg(_HeteroDataLike(stores, ["paper", "author"], [writes, cites]), name="tiny")
    assert isinstance(ds, HeteroNodeDataset) and ds.target == "paper" and ds.num_classes == 2
    assert torch.equal(ds.graph[writes].src.long(), w[0]) and torch.equal(ds.graph[cites].dst.long(), c[1])
    assert torch.equal(ds.x["paper"], x) and "author" not in ds.x and torch.equal(ds.train_mask, train)
    assert ds.val_mask is None
    dgl_like = _DGLHeteroLike({"paper": 3, "author": 3}, {writes: (w[0], w[1]), cites: (c[0], c[1])},
                              {"paper": {"feat": x, "label": y, "test_mask": train}})
    ds2 = from_dgl(dgl_like)
    assert ds2.target == "paper" and torch.equal(ds2.test_mask, train) and ds2.graph.num_edges() == 5
    assert "torch_geometric" not in sys.modules and "dgl" not in sys.modules
    bad = dict(stores, author=SimpleNamespace(num_nodes=3, y=y))  # labels on two types: which is the target?
    with pytest.raises(GraphFormatError, match="exactly one node type"):
        from_pyg(_HeteroDataLike(bad, ["paper", "author"], [writes, cites]))
