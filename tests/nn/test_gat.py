import pytest
import torch
import torch.nn.functional as F
from contracts.conv_contract import ConvContract, random_graph

from graphscale.nn import GATConv

from .dense import adjacency, simple_graph


class TestGATConcatContract(ConvContract):
    out_width = 3 * 5

    def make_layer(self, in_dim, out_dim):
        return GATConv(in_dim, out_dim, num_heads=3, residual=True)


class TestGATMeanNoLoopsContract(ConvContract):
    in_dim = 15  # residual is the identity: in_dim == heads * out_dim

    def make_layer(self, in_dim, out_dim):
        return GATConv(in_dim, out_dim, num_heads=3, concat=False, residual=True, add_self_loops=False)


def dense_gat(layer, graph, x):
    """Dense masked softmax over the adjacency (self-loops added) of every head."""
    heads, width = layer.num_heads, layer.out_dim
    h = (x @ layer.linear.weight.T).view(-1, heads, width)
    el = (h * layer.attn_src).sum(-1)                      # [N, H]
    er = (h * layer.attn_dst).sum(-1)
    scores = F.leaky_relu(er[:, None, :] + el[None, :, :], layer.negative_slope)  # [N_dst, N_src, H]
    mask = adjacency(graph) > 0
    if layer.add_self_loops:
        mask = mask | torch.eye(graph.num_nodes, dtype=torch.bool)
    scores = scores.masked_fill(~mask[:, :, None], float("-inf"))
    alpha = torch.softmax(scores, dim=1).nan_to_num(0.0)    # rows without neighbours -> 0
    out = torch.einsum("vuh,uhf->vhf", alpha, h)
    if layer.residual is not None:
        out = out + layer.residual(x).view_as(out)
    out = out.flatten(1) if layer.concat else out.mean(1)
    return out + layer.bias, alpha


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("add_self_loops", [True, False])
def test_matches_dense_masked_softmax(concat, add_self_loops):
    graph = simple_graph(12, 0.3, seed=0)
    layer = GATConv(5, 4, num_heads=2, concat=concat, residual=True, add_self_loops=add_self_loops).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(12, 5, dtype=torch.float64)
    out, attention = layer(graph, x, return_attention=True)
    expected, alpha = dense_gat(layer, graph, x)
    torch.testing.assert_close(out, expected)
    loop_graph = graph.add_self_loops() if add_self_loops else graph
    torch.testing.assert_close(attention, alpha[loop_graph.dst.long(), loop_graph.src.long()])


def test_attention_sums_to_one_per_destination_and_dropout_is_train_only():
    graph = random_graph(20, 80, seed=1)
    layer = GATConv(4, 3, num_heads=2, attn_drop=0.5, feat_drop=0.5).double().eval()
    x = torch.randn(20, 4, dtype=torch.float64)
    out, attention = layer(graph, x, return_attention=True)
    loop_graph = graph.add_self_loops()
    sums = torch.zeros(20, 2, dtype=torch.float64).index_add_(0, loop_graph.dst.long(), attention)
    torch.testing.assert_close(sums, torch.ones(20, 2, dtype=torch.float64))
    torch.testing.assert_close(layer(graph, x), out)
    layer.train()
    torch.manual_seed(0)
    assert not torch.allclose(layer(graph, x), out)


def test_never_builds_edge_by_feature_messages(monkeypatch):
    """Every sparse call GAT makes (through saga's fused path) receives [E, H, 1] edge operands, never [E, H, F]."""
    import importlib

    gat_module = importlib.import_module("graphscale.saga.engine")  # (graphscale.saga is also the function)

    seen = []
    real_gspmm, real_gsddmm = gat_module.gspmm, gat_module.gsddmm

    def spy_gspmm(graph, op, reduce, lhs, rhs):
        seen.append(("gspmm", tuple(rhs.shape)))
        return real_gspmm(graph, op, reduce, lhs, rhs)

    def spy_gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
        out = real_gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target)
        seen.append(("gsddmm", tuple(out.shape)))
        return out

    monkeypatch.setattr(gat_module, "gspmm", spy_gspmm)
    monkeypatch.setattr(gat_module, "gsddmm", spy_gsddmm)
    graph = random_graph(10, 30, seed=2)
    GATConv(6, 16, num_heads=4)(graph, torch.randn(10, 6))
    edges = graph.num_edges + graph.num_nodes
    assert seen == [("gsddmm", (edges, 4, 1)), ("gspmm", (edges, 4, 1))]
