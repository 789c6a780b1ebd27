import pytest
import torch
import torch.nn.functional as F

from graphscale.nn.functional import dropout


def test_dropout_keeps_about_one_minus_p_and_scales():
    torch.manual_seed(0)
    x = torch.randn(300, 100, dtype=torch.float64).abs() + 0.1
    y = dropout(x, 0.3)
    keep = y != 0
    assert abs(keep.double().mean().item() - 0.7) < 0.01
    assert torch.allclose(y[keep], x[keep] / 0.7)


def test_dropout_gradient_is_the_regenerated_mask():
    torch.manual_seed(1)
    x = (torch.rand(200, 64) + 0.5).requires_grad_()
    y = dropout(x, 0.5)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    keep = y != 0
    assert torch.allclose(x.grad, torch.where(keep, upstream * 2.0, torch.zeros_like(upstream)))


def test_dropout_reproducible_under_torch_seed_and_identity_in_eval():
    x = torch.randn(128, 64)
    torch.manual_seed(5)
    a = dropout(x, 0.5)
    torch.manual_seed(5)
    b = dropout(x, 0.5)
    assert torch.equal(a, b)
    assert not torch.equal(a, dropout(x, 0.5))
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x


def test_dropout_fallbacks_and_errors():
    small = torch.ones(10, 3)
    assert dropout(small, 1.0).abs().sum() == 0
    half = torch.ones(100, 100, dtype=torch.float16)
    assert dropout(half, 0.5).dtype == torch.float16
    with pytest.raises(ValueError, match="p in"):
        dropout(small, 1.5)
    # same distribution family as torch's: the expected value is preserved
    big = torch.ones(500, 200)
    assert abs(dropout(big, 0.4).mean().item() - F.dropout(big, 0.4).mean().item()) < 0.02


def test_fused_relu_dropout_equals_dropout_of_relu_with_the_same_mask():
    x = torch.randn(300, 64, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    fused = dropout(x, 0.4, relu=True)
    torch.manual_seed(1)
    plain = dropout(torch.relu(x.detach()), 0.4)
    assert torch.equal(fused, plain)
    upstream = torch.randn_like(fused)
    fused.backward(upstream)
    assert torch.allclose(x.grad, torch.where(plain > 0, upstream / 0.6, torch.zeros_like(upstream)))
    assert torch.equal(dropout(x, 0.4, training=False, relu=True), torch.relu(x))


def test_inplace_relu_dropout_equals_the_copying_one_and_reuses_the_buffer():
    weight = torch.randn(32, 48, dtype=torch.float64, requires_grad=True)
    x = torch.randn(300, 32, dtype=torch.float64)
    results = []
    for inplace in (False, True):
        weight.grad = None
        torch.manual_seed(4)
        h = x @ weight  # an intermediate result: nothing else reads it
        out = dropout(h, 0.4, relu=True, inplace=inplace)
        assert (out.data_ptr() == h.data_ptr()) == inplace
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        results.append((out.detach().clone(), weight.grad.clone()))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_inplace_relu_dropout_never_overwrites_what_it_must_not():
    leaf = torch.randn(100, 64, requires_grad=True)
    assert dropout(leaf, 0.5, relu=True, inplace=True).data_ptr() != leaf.data_ptr()  # a leaf: copied
    base = (leaf * 2).view(64, 100)
    view = base.view(100, 64)
    assert dropout(view, 0.5, relu=True, inplace=True).data_ptr() != view.data_ptr()  # a view: copied
    saved = (leaf * 1.0).sigmoid()  # sigmoid's backward reads its output
    out = dropout(saved, 0.5, relu=True, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()  # overwriting what a backward needs is caught, never silently wrong
