"""ShaDow readout: the target rows of every subgraph, and the pooled readouts against a by-hand reference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import graphscale as gs
from graphscale.errors import ConfigError
from graphscale.graph.batch import batch as batch_graphs
from graphscale.nn.shadow import ShadowNet, target_rows


class Rows(nn.Module):
    """A stand-in base model: every node's output is its input row."""

    def forward(self, graph, x):
        return x


def three_subgraphs() -> gs.Graph:
    sizes = (3, 1, 4)
    return batch_graphs([gs.Graph(torch.arange(n - 1), torch.arange(1, n), n) for n in sizes])


def test_target_readout_picks_the_first_row_of_every_subgraph():
    graph = three_subgraphs()
    x = torch.randn(graph.num_nodes, 5)
    assert target_rows(graph).tolist() == [0, 3, 4]
    torch.testing.assert_close(ShadowNet(Rows(), "target")(graph, x), x[[0, 3, 4]])
    plain = gs.Graph(torch.tensor([1]), torch.tensor([0]), 2)  # a plain Graph is one subgraph
    torch.testing.assert_close(ShadowNet(Rows(), "target")(plain, x[:2]), x[:1])


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_pooled_readout_concatenates_target_and_subgraph_pool(reduce):
    graph = three_subgraphs()
    x = torch.randn(graph.num_nodes, 4)
    model = ShadowNet(Rows(), f"target-{reduce}", hidden_dim=4, out_dim=3).eval()
    h = x.relu()
    parts = [h[0:3], h[3:4], h[4:8]]
    pooled = torch.stack([p.mean(0) if reduce == "mean" else p.max(0).values for p in parts])
    expected = model.head(torch.cat([h[[0, 3, 4]], pooled], dim=1))
    torch.testing.assert_close(model(graph, x), expected)


def test_unknown_readout():
    with pytest.raises(ConfigError, match="readout"):
        ShadowNet(Rows(), "sum")
