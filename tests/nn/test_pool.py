import pytest
import torch

import graphscale as gs
from graphscale.errors import ConfigError, ShapeError
from graphscale.nn import GlobalAttentionPooling, MaxPooling, MeanPooling, SumPooling, readout


def _batch():
    sizes = [4, 0, 3, 6]
    graphs = [gs.Graph(torch.randint(0, max(n, 1), (2 * n,)), torch.randint(0, max(n, 1), (2 * n,)), n)
              for n in sizes]
    x = torch.randn(sum(sizes), 5, dtype=torch.float64)
    return gs.batch(graphs), x, sizes


@pytest.mark.parametrize("reduce,module", [("sum", SumPooling), ("mean", MeanPooling), ("max", MaxPooling),
                                           ("min", None)])
def test_readouts_match_per_graph_reductions(reduce, module):
    torch.manual_seed(0)
    graph, x, sizes = _batch()
    expected = []
    for part in torch.split(x, sizes):
        if part.shape[0] == 0:
            expected.append(torch.zeros(5, dtype=x.dtype))  # graphs without nodes read out as zeros
        else:
            expected.append({"sum": part.sum(0), "mean": part.mean(0), "max": part.amax(0),
                             "min": part.amin(0)}[reduce])
    expected = torch.stack(expected)
    torch.testing.assert_close(readout(graph, x, reduce.upper()), expected)
    if module is not None:
        torch.testing.assert_close(module()(graph, x), expected)


def test_plain_graph_is_a_batch_of_one():
    graph = gs.Graph([0, 1], [1, 2], 3)
    x = torch.randn(3, 2)
    torch.testing.assert_close(readout(graph, x, "mean"), x.mean(0, keepdim=True))


def test_global_attention_pooling_matches_per_graph_softmax():
    torch.manual_seed(1)
    graph, x, sizes = _batch()
    gate_nn = torch.nn.Linear(5, 1).double()
    feat_nn = torch.nn.Linear(5, 3).double()
    pool = GlobalAttentionPooling(gate_nn, feat_nn)
    out, gate = pool(graph, x, return_gate=True)
    expected = []
    for part in torch.split(x, sizes):
        weights = torch.softmax(gate_nn(part), dim=0)
        expected.append((weights * feat_nn(part)).sum(0) if part.shape[0] else torch.zeros(3, dtype=x.dtype))
    torch.testing.assert_close(out, torch.stack(expected))
    sums = torch.stack([g.sum() for g in torch.split(gate, sizes) if g.numel()])
    torch.testing.assert_close(sums, torch.ones_like(sums))
    out.sum().backward()
    assert gate_nn.weight.grad.abs().sum() > 0


def test_readout_errors():
    graph, x, _ = _batch()
    with pytest.raises(ConfigError, match="expected reduce in"):
        readout(graph, x, "median")
    with pytest.raises(ShapeError, match="one row per node"):
        readout(graph, x[:-1], "sum")
    with pytest.raises(ShapeError, match=r"expected gate_nn to return \[N, 1\]"):
        GlobalAttentionPooling(torch.nn.Linear(5, 2).double())(graph, x)
