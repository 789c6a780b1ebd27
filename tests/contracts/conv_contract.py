"""``ConvContract``: what every message-passing layer must satisfy (PyKEEN-style abstract test case).

A concrete test is a 3-line subclass::

    class TestGCNConv(ConvContract):
        def make_layer(self, in_dim, out_dim):
            return GCNConv(in_dim, out_dim)

Class attributes tune the contract: ``out_width`` (output columns when not ``out_dim``), ``edge_dim``
(the layer takes ``edge_attr [E, edge_dim]``), ``block_mode`` ("subset": a Block over a random subset of
destination nodes; "square": over all nodes, for K-hop layers and source-degree normalisations).
Equality checks run in float64 and eval mode, so dropout is off and batch norm uses running statistics.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import graphscale as gs


def random_graph(num_nodes: int, num_edges: int, seed: int, isolated: int = 0) -> gs.Graph:
    """Random directed multigraph on ``num_nodes`` nodes whose last ``isolated`` nodes touch no edge."""
    gen = torch.Generator().manual_seed(seed)
    active = num_nodes - isolated
    return gs.Graph(torch.randint(0, active, (num_edges,), generator=gen),
                    torch.randint(0, active, (num_edges,), generator=gen), num_nodes)


class ConvContract:
    in_dim = 6
    out_dim = 5
    out_width: int | None = None
    edge_dim: int | None = None
    block_mode = "subset"
    atol = 1e-9

    def make_layer(self, in_dim: int, out_dim: int) -> nn.Module:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------------
    def layer(self, dtype: torch.dtype = torch.float64, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return self.make_layer(self.in_dim, self.out_dim).to(dtype).eval()

    def inputs(self, graph: gs.Graph, dtype: torch.dtype = torch.float64, seed: int = 1):
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(graph.num_nodes, self.in_dim, generator=gen).to(dtype)
        edge_attr = None
        if self.edge_dim is not None:
            edge_attr = torch.randn(graph.num_edges, self.edge_dim, generator=gen).to(dtype)
        return x, edge_attr

    def run(self, layer: nn.Module, graph: gs.Graph, x, edge_attr: Tensor | None) -> tuple[Tensor, Tensor | None]:
        out = layer(graph, x) if self.edge_dim is None else layer(graph, x, edge_attr)
        return out if isinstance(out, tuple) else (out, None)

    def expected_width(self) -> int:
        return self.out_dim if self.out_width is None else self.out_width

    def assert_close(self, actual: Tensor | None, expected: Tensor | None) -> None:
        if expected is None:
            assert actual is None
            return
        torch.testing.assert_close(actual, expected, atol=self.atol, rtol=1e-7)

    # -- the contract -----------------------------------------------------------------------------
    def test_output_shape_and_dtype(self):
        graph = random_graph(12, 40, seed=0)
        x, edge_attr = self.inputs(graph, torch.float32)
        out, edge_out = self.run(self.layer(torch.float32), graph, x, edge_attr)
        assert out.shape == (12, self.expected_width()) and out.dtype == torch.float32
        assert torch.isfinite(out).all()
        if edge_out is not None:
            assert edge_out.shape[0] == graph.num_edges and torch.isfinite(edge_out).all()

    def test_float64_matches_float32(self):
        graph = random_graph(12, 40, seed=2)
        x, edge_attr = self.inputs(graph)
        out64, _ = self.run(self.layer(torch.float64), graph, x, edge_attr)
        out32, _ = self.run(self.layer(torch.float32), graph, x.float(),
                            None if edge_attr is None else edge_attr.float())
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out32.double(), out64, atol=1e-4, rtol=1e-4)

    def test_permutation_equivariance(self):
        graph = random_graph(15, 50, seed=3)
        x, edge_attr = self.inputs(graph)
        layer = self.layer()
        out, edge_out = self.run(layer, graph, x, edge_attr)
        node_perm = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(4))
        edge_perm = torch.randperm(graph.num_edges, generator=torch.Generator().manual_seed(5))
        new_id = torch.empty_like(node_perm)
        new_id[node_perm] = torch.arange(graph.num_nodes)
        permuted = gs.Graph(new_id[graph.src.long()][edge_perm], new_id[graph.dst.long()][edge_perm], graph.num_nodes)
        out_p, edge_out_p = self.run(layer, permuted, x[node_perm],
                                     None if edge_attr is None else edge_attr[edge_perm])
        self.assert_close(out_p, out[node_perm])
        self.assert_close(edge_out_p, None if edge_out is None else edge_out[edge_perm])

    def test_isolated_nodes_are_independent(self):
        graph = random_graph(14, 45, seed=6, isolated=3)
        x, edge_attr = self.inputs(graph)
        layer = self.layer()
        out, _ = self.run(layer, graph, x, edge_attr)
        assert torch.isfinite(out).all()
        changed = x.clone()
        changed[:11] += torch.randn(11, self.in_dim, dtype=x.dtype)
        out_changed, _ = self.run(layer, graph, changed, edge_attr)
        self.assert_close(out_changed[11:], out[11:])
        solo = gs.Graph([], [], num_nodes=1)
        for v in range(11, 14):
            out_v, _ = self.run(layer, solo, x[v:v + 1], None if edge_attr is None else edge_attr[:0])
            self.assert_close(out_v[0], out[v])

    def test_graph_without_edges(self):
        graph = gs.Graph([], [], num_nodes=5)
        x, edge_attr = self.inputs(graph)
        layer = self.layer()
        out, edge_out = self.run(layer, graph, x, edge_attr)
        assert out.shape == (5, self.expected_width()) and torch.isfinite(out).all()
        if edge_out is not None:
            assert edge_out.shape[0] == 0
        solo = gs.Graph([], [], num_nodes=1)
        rows = [self.run(layer, solo, x[v:v + 1], edge_attr)[0] for v in range(5)]
        self.assert_close(out, torch.cat(rows))
        empty = gs.Graph([], [], num_nodes=0)
        out0, _ = self.run(layer, empty, x[:0], edge_attr)
        assert out0.shape == (0, self.expected_width())

    def _block_dst_nodes(self, num_nodes: int) -> Tensor:
        perm = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(7))
        return perm if self.block_mode == "square" else perm[: num_nodes // 3]

    @pytest.mark.parametrize("as_pair", [True, False])
    def test_block_matches_full_graph(self, as_pair):
        graph = random_graph(18, 60, seed=8)
        x, edge_attr = self.inputs(graph)
        layer = self.layer()
        out, edge_out = self.run(layer, graph, x, edge_attr)
        dst_nodes = self._block_dst_nodes(graph.num_nodes)
        block = gs.to_block(graph, dst_nodes)
        assert isinstance(block, gs.Block)
        x_src = x[block.src_ids]
        block_x = (x_src, x_src[: block.num_dst_nodes]) if as_pair else x_src
        block_edge = None if edge_attr is None else edge_attr[block.edge_ids]
        out_b, edge_out_b = self.run(layer, block, block_x, block_edge)
        self.assert_close(out_b, out[dst_nodes])
        self.assert_close(edge_out_b, None if edge_out is None else edge_out[block.edge_ids])

    def test_batched_graph_matches_separate_graphs(self):
        graphs = [random_graph(7, 20, seed=9), random_graph(1, 0, seed=10), random_graph(11, 35, seed=11, isolated=2)]
        layer = self.layer()
        features = [self.inputs(g, seed=12 + i) for i, g in enumerate(graphs)]
        separate = [self.run(layer, g, x, e) for g, (x, e) in zip(graphs, features)]
        batched = gs.batch(graphs)
        edge_attr = None if self.edge_dim is None else torch.cat([e for _, e in features])
        out, edge_out = self.run(layer, batched, torch.cat([x for x, _ in features]), edge_attr)
        self.assert_close(out, torch.cat([o for o, _ in separate]))
        self.assert_close(edge_out, None if separate[0][1] is None else torch.cat([e for _, e in separate]))

    def test_gradients_reach_every_parameter_and_input(self):
        graph = random_graph(16, 60, seed=13)
        x, edge_attr = self.inputs(graph)
        layer = self.layer().train()
        x.requires_grad_(True)
        if edge_attr is not None:
            edge_attr.requires_grad_(True)
        out, edge_out = self.run(layer, graph, x, edge_attr)
        gen = torch.Generator().manual_seed(14)
        loss = (out * torch.randn(out.shape, generator=gen, dtype=out.dtype)).sum()
        if edge_out is not None:
            loss = loss + (edge_out * torch.randn(edge_out.shape, generator=gen, dtype=edge_out.dtype)).sum()
        loss.backward()
        for name, param in layer.named_parameters():
            assert param.grad is not None, f"no gradient reached {name}"
            assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, f"zero gradient for {name}"
        assert x.grad is not None and x.grad.abs().sum() > 0
        if edge_attr is not None:
            assert edge_attr.grad is not None and edge_attr.grad.abs().sum() > 0
