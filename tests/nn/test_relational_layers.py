"""R-GCN, HeteroConv and HGT against dense / per-edge references written from the papers' equations."""

import math

import pytest
import torch
import torch.nn.functional as F

from graphscale.errors import ConfigError
from graphscale.graph import Graph
from graphscale.graph.hetero import HeteroGraph
from graphscale.nn.conv import GATConv, SAGEConv
from graphscale.nn.conv.hetero import HeteroConv
from graphscale.nn.conv.hgt import HGTConv
from graphscale.nn.conv.rgcn import RGCNConv

WRITES, CITES, REV = ("author", "writes", "paper"), ("paper", "cites", "paper"), ("paper", "rev_writes", "author")


def hetero(seed=0):
    g = torch.Generator().manual_seed(seed)
    return HeteroGraph({"paper": 6, "author": 5}, {
        WRITES: (torch.randint(0, 5, (14,), generator=g), torch.randint(0, 6, (14,), generator=g)),
        CITES: (torch.randint(0, 6, (10,), generator=g), torch.randint(0, 6, (10,), generator=g)),
        REV: (torch.randint(0, 6, (8,), generator=g), torch.randint(0, 5, (8,), generator=g)),
    })


def rgcn_dense(conv, graph, x, edge_type):
    """Eq. (2): h_i = W_0 x_i + sum_r sum_{j in N_i^r} (1/c_ir) W_r x_j + b, with dense per-relation adjacency."""
    weight = conv.relation_weights()
    if conv.regularizer == "block":
        weight = torch.stack([torch.block_diag(*weight[r]) for r in range(weight.shape[0])])
    out = conv.root(x) + conv.bias
    for r in range(conv.num_relations):
        adj = torch.zeros(graph.num_nodes, graph.num_nodes, dtype=x.dtype)
        mask = edge_type == r
        adj.index_put_((graph.dst[mask].long(), graph.src[mask].long()), torch.ones(int(mask.sum()), dtype=x.dtype),
                       accumulate=True)
        degree = adj.sum(1, keepdim=True).clamp(min=1)
        out = out + (adj / degree) @ x @ weight[r]
    return out


@pytest.mark.parametrize("regularizer, extra", [("none", {}), ("basis", {"num_bases": 2}),
                                                ("block", {"num_blocks": 2})])
def test_rgcn_matches_dense_equation(regularizer, extra):
    torch.manual_seed(0)
    graph = Graph(torch.randint(0, 8, (30,)), torch.randint(0, 8, (30,)), 8)
    edge_type = torch.randint(0, 3, (30,))
    conv = RGCNConv(4, 6, 3, regularizer=regularizer, **extra).double()
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    out = conv(graph, x, edge_type)
    assert torch.allclose(out, rgcn_dense(conv, graph, x, edge_type), atol=1e-10)
    assert torch.autograd.gradcheck(lambda inp: conv(graph, inp, edge_type), (x,))
    out.sum().backward()
    assert all(p.grad is not None for p in conv.parameters())


def test_rgcn_bad_configs():
    with pytest.raises(ConfigError, match="divide"):
        RGCNConv(5, 6, 3, regularizer="block", num_blocks=2)
    with pytest.raises(ConfigError, match="regularizer"):
        RGCNConv(4, 4, 3, regularizer="tucker")


def test_rgcn_on_hetero_homogeneous_view_equals_hetero_conv_of_linear_maps():
    """R-GCN on the homogeneous view == per relation mean of W_r x_src, summed per destination type."""
    hg = hetero()
    view = hg.to_homogeneous()
    conv = RGCNConv(3, 2, 3, self_loop=False, bias=False).double()
    x = {"paper": torch.randn(6, 3, dtype=torch.float64), "author": torch.randn(5, 3, dtype=torch.float64)}
    out = view.split_dst(conv(view.graph, view.cat_src(x), view.edge_type))
    from graphscale.saga import saga

    for t in hg.ntypes:
        expected = sum(saga(g, src=x[e[0]] @ conv.weight[r], gather="mean")
                       for r, (e, g) in enumerate(hg.relations()) if e[2] == t)
        assert torch.allclose(out[t], expected, atol=1e-12)


def test_hetero_conv_runs_one_layer_per_relation():
    hg = hetero()
    torch.manual_seed(0)
    convs = {WRITES: SAGEConv(3, 4), CITES: SAGEConv(3, 4), REV: GATConv(3, 4, num_heads=1, add_self_loops=False)}
    layer = HeteroConv(convs, aggregate="sum")
    x = {"paper": torch.randn(6, 3), "author": torch.randn(5, 3)}
    out = layer(hg, x)
    paper = convs[WRITES](hg[WRITES], (x["author"], x["paper"])) + convs[CITES](hg[CITES], x["paper"])
    assert torch.allclose(out["paper"], paper, atol=1e-6)
    assert torch.allclose(out["author"], convs[REV](hg[REV], (x["paper"], x["author"])), atol=1e-6)
    assert set(dict(layer.named_parameters())) >= {"convs.author__writes__paper.lin_neigh.weight"}


def hgt_reference(layer, hg, x):
    """Per-edge HGT (eq. 3-7) with explicit loops over destination nodes."""
    ntypes, etypes = layer.ntypes, layer.canonical_etypes
    heads, d = layer.num_heads, layer.head_dim

    def typed(linear, t, value):
        i = ntypes.index(t)
        return value @ linear.weight[i] + linear.bias[i]

    out = {}
    for t in ntypes:
        rows = []
        for v in range(hg.num_nodes(t)):
            q = typed(layer.query, t, x[t][v]).view(heads, d)
            scores, messages = [], []
            for r, etype in enumerate(etypes):
                if etype[2] != t:
                    continue
                rel = hg[etype]
                for s in rel.src[rel.dst == v].tolist():
                    k = typed(layer.key, etype[0], x[etype[0]][s]).view(heads, d)
                    val = typed(layer.value, etype[0], x[etype[0]][s]).view(heads, d)
                    att = torch.einsum("hi,hij->hj", k, layer.w_att[r])
                    scores.append((att * q).sum(-1) * layer.prior[r] / math.sqrt(d))
                    messages.append(torch.einsum("hi,hij->hj", val, layer.w_msg[r]))
            if scores:
                weights = torch.softmax(torch.stack(scores), dim=0)  # [deg, H]
                agg = (weights.unsqueeze(-1) * torch.stack(messages)).sum(0).reshape(-1)
            else:
                agg = torch.zeros(heads * d, dtype=x[t].dtype)
            h = typed(layer.out, t, F.gelu(agg))
            alpha = torch.sigmoid(layer.skip[ntypes.index(t)])
            rows.append(alpha * h + (1 - alpha) * x[t][v])
        out[t] = torch.stack(rows)
    return out


def test_hgt_matches_per_edge_reference_and_gradcheck():
    hg = hetero()
    torch.manual_seed(0)
    layer = HGTConv(4, 4, list(hg.ntypes), list(hg.canonical_etypes), num_heads=2, dropout=0.0).double()
    with torch.no_grad():
        layer.prior.uniform_(0.5, 1.5)
        layer.skip.uniform_(-1, 1)
        for lin in (layer.key, layer.query, layer.value, layer.out):
            lin.bias.normal_()
    x = {"paper": torch.randn(6, 4, dtype=torch.float64), "author": torch.randn(5, 4, dtype=torch.float64)}
    out = layer(hg, x)
    ref = hgt_reference(layer, hg, x)
    for t in hg.ntypes:
        assert torch.allclose(out[t], ref[t], atol=1e-10)
    inputs = tuple(x[t].clone().requires_grad_() for t in hg.ntypes)
    assert torch.autograd.gradcheck(lambda p, a: tuple(layer(hg, {"paper": p, "author": a}).values()), inputs)


def test_hgt_rejects_foreign_types():
    hg = hetero()
    layer = HGTConv(4, 4, ["paper", "author"], [WRITES], num_heads=2)
    with pytest.raises(ConfigError, match="layer's types"):
        layer(hg, {"paper": torch.randn(6, 4), "author": torch.randn(5, 4)})
