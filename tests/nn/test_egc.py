"""EGConv (EGC-S, EGC-M): dense references, gradcheck, the conv contract, the per-node basis weighting."""

from __future__ import annotations

import pytest
import torch
from contracts.conv_contract import ConvContract, random_graph

from graphscale.errors import ConfigError
from graphscale.nn.conv import EGConv
from graphscale.nn.conv.egc import STD_EPS
from graphscale.nn.models import build_graph_model, build_node_model

from .dense import adjacency, sym_norm

EGC_M = "sum,mean,symnorm,max,min,var,std"


class TestEGCSContract(ConvContract):
    out_dim, block_mode = 8, "square"  # symnorm reads the source's out-degree: exact only with all edges

    def make_layer(self, in_dim, out_dim):
        return EGConv(in_dim, out_dim, num_heads=2, num_bases=3)


class TestEGCMContract(ConvContract):
    out_dim, block_mode = 6, "subset"  # no degree of the source: any block of destination rows is exact

    def make_layer(self, in_dim, out_dim):
        return EGConv(in_dim, out_dim, num_heads=3, num_bases=2, aggregators="sum,mean,max,min,std")


def dense_egc(layer: EGConv, graph, x: torch.Tensor) -> torch.Tensor:
    """EGC by the paper's equation with a dense adjacency (with self-loops) and per-node loops for
    max / min / var / std. Shapes: x ``[N, F_in]``; returns ``[N, F]``."""
    n = graph.num_nodes
    m = adjacency(graph) + torch.eye(n, dtype=torch.float64)                   # [N_dst, N_src], loops added
    bases = x @ layer.bases.weight.T                                            # [N, B * F/H]
    results = []
    for name in layer.aggregators:
        if name in ("sum", "mean", "symnorm"):
            op = {"sum": m, "mean": m / m.sum(1, keepdim=True), "symnorm": sym_norm(m)}[name]
            results.append(op @ bases)
            continue
        rows = []
        for i in range(n):
            neighbours = bases[m[i].nonzero().view(-1).repeat_interleave(m[i][m[i] > 0].long())]  # multi-edges
            if name == "max":
                rows.append(neighbours.max(0).values)
            elif name == "min":
                rows.append(neighbours.min(0).values)
            else:
                var = neighbours.var(0, unbiased=False)
                rows.append(var if name == "var" else torch.sqrt(var + STD_EPS))
        results.append(torch.stack(rows))
    aggregated = torch.stack(results, 1).view(n, len(results), layer.num_bases, layer.head_dim)   # [N, A, B, F/H]
    weights = (x @ layer.combine.weight.T + layer.combine.bias).view(n, layer.num_heads, len(results),
                                                                      layer.num_bases)             # [N, H, A, B]
    out = torch.einsum("nhab,nabf->nhf", weights, aggregated).reshape(n, -1)
    return out + layer.bias


@pytest.mark.parametrize("aggregators", ["symnorm", EGC_M, "var"])
def test_matches_dense_reference(aggregators):
    graph = random_graph(13, 50, seed=0, isolated=2)
    torch.manual_seed(0)
    layer = EGConv(5, 12, num_heads=3, num_bases=2, aggregators=aggregators).double()
    torch.nn.init.normal_(layer.bias)
    torch.nn.init.normal_(layer.combine.bias)
    x = torch.randn(13, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(graph, x), dense_egc(layer, graph, x))


@pytest.mark.parametrize("aggregators", ["symnorm", EGC_M])
def test_gradcheck_float64(aggregators):
    graph = random_graph(7, 20, seed=1)
    torch.manual_seed(1)
    layer = EGConv(3, 4, num_heads=2, num_bases=2, aggregators=aggregators).double()
    x = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    params = [layer.bases.weight, layer.combine.weight, layer.combine.bias, layer.bias]

    def run(x, *weights):
        return torch.func.functional_call(layer, dict(zip(["bases.weight", "combine.weight", "combine.bias",
                                                           "bias"], weights)), (graph, x))

    assert torch.autograd.gradcheck(run, (x, *[p.detach().requires_grad_(True) for p in params]))


def test_per_node_weighting_is_not_a_fixed_average():
    """Two nodes with the same aggregated bases but different own features get different outputs only when
    the weights depend on the node; the fixed average of the bases (weights 1/B) cannot tell them apart."""
    # nodes 0 and 1 both receive from node 2 only; symnorm rows are identical up to their own self-loop, so
    # use "mean" without self-loops: both aggregate exactly x_2
    import graphscale as gs

    graph = gs.Graph([2, 2], [0, 1], 3)
    torch.manual_seed(2)
    layer = EGConv(4, 4, num_heads=2, num_bases=3, aggregators="mean", add_self_loops=False).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    out = layer(graph, x)
    assert (out[0] - out[1]).abs().max() > 1e-3
    with torch.no_grad():  # the fixed average: Phi = 0, b_Phi = 1/B
        layer.combine.weight.zero_()
        layer.combine.bias.fill_(1.0 / layer.num_bases)
    average = layer(graph, x)
    torch.testing.assert_close(average[0], average[1])


def test_streamed_stages_match_the_layer():
    """EGC-S declares SAGA stages; the streamed executor (row chunks) gives the layer's outputs and gradients."""
    from graphscale.scale.stream import StreamedGraph, StreamedStack
    from graphscale.scale.stream_plan import StreamPlan

    graph = random_graph(90, 400, seed=3, isolated=4)
    x = torch.randn(90, 10)
    torch.manual_seed(3)
    model = build_node_model("egc", 10, 3, hidden_dim=8, heads=2, num_bases=2, dropout=0.5)
    runner = StreamedStack(model, StreamedGraph(graph, StreamPlan(rows_per_chunk=17, edges_per_block=120)), 10)
    results = []
    for forward in (lambda: model(graph, x), lambda: runner(x)):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(11)
        out = forward()
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (ref, ref_grads), (out, grads) = results
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="EGC-S"):
        EGConv(4, 4, 2, 2, aggregators="sum,max").stages()


def test_models_and_bad_input():
    node = build_node_model("egc", 6, 3, aggregators="sum,mean,max", heads=4, num_bases=2)
    assert node.convs[0].aggregators == ("sum", "mean", "max") and node.convs[-1].num_heads == 1
    graph_model = build_graph_model("egc", 6, 2, hidden_dim=16, heads=4, num_layers=2, aggregators=["symnorm"])
    graph = random_graph(10, 30, seed=4)
    graph_model.eval()
    assert graph_model(graph, torch.randn(10, 6)).shape == (1, 2)
    with pytest.raises(ConfigError, match="Did you mean 'mean'"):
        EGConv(4, 4, 2, 2, aggregators="meen")
    with pytest.raises(ConfigError, match="divisible"):
        EGConv(4, 6, num_heads=4)
