"""Fused multi-relation message passing against the per-relation loop of saga() calls, values and gradients."""

import pytest
import torch

from graphscale.errors import ShapeError
from graphscale.graph import Block, Graph
from graphscale.graph.hetero import HeteroGraph
from graphscale.saga import fn, saga
from graphscale.saga.hetero import hetero_saga
from graphscale.saga.relational import gather_mm, relation_pairs, relational_saga, segment_mm


def typed_graph(num_nodes=9, num_edges=40, num_relations=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=g)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=g)
    edge_type = torch.randint(0, num_relations, (num_edges,), generator=g)
    edge_type[edge_type == num_relations - 1] = 0  # the last relation has no edges (an empty segment)
    return Graph(src, dst, num_nodes), edge_type


def loop_reference(graph, x, weight, edge_type, norm, gather="sum"):
    """sum over relations r of saga(G_r, src=x W_r, [edge=norm_r]) with G_r the edges of relation r."""
    out = None
    for r in range(weight.shape[0]):
        eids = (edge_type == r).nonzero().view(-1)
        sub = Graph._trusted(graph.src[eids], graph.dst[eids], graph.num_src_nodes, graph.num_dst_nodes)
        h = x @ weight[r] if x.dim() == 2 else torch.einsum("nhi,hio->nho", x, weight[r])
        if norm is None:
            part = saga(sub, src=h, apply_edge=fn.copy_src, gather=gather)
        else:
            coef = norm[eids].view(-1, *([1] * (h.dim() - 1)))
            part = saga(sub, src=h, edge=coef, apply_edge=fn.src_mul_edge, gather=gather)
        out = part if out is None else out + part
    return out


def right_norm(graph, edge_type):
    key = edge_type * graph.num_dst_nodes + graph.dst.long()
    counts = torch.bincount(key, minlength=int(key.max()) + 1).double()
    return 1.0 / counts[key]


def test_segment_mm_matches_loop_and_gradcheck():
    x = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)
    out = segment_mm(x, w, [2, 0, 5])
    expected = torch.cat([x[:2] @ w[0], x[2:] @ w[2]])
    assert torch.allclose(out, expected)
    assert torch.autograd.gradcheck(lambda a, b: segment_mm(a, b, [2, 0, 5]), (x, w))
    xh = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    wh = torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: segment_mm(a, b, [4, 1]), (xh, wh))
    index = torch.tensor([3, 0, 0, 6, 1])
    assert torch.allclose(gather_mm(x, index, w[:2], [2, 3]), segment_mm(x[index], w[:2], [2, 3]))


def test_block_segment_mm_numba_path_equals_the_per_relation_loop():
    """Per-head blocks on the CPU run as numba kernels: equal to one einsum per relation, values and gradients,
    with empty segments and a non-contiguous input."""
    torch.manual_seed(0)
    lengths = [3, 0, 7, 1, 0, 9]
    base = torch.randn(20, 4, 6)
    x = base[:, :, ::2].clone().requires_grad_(True)  # [20, 4, 3]
    w = torch.randn(6, 4, 3, 5, requires_grad=True)
    out = segment_mm(x.transpose(0, 1).contiguous().transpose(0, 1), w, lengths)
    pieces, start = [], 0
    for r, length in enumerate(lengths):
        pieces.append(torch.einsum("mhi,hio->mho", x[start:start + length], w[r]))
        start += length
    expected = torch.cat(pieces)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, w), grad)
    want = torch.autograd.grad(expected, (x, w), grad)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    assert torch.equal(got[1][1], torch.zeros_like(got[1][1]))  # an empty segment gets no gradient


def test_segment_mm_rejects_bad_shapes():
    with pytest.raises(ShapeError, match="segment lengths"):
        segment_mm(torch.randn(4, 3), torch.randn(2, 3, 2), [1, 1])
    with pytest.raises(ShapeError, match="agree"):
        segment_mm(torch.randn(4, 3), torch.randn(2, 5, 2), [2, 2])


def per_edge_reference(graph, x, weight, edge_type, coef, gather):
    """Dense oracle: m_e = c_e x_src(e) W_r(e) for every edge, reduced at dst with scatter_reduce."""
    messages = torch.einsum("ei,eio->eo", x[graph.src.long()], weight[edge_type])
    if coef is not None:
        messages = messages * coef.unsqueeze(1)
    out = messages.new_zeros(graph.num_dst_nodes, weight.shape[-1])
    index = graph.dst.long().unsqueeze(1).expand_as(messages)
    reduce = {"sum": "sum", "mean": "mean", "max": "amax"}[gather]
    return out.scatter_reduce(0, index, messages, reduce=reduce, include_self=False)


@pytest.mark.parametrize("norm", ["right", "none", "tensor"])
@pytest.mark.parametrize("gather", ["sum", "mean", "max"])
def test_relational_saga_equals_references(norm, gather):
    graph, edge_type = typed_graph()
    x = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 5, 3, dtype=torch.float64, requires_grad=True)
    weights = {"right": right_norm(graph, edge_type), "none": None,
               "tensor": torch.rand(graph.num_edges, dtype=torch.float64)}[norm]
    arg = weights if norm == "tensor" else norm
    out = relational_saga(graph, x, w, edge_type, norm=arg, gather=gather)
    assert torch.allclose(out, per_edge_reference(graph, x, w, edge_type, weights, gather), atol=1e-12)
    if gather == "sum":  # the sum over in-edges is the sum over relations of the per-relation sums
        ref = loop_reference(graph, x, w, edge_type, weights, gather)
        assert torch.allclose(out, ref, atol=1e-12)
        grads = torch.autograd.grad(out.square().sum(), (x, w))
        ref_grads = torch.autograd.grad(ref.square().sum(), (x, w))
        for a, b in zip(grads, ref_grads):
            assert torch.allclose(a, b, atol=1e-10)
    assert torch.autograd.gradcheck(lambda a, b: relational_saga(graph, a, b, edge_type, norm=arg, gather=gather),
                                    (x, w))


def test_relational_saga_per_head_blocks_and_bipartite_block():
    block = Block(torch.tensor([0, 4, 2, 3, 4, 1]), torch.tensor([0, 0, 1, 1, 2, 2]), 5, 3)
    edge_type = torch.tensor([1, 0, 1, 1, 0, 2])
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    out = relational_saga(block, x, w, edge_type)
    ref = loop_reference(block, x, w, edge_type, right_norm(block, edge_type))
    assert out.shape == (3, 2, 2) and torch.allclose(out, ref, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: relational_saga(block, a, b, edge_type), (x, w))


def test_relation_pairs_are_distinct_sorted_and_cached():
    graph, edge_type = typed_graph()
    pairs = relation_pairs(graph, edge_type, 4)
    keys = [(r, s) for r, n in enumerate(pairs.pair_counts) for s in [None] * n]
    assert sum(pairs.pair_counts) == pairs.pair_src.numel() == len(keys)
    expected = sorted({(int(r), int(s)) for r, s in zip(edge_type, graph.src)})
    got = [(r, int(s)) for (r, _), s in zip(keys, pairs.pair_src)]
    assert got == expected
    assert pairs.pair_counts[3] == 0
    assert relation_pairs(graph, edge_type, 4) is pairs  # cached for the same edge_type tensor
    assert relation_pairs(graph, edge_type.clone(), 4) is not pairs
    with pytest.raises(ShapeError, match="relation ids in"):
        relation_pairs(graph, edge_type, 2)


def test_hetero_saga_combines_relations_per_destination_type():
    g = torch.Generator().manual_seed(1)
    hg = HeteroGraph({"paper": 5, "author": 4}, {
        ("author", "writes", "paper"): (torch.randint(0, 4, (12,), generator=g), torch.randint(0, 5, (12,), generator=g)),
        ("paper", "cites", "paper"): (torch.randint(0, 5, (9,), generator=g), torch.randint(0, 5, (9,), generator=g)),
        ("paper", "rev_writes", "author"): (torch.randint(0, 5, (7,), generator=g), torch.randint(0, 4, (7,), generator=g)),
    })
    x = {"paper": torch.randn(5, 3), "author": torch.randn(4, 3)}
    for cross in ("sum", "mean", "max", "stack"):
        out = hetero_saga(hg, src=x, gather="mean", cross_reduce=cross)
        writes = saga(hg["writes"], src=x["author"], gather="mean")
        cites = saga(hg["cites"], src=x["paper"], gather="mean")
        both = torch.stack([writes, cites], 1)
        expected = {"sum": both.sum(1), "mean": both.mean(1), "max": both.max(1).values, "stack": both}[cross]
        assert torch.allclose(out["paper"], expected)
        authors = saga(hg["rev_writes"], src=x["paper"], gather="mean")
        assert torch.allclose(out["author"], authors if cross != "stack" else authors.unsqueeze(1))
    with pytest.raises(ShapeError, match="node type 'author'"):
        hetero_saga(hg, src={"paper": x["paper"]})
    only = hetero_saga(hg, src=x, etypes=["cites"])
    assert set(only) == {"paper"}
