"""The first-layer aggregation of a constant input is computed once and is exact."""

import gc

import torch

import graphscale as gs
from graphscale.nn.conv import GCNConv, SAGEConv
from graphscale.nn.conv.inputs import ConstantAggregate


def _graph(n=40, e=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return gs.Graph(torch.randint(0, n, (e,), generator=g), torch.randint(0, n, (e,), generator=g), num_nodes=n)


def test_cache_hits_recomputes_after_inplace_change_and_drops_with_x():
    graph, cache, calls = _graph(), ConstantAggregate(), []
    x = torch.randn(40, 3)

    def compute():
        calls.append(1)
        return x * 2

    first = cache(graph, x, compute)
    assert cache(graph, x, compute) is first and len(calls) == 1
    x.add_(1.0)  # in-place change bumps the version counter: recomputed
    again = cache(graph, x, compute)
    assert len(calls) == 2 and torch.equal(again, x * 2)
    assert cache(_graph(seed=1), x, compute) is not again and len(calls) == 3  # other graph
    del x, first, again
    gc.collect()
    assert cache._entry is None  # freed with its input


def test_inputs_that_require_grad_are_never_cached():
    graph, cache = _graph(), ConstantAggregate()
    x = torch.randn(40, 3, requires_grad=True)
    cache(graph, x, lambda: x * 2)
    assert cache._entry is None


def test_layers_with_cache_match_fresh_layers_over_training_steps():
    graph = _graph()
    x = torch.randn(40, 8)
    for layer in (lambda: SAGEConv(8, 16), lambda: GCNConv(8, 16)):
        torch.manual_seed(0)
        cached, fresh = layer(), layer()
        fresh.load_state_dict(cached.state_dict())
        opt_a = torch.optim.SGD(cached.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(fresh.parameters(), lr=0.1)
        for _ in range(3):
            for conv, opt, inp in ((cached, opt_a, x), (fresh, opt_b, x.clone())):
                opt.zero_grad()
                conv(graph, inp).square().mean().backward()
                opt.step()
            fresh._constant.clear()
        assert cached._constant._entry is not None
        for a, b in zip(cached.parameters(), fresh.parameters()):
            torch.testing.assert_close(a, b)
