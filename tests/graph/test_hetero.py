"""HeteroGraph: construction, validation, homogeneous round trip, subgraph, reverse, batching, blocks."""

import pytest
import torch

from graphscale.errors import GraphFormatError, ShapeError
from graphscale.graph import Block
from graphscale.graph import HeteroBlock, HeteroGraph, batch_hetero, unbatch_hetero

WRITES = ("author", "writes", "paper")
CITES = ("paper", "cites", "paper")
AFFIL = ("author", "affiliated_with", "institution")


def small(seed: int = 0) -> HeteroGraph:
    g = torch.Generator().manual_seed(seed)
    return HeteroGraph({"paper": 6, "author": 4, "institution": 2}, {
        WRITES: (torch.randint(0, 4, (10,), generator=g), torch.randint(0, 6, (10,), generator=g)),
        CITES: (torch.randint(0, 6, (8,), generator=g), torch.randint(0, 6, (8,), generator=g)),
        AFFIL: (torch.randint(0, 4, (5,), generator=g), torch.randint(0, 2, (5,), generator=g)),
    })


def edge_set(graph, etype):
    rel = graph[etype]
    return sorted(zip(rel.src.tolist(), rel.dst.tolist()))


def test_counts_types_and_lookup():
    hg = small()
    assert hg.ntypes == ("paper", "author", "institution")
    assert hg.canonical_etypes == (WRITES, CITES, AFFIL)
    assert hg.num_nodes() == 12 and hg.num_nodes("author") == 4 and hg.num_edges() == 23
    assert hg["writes"] is hg[WRITES]
    assert (hg["writes"].num_src_nodes, hg["writes"].num_dst_nodes) == (4, 6)
    assert hg.dst_types() == ("paper", "institution")


def test_counts_inferred_for_types_left_out():
    hg = HeteroGraph(None, {WRITES: ([0, 3], [1, 4])})
    assert hg.num_nodes_dict == {"author": 4, "paper": 5}


@pytest.mark.parametrize("edges, fragment", [
    ({WRITES: ([0, 9], [1, 1])}, "src node id 9 at position 1"),
    ({WRITES: ([0, -1], [1, 1])}, "negative node id"),
    ({WRITES: ([0, 1], [1])}, "equal length"),
    ({("author", "writes"): ([0], [1])}, "three non-empty strings"),
    ({WRITES: torch.zeros(3)}, "(src_ids, dst_ids) or a Graph"),
])
def test_bad_input_names_the_relation(edges, fragment):
    with pytest.raises(GraphFormatError, match="HeteroGraph") as info:
        HeteroGraph({"author": 4, "paper": 6}, edges)
    assert fragment in str(info.value)


def test_ambiguous_and_unknown_relation_names():
    hg = HeteroGraph(None, {("a", "r", "b"): ([0], [0]), ("b", "r", "a"): ([0], [0])})
    with pytest.raises(GraphFormatError, match="several node types"):
        hg["r"]
    with pytest.raises(GraphFormatError, match="expected a relation"):
        hg["q"]


def test_homogeneous_round_trip_keeps_every_edge():
    hg = small()
    view = hg.to_homogeneous()
    assert view.graph.num_nodes == 12 and view.graph.num_edges == 23
    assert view.edge_offsets.tolist() == [0, 10, 18, 23]
    assert view.node_type.tolist() == [0] * 6 + [1] * 4 + [2] * 2
    # a homogeneous edge joins the right global ids
    s, d = view.graph.src.long(), view.graph.dst.long()
    assert torch.equal(s[:10], hg[WRITES].src.long() + view.src_offsets["author"])
    assert torch.equal(d[18:], hg[AFFIL].dst.long() + view.dst_offsets["institution"])
    back = HeteroGraph.from_homogeneous(view.graph, view.node_type, view.edge_type, view.ntypes,
                                        view.canonical_etypes)
    for etype in hg.canonical_etypes:
        assert edge_set(back, etype) == edge_set(hg, etype)


def test_from_homogeneous_rejects_type_mismatch():
    hg = small()
    view = hg.to_homogeneous()
    wrong = view.edge_type.clone()
    wrong[0] = 2  # a writes edge labelled affiliated_with: its destination is a paper, not an institution
    with pytest.raises(GraphFormatError, match="edge 0 has edge type"):
        HeteroGraph.from_homogeneous(view.graph, view.node_type, wrong, view.ntypes, view.canonical_etypes)


def test_subgraph_keeps_induced_edges_and_maps_back():
    hg = small()
    papers, authors = torch.tensor([5, 0, 2]), torch.tensor([3, 1])
    sub = hg.subgraph({"paper": papers, "author": authors})
    assert sub.num_nodes_dict == {"paper": 3, "author": 2, "institution": 0}
    expected = sorted((authors.tolist().index(s), papers.tolist().index(d)) for s, d in edge_set(hg, WRITES)
                      if s in authors.tolist() and d in papers.tolist())
    assert edge_set(sub, WRITES) == expected
    kept = sub.parent_edge_ids[WRITES]
    assert torch.equal(authors[sub[WRITES].src.long()], hg[WRITES].src[kept].long())
    assert sub[AFFIL].num_edges == 0


def test_reverse_and_add_reverse():
    hg = small()
    rev = hg.reverse([WRITES])
    assert ("paper", "writes", "author") in rev.canonical_etypes
    assert edge_set(rev, ("paper", "writes", "author")) == sorted((d, s) for s, d in edge_set(hg, WRITES))
    both = hg.add_reverse()
    assert len(both.canonical_etypes) == 6
    assert both.num_edges(("paper", "rev_cites", "paper")) == hg.num_edges(CITES)
    assert edge_set(both, ("institution", "rev_affiliated_with", "author")) == \
        sorted((d, s) for s, d in edge_set(hg, AFFIL))
    assert both.add_reverse().canonical_etypes == both.canonical_etypes  # idempotent


def test_batch_and_unbatch_round_trip():
    graphs = [small(seed) for seed in range(3)]
    batched = batch_hetero(graphs)
    assert batched.num_graphs == 3 and batched.num_nodes("paper") == 18
    assert batched.batch_index("author").tolist() == [0] * 4 + [1] * 4 + [2] * 4
    for original, restored in zip(graphs, unbatch_hetero(batched)):
        for etype in original.canonical_etypes:
            assert edge_set(restored, etype) == edge_set(original, etype)
    with pytest.raises(GraphFormatError, match="types of graph 0"):
        batch_hetero([graphs[0], graphs[0].edge_type_subgraph(["cites"])])


def test_hetero_block_checks_prefix_and_sizes():
    rel = Block(torch.tensor([0, 1]), torch.tensor([0, 0]), 3, 1)
    block = HeteroBlock({"author": 3, "paper": 2}, {"author": 0, "paper": 1}, {WRITES: rel})
    assert block.is_block and block.num_dst_nodes("paper") == 1 and block.num_src_nodes("paper") == 2
    with pytest.raises(GraphFormatError, match="expected 3 source and 2 destination"):
        HeteroBlock({"author": 3, "paper": 2}, {"author": 0, "paper": 2}, {WRITES: rel})
    with pytest.raises(GraphFormatError, match="prefix"):
        HeteroBlock({"author": 3, "paper": 0}, {"author": 0, "paper": 1}, {})


def test_homogeneous_view_helpers():
    hg = small()
    view = hg.to_homogeneous()
    x = {t: torch.full((hg.num_nodes(t), 2), float(i)) for i, t in enumerate(hg.ntypes)}
    assert view.cat_src(x).shape == (12, 2)
    parts = view.split_dst(view.cat_src(x))
    assert all(torch.equal(parts[t], x[t]) for t in hg.ntypes)
    with pytest.raises(ShapeError, match="missing"):
        view.cat_src({"paper": x["paper"]})
