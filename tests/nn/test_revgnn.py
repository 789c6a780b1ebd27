"""RevGNN: reversible blocks give plain autograd's gradients, rebuild their inputs, and keep no activations."""

from __future__ import annotations

import pytest
import torch
from contracts.conv_contract import random_graph

from graphscale.errors import ConfigError, ShapeError
from graphscale.nn.models import build_node_model
from graphscale.nn.revgnn import GroupedReversibleBlock, _Reversible


def gradients(model, graph, x, reversible: bool):
    """Output, input gradient and every parameter's gradient of one training step (fixed RNG)."""
    model.reversible = reversible
    model.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    x = x.clone().requires_grad_(True)
    out = model(graph, x)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    return out.detach(), x.grad, {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("num_groups", [2, 3])
def test_gradients_equal_plain_autograd_with_dropout(num_groups):
    graph = random_graph(40, 160, seed=0, isolated=3)
    torch.manual_seed(0)
    model = build_node_model("revgnn", 7, 4, hidden_dim=6 * num_groups, num_layers=5, num_groups=num_groups,
                             dropout=0.4, input_dropout=0.2).double().train()
    x = torch.randn(40, 7, dtype=torch.float64)
    out_rev, grad_x_rev, grads_rev = gradients(model, graph, x, reversible=True)
    out_ref, grad_x_ref, grads_ref = gradients(model, graph, x, reversible=False)
    torch.testing.assert_close(out_rev, out_ref, rtol=0, atol=0)
    torch.testing.assert_close(grad_x_rev, grad_x_ref, rtol=1e-9, atol=1e-11)
    assert grads_rev.keys() == grads_ref.keys()
    for name, grad in grads_ref.items():
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grads_rev[name], grad, rtol=1e-9, atol=1e-11, msg=name)
    # dropout is on: a second step with other masks gives other gradients
    torch.manual_seed(6)
    other = model(graph, x)
    assert not torch.allclose(other.detach(), out_ref)


def test_inverse_rebuilds_the_input_and_the_function_frees_it():
    graph = random_graph(30, 120, seed=1)
    torch.manual_seed(1)
    block = GroupedReversibleBlock(12, 3, dropout=0.5).double().train()
    x = torch.randn(30, 12, dtype=torch.float64)
    y = block(graph, x, seed=123)
    torch.testing.assert_close(block.inverse(graph, y, seed=123), x, rtol=0, atol=1e-12)
    assert not torch.allclose(block.inverse(graph, y, seed=124), x)   # another dropout mask: another input
    h = x.clone().requires_grad_(True) * 1.0                     # a non-leaf, as between blocks
    out = _Reversible.apply(block, graph, 123, h, *block.parameters())
    assert h.untyped_storage().nbytes() == 0                      # the input is not kept
    out.sum().backward()
    torch.testing.assert_close(h.detach(), x, rtol=0, atol=1e-12)  # rebuilt by the backward


def test_training_memory_does_not_keep_per_block_activations():
    """The autograd graph of a reversible stack holds no per-block tensors: deep and shallow stacks leave
    the same number of saved bytes (counted by a saved-tensors hook)."""
    graph = random_graph(200, 900, seed=2)
    x = torch.randn(200, 8)

    def saved_bytes(num_layers: int, reversible: bool) -> int:
        torch.manual_seed(0)
        model = build_node_model("revgnn", 8, 3, hidden_dim=16, num_layers=num_layers, dropout=0.5)
        model.reversible = reversible
        total = 0

        def pack(t):
            nonlocal total
            total += t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(graph, x)
        return total

    assert saved_bytes(12, True) == saved_bytes(2, True)
    assert saved_bytes(12, False) > 4 * saved_bytes(2, False)


def test_bad_input():
    with pytest.raises(ConfigError, match="divisible by num_groups"):
        build_node_model("revgnn", 4, 2, hidden_dim=10, num_groups=3)
    with pytest.raises(ConfigError, match="num_groups"):
        build_node_model("revgnn", 4, 2, num_groups=1)
    import graphscale as gs

    block = gs.to_block(random_graph(10, 30, seed=3), torch.tensor([0, 1]))
    with pytest.raises(ShapeError, match="full Graph"):
        build_node_model("revgnn", 4, 2, hidden_dim=8)([block], torch.randn(block.num_src_nodes, 4))
