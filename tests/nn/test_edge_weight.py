"""Dataset edge weights in the node models: which models use them, how (``model_edge_weight``), and checks."""

import pytest
import torch

import graphscale as gs
from graphscale.errors import DatasetError, ShapeError
from graphscale.nn import build_node_model
from graphscale.nn.models import check_edge_weight, edge_weight_use, model_edge_weight

from .dense import adjacency, simple_graph, sym_norm


@pytest.mark.parametrize("name,hparams,use", [
    ("gcn", {}, "gcn"), ("appnp", {}, "gcn"), ("sgc", {}, "gcn"), ("sage", {}, "mean"),
    ("sage", {"aggregator": "pool"}, None), ("sage", {"aggregator": "gcn"}, None), ("gat", {}, None),
    ("gatv2", {}, None), ("gin", {}, None), ("cheb", {}, None), ("gatedgcn", {}, None)])
def test_which_models_use_edge_weights(name, hparams, use):
    model = build_node_model(name, 4, 2, **hparams)
    assert edge_weight_use(model) == use
    graph = simple_graph(10, 0.3, seed=0)
    weight = torch.rand(graph.num_edges)
    out = model_edge_weight(model, graph, weight)
    assert (out is None) == (use is None)
    assert model_edge_weight(model, graph, None) is None


def test_sage_takes_the_weighted_mean():
    graph = simple_graph(12, 0.3, seed=1)
    weight = torch.rand(graph.num_edges, dtype=torch.float64) + 0.05
    weight[graph.dst == 3] = 0.0  # in-edges weighing 0 in total: zeros, as a node without in-edges
    model = build_node_model("sage", 5, 3, num_layers=1).double().eval()
    conv = model.convs[0]
    x = torch.randn(12, 5, dtype=torch.float64)
    m = adjacency(graph, weight)
    mean = m / m.sum(1, keepdim=True).clamp(min=1e-300)
    expected = (mean @ x) @ conv.lin_neigh.weight.T + x @ conv.lin_root.weight.T + conv.bias
    scaled = model_edge_weight(model, graph, weight.float()).double()
    torch.testing.assert_close(model(graph, x, edge_weight=scaled), expected)
    ones = model_edge_weight(model, graph, torch.ones(graph.num_edges)).double()
    torch.testing.assert_close(model(graph, x, edge_weight=ones), model(graph, x))


@pytest.mark.parametrize("name", ["gcn", "appnp", "sgc"])
def test_all_one_weights_give_the_unweighted_model_exactly(name):
    torch.manual_seed(0)
    graph = simple_graph(30, 0.15, seed=2, undirected=True)
    x = torch.randn(30, 6)
    model = build_node_model(name, 6, 3).eval()
    ones = model_edge_weight(model, graph, torch.ones(graph.num_edges))
    assert torch.equal(model(graph, x, edge_weight=ones), model(graph, x))
    weight = torch.rand(graph.num_edges) + 0.1
    assert not torch.allclose(model(graph, x, edge_weight=weight), model(graph, x))


def test_appnp_net_passes_weights_to_the_propagation():
    graph = simple_graph(14, 0.3, seed=3, undirected=True)
    weight = torch.rand(graph.num_edges, dtype=torch.float64) + 0.1
    model = build_node_model("appnp", 4, 2, num_layers=1, K=3, alpha=0.2).double().eval()
    x = torch.randn(14, 4, dtype=torch.float64)
    s = sym_norm(adjacency(graph, weight) + torch.eye(14, dtype=torch.float64))
    h = model.linears[0](x)
    z = h
    for _ in range(3):
        z = 0.8 * s @ z + 0.2 * h
    torch.testing.assert_close(model(graph, x, edge_weight=weight), z)


def test_bad_weights_are_rejected():
    graph = gs.Graph(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]), 3)
    for bad, message in ((float("nan"), "nan on edge 1 -> 2"), (float("inf"), "inf"), (-1.0, "-1.0")):
        weight = torch.tensor([1.0, bad, 1.0])
        with pytest.raises(DatasetError, match="expected finite, non-negative edge weights"):
            check_edge_weight(graph, weight, "test")
        with pytest.raises(DatasetError, match=message):
            model_edge_weight(build_node_model("gcn", 2, 2), graph, weight)
    with pytest.raises(ShapeError, match=r"expected edge weights as a float tensor of shape \[3\]"):
        check_edge_weight(graph, torch.ones(4), "test")
    with pytest.raises(ShapeError, match="torch.int64"):
        check_edge_weight(graph, torch.ones(3, dtype=torch.int64), "test")
    # a model that cannot use weights never looks at them
    assert model_edge_weight(build_node_model("gat", 2, 2), graph, torch.tensor([float("nan")] * 3)) is None
