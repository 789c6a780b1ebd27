import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphscale as gs
from graphscale.errors import GraphFormatError, ShapeError
from graphscale.graph import check_node_features


def random_graph(num_nodes=30, num_edges=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    return gs.Graph(torch.randint(0, num_nodes, (num_edges,), generator=g),
                    torch.randint(0, num_nodes, (num_edges,), generator=g), num_nodes)


def test_basic_properties_and_int32_storage():
    g = gs.Graph([0, 1, 2], [1, 2, 0])
    assert (g.num_nodes, g.num_edges) == (3, 3)
    assert g.src.dtype == torch.int32 and g.dst.dtype == torch.int32
    assert g.edge_index.dtype == torch.int64
    assert torch.equal(g.edge_index, torch.tensor([[0, 1, 2], [1, 2, 0]]))


def test_num_nodes_covers_isolated_nodes_and_empty_graph():
    g = gs.Graph([0], [1], num_nodes=5)
    assert g.num_nodes == 5 and g.in_degrees().tolist() == [0, 1, 0, 0, 0]
    empty = gs.Graph([], [], num_nodes=4)
    assert empty.num_edges == 0
    indptr, idx, perm = empty.csc()
    assert indptr.tolist() == [0, 0, 0, 0, 0] and idx.numel() == 0 and perm.numel() == 0
    assert gs.Graph([], []).num_nodes == 0


@pytest.mark.parametrize("kind", ["csr", "csc"])
def test_compressed_formats_match_scipy(kind):
    g = random_graph()
    indptr, idx, perm = getattr(g, kind)()
    rows = g.src if kind == "csr" else g.dst
    cols = g.dst if kind == "csr" else g.src
    # permutation maps compressed order back to edge order
    assert torch.equal(rows[perm].long(), torch.repeat_interleave(torch.arange(g.num_nodes), indptr.diff()))
    assert torch.equal(cols[perm], idx)
    # stable: edge ids increase within each row
    for r in range(g.num_nodes):
        seg = perm[indptr[r]:indptr[r + 1]]
        assert torch.all(seg[1:] > seg[:-1])
    mat = g.to_scipy(fmt="csr") if kind == "csr" else g.to_scipy().T.tocsr()
    dense = torch.zeros(g.num_nodes, g.num_nodes)
    dense.index_put_((rows.long()[perm], idx.long()), torch.ones(g.num_edges), accumulate=True)
    assert np.allclose(mat.toarray(), dense.numpy())


def test_degrees():
    g = random_graph()
    assert torch.equal(g.in_degrees(), torch.bincount(g.dst.long(), minlength=g.num_nodes))
    assert torch.equal(g.out_degrees(), torch.bincount(g.src.long(), minlength=g.num_nodes))


@pytest.mark.parametrize("src,dst,num_nodes,match", [
    ([0, -1], [1, 0], 3, "negative node id -1 at position 1"),
    ([0, 1], [1, 7], 3, "dst node id 7 at position 1 is out of range for a graph with 3 nodes"),
    ([0, 1, 2], [1, 0], None, "equal length"),
    (torch.tensor([0.0, 1.0]), [1, 0], None, "integer node ids"),
    (np.array([0.5]), [1], None, "integer node ids"),
])
def test_invalid_ids_are_rejected(src, dst, num_nodes, match):
    with pytest.raises(GraphFormatError, match=match):
        gs.Graph(src, dst, num_nodes)


def test_two_dim_src_is_rejected_with_hint():
    with pytest.raises(GraphFormatError, match="from_edge_index"):
        gs.Graph(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(GraphFormatError, match=r"\[2, E\]"):
        gs.Graph.from_edge_index(torch.zeros(3, 2, dtype=torch.long))


def test_conversions_roundtrip():
    g = random_graph(12, 40)
    g2 = gs.Graph.from_edge_index(g.edge_index, g.num_nodes)
    assert torch.equal(g2.src, g.src) and torch.equal(g2.dst, g.dst)
    mat = g.to_scipy()
    assert mat.sum() == g.num_edges
    g3 = gs.Graph.from_scipy(sp.csr_matrix(mat))
    assert g3.num_nodes == 12 and sorted(zip(g3.src.tolist(), g3.dst.tolist())) == \
        sorted(set(zip(g.src.tolist(), g.dst.tolist())))
    nxg = g.to_networkx()
    assert nxg.number_of_edges() == g.num_edges
    undirected = gs.Graph.from_networkx(nx.path_graph(4))
    assert undirected.num_edges == 6 and undirected.num_nodes == 4
    with pytest.raises(GraphFormatError, match="square"):
        gs.Graph.from_scipy(sp.csr_matrix((2, 3)))


def test_transforms():
    g = gs.Graph([0, 1, 1, 2, 2], [1, 0, 1, 0, 0], num_nodes=4)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    loops = gs.add_self_loops(g)
    assert loops.num_edges == 9 and gs.add_self_loops(g) is loops  # cached
    loops_w, w2 = gs.add_self_loops(g, w, fill_value=0.5)
    assert w2.tolist() == [1, 2, 3, 4, 5, 0.5, 0.5, 0.5, 0.5]
    no_loops, w3 = gs.remove_self_loops(g, w)
    assert no_loops.num_edges == 4 and w3.tolist() == [1, 2, 4, 5]
    rev = gs.reverse(g)
    assert torch.equal(rev.src, g.dst) and torch.equal(rev.dst, g.src)
    und = gs.to_undirected(g)
    pairs = set(zip(und.src.tolist(), und.dst.tolist()))
    assert pairs == {(0, 1), (1, 0), (1, 1), (0, 2), (2, 0)} and und.num_edges == 5
    co, cw = gs.coalesce(g, w)
    assert co.num_edges == 4 and cw.tolist() == [1.0, 2.0, 3.0, 9.0]
    sub, eids = gs.subgraph(g, torch.tensor([2, 0]), return_edge_ids=True)
    assert sub.num_nodes == 2 and eids.tolist() == [3, 4]
    assert sub.src.tolist() == [0, 0] and sub.dst.tolist() == [1, 1]
    es = gs.edge_subgraph(g, torch.tensor([True, False, False, True, False]))
    assert es.num_nodes == 4 and es.src.tolist() == [0, 2]
    with pytest.raises(GraphFormatError):
        gs.subgraph(g, torch.tensor([5]))
    with pytest.raises(ShapeError):
        gs.add_self_loops(g, torch.ones(3))


def test_gcn_norm_matches_dense():
    g = random_graph(10, 30, seed=3)
    g, norm = gs.gcn_norm(g, add_loops=True)
    a = torch.zeros(10, 10)
    a.index_put_((g.dst.long(), g.src.long()), torch.ones(g.num_edges), accumulate=True)
    d_in, d_out = a.sum(1), a.sum(0)
    dense = torch.zeros(10, 10)
    dense.index_put_((g.dst.long(), g.src.long()), norm, accumulate=True)
    expected = a / torch.sqrt(d_in[:, None] * d_out[None, :])
    assert torch.allclose(dense, torch.nan_to_num(expected))


def test_batch_and_unbatch():
    graphs = [random_graph(5, 8, seed=i) for i in range(3)] + [gs.Graph([], [], num_nodes=2)]
    b = gs.batch(graphs)
    assert b.num_graphs == 4 and b.num_nodes == 17 and b.num_edges == 24
    assert b.node_ptr.tolist() == [0, 5, 10, 15, 17]
    assert b.batch_index.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 2
    for orig, back in zip(graphs, gs.unbatch(b)):
        assert torch.equal(orig.src, back.src) and back.num_nodes == orig.num_nodes
    with pytest.raises(GraphFormatError):
        gs.batch([])


def test_block_from_full_graph():
    g = random_graph(20, 80, seed=5)
    seeds = torch.tensor([3, 7, 11])
    block = gs.to_block(g, seeds)
    assert block.num_dst_nodes == 3 and torch.equal(block.src_ids[:3], seeds)
    assert block.num_edges == int(g.in_degrees()[seeds].sum())
    orig = set(zip(block.src_ids[block.src.long()].tolist(), seeds[block.dst.long()].tolist()))
    expected = {(s, d) for s, d in zip(g.src.tolist(), g.dst.tolist()) if d in {3, 7, 11}}
    assert orig == expected
    assert torch.equal(g.src[block.edge_ids].long(), block.src_ids[block.src.long()])


def test_check_node_features():
    g = random_graph(6, 10)
    check_node_features(g, torch.zeros(6, 4), dim=4)
    with pytest.raises(ShapeError, match=r"one row per node \(6 rows\)"):
        check_node_features(g, torch.zeros(5, 4))
    with pytest.raises(ShapeError, match="unsqueeze"):
        check_node_features(g, torch.zeros(6), dim=1)
    bad = torch.zeros(6, 2)
    bad[4, 1] = float("nan")
    with pytest.raises(ShapeError, match="NaN or inf at row 4"):
        check_node_features(g, bad, check_finite=True)


def test_to_device_keeps_cache_and_is_identity_on_same_device():
    g = random_graph()
    g.csc()
    assert g.to("cpu") is g
