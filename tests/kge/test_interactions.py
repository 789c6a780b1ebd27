"""Interactions: paper formulas, the three scoring shapes agree, fused kernels match torch with gradients."""

from __future__ import annotations

import math

import pytest
import torch

from graphscale.errors import ConfigError, ShapeError
from graphscale.kge.interactions import INTERACTIONS, build_interaction
from graphscale.kge.kernels import batched_distance, indexed_distance, pairwise_distance, reference_distance

MODELS = ["transe", "distmult", "complex", "simple", "rotate"]


def paper_score(name: str, inter, h, r, t):
    """Each model's score written straight from its paper (torch complex numbers where they apply)."""
    if name == "transe":
        return inter.gamma - torch.linalg.vector_norm(h + r - t, ord=inter.p_norm, dim=-1)
    if name == "distmult":
        return (h * r * t).sum(-1)
    half = h.shape[-1] // 2
    if name == "complex":
        hc, rc, tc = (torch.complex(x[..., :half], x[..., half:]) for x in (h, r, t))
        return (hc * rc * tc.conj()).real.sum(-1)
    if name == "simple":
        hh, ht, th, tt = h[..., :half], h[..., half:], t[..., :half], t[..., half:]
        rel, inv = r[..., :half], r[..., half:]
        return 0.5 * ((hh * rel * tt).sum(-1) + (th * inv * ht).sum(-1))
    hc, tc = (torch.complex(x[..., :half], x[..., half:]) for x in (h, t))
    rot = torch.polar(torch.ones_like(r), r * inter.phase_scale)
    return inter.gamma - (hc * rot - tc).abs().sum(-1)


def random_rows(inter, dim, count, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    ent = torch.randn(count, inter.entity_factor * dim, generator=g, dtype=dtype)
    rel = torch.randn(count, inter.relation_factor * dim, generator=g, dtype=dtype)
    return ent, rel


@pytest.mark.parametrize("name", MODELS + ["transe-l2"])
def test_score_matches_the_paper_formula(name):
    base = name.split("-")[0]
    inter = build_interaction(base, 6, gamma=3.0, p_norm=2 if name.endswith("l2") else 1)
    ent, rel = random_rows(inter, 6, 8)
    h, t = ent, ent.roll(1, 0)
    torch.testing.assert_close(inter.score(h, rel, t), paper_score(base, inter, h, rel, t))


@pytest.mark.parametrize("name", MODELS + ["transe-l2"])
@pytest.mark.parametrize("side", ["head", "tail"])
def test_shared_and_batched_candidates_equal_triple_scores(name, side):
    inter = build_interaction(name.split("-")[0], 5, gamma=2.0, p_norm=2 if name.endswith("l2") else 1)
    known, rel = random_rows(inter, 5, 4, seed=1)
    cands, _ = random_rows(inter, 5, 7, seed=2)
    shared = inter.score_candidates(known, rel, cands, side)  # [4, 7]
    assert shared.shape == (4, 7)
    for b in range(4):
        for k in range(7):
            h, t = (known[b], cands[k]) if side == "tail" else (cands[k], known[b])
            expected = inter.score(h[None], rel[b][None], t[None])[0]
            torch.testing.assert_close(shared[b, k], expected)
    batched = inter.score_candidates(known, rel, cands.unsqueeze(0).expand(4, -1, -1).contiguous(), side)
    torch.testing.assert_close(batched, shared)


@pytest.mark.parametrize("comparator", ["l1", "complex-l1"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_distance_matches_torch_forward_and_backward(comparator, dtype):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(37, 12, generator=g, dtype=dtype, requires_grad=True)
    c = torch.randn(9, 12, generator=g, dtype=dtype, requires_grad=True)
    cb = torch.randn(37, 5, 12, generator=g, dtype=dtype, requires_grad=True)
    weight = torch.randn(37, 9, generator=g, dtype=dtype)
    weight_b = torch.randn(37, 5, generator=g, dtype=dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    for fused_fn, cand, w in ((pairwise_distance, c, weight), (batched_distance, cb, weight_b)):
        assert_same_values_and_grads(fused_fn(q, cand, comparator), reference_distance(q, cand, comparator),
                                     (q, cand), w, tol)


def assert_same_values_and_grads(fused, ref, inputs, weight, tol):
    """``fused`` equals ``ref``, and so do the gradients of ``sum(weight * .)`` w.r.t. ``inputs``; returns them."""
    torch.testing.assert_close(fused, ref, **tol)
    grads = torch.autograd.grad((fused * weight).sum(), inputs)
    for got, want in zip(grads, torch.autograd.grad((ref * weight).sum(), inputs)):
        torch.testing.assert_close(got, want, **tol)
    return grads


@pytest.mark.parametrize("comparator", ["l1", "complex-l1"])
def test_fused_distance_gradcheck(comparator):
    g = torch.Generator().manual_seed(4)
    q = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    c = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: pairwise_distance(a, b, comparator), (q, c))
    cb = torch.randn(3, 2, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: batched_distance(a, b, comparator), (q, cb))


@pytest.mark.parametrize("comparator", ["l1", "complex-l1"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_indexed_distance_equals_the_gathered_reference(comparator, dtype):
    """Rows repeat across and within queries (the counting-sort backward must sum them all)."""
    g = torch.Generator().manual_seed(5)
    q = torch.randn(41, 10, generator=g, dtype=dtype, requires_grad=True)
    table = torch.randn(13, 10, generator=g, dtype=dtype, requires_grad=True)
    index = torch.randint(0, 11, (41, 6), generator=g)  # rows 11, 12 unused: zero gradient
    index[0] = 3
    weight = torch.randn(41, 6, generator=g, dtype=dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    grads = assert_same_values_and_grads(
        indexed_distance(q, table, index, comparator),
        reference_distance(q, torch.nn.functional.embedding(index, table), comparator), (q, table), weight, tol)
    assert torch.count_nonzero(grads[1][11:]) == 0
    q64, t64 = q.detach().double().requires_grad_(), table.detach()[:4].double().requires_grad_()
    small = torch.randint(0, 4, (3, 3), generator=g)
    assert torch.autograd.gradcheck(lambda a, b: indexed_distance(a, b, small, comparator), (q64[:3], t64))
    with pytest.raises(ShapeError, match=r"index values in \[0, 4\)"):
        indexed_distance(q64[:3], t64, small + 4, comparator)
    with pytest.raises(ShapeError, match="index \\[B, K\\]"):
        indexed_distance(q64[:2], t64, small, comparator)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("side", ["head", "tail"])
def test_indexed_candidates_equal_batched_candidates(name, side):
    inter = build_interaction(name, 6, gamma=2.0)
    known, rel = random_rows(inter, 6, 5, seed=3)
    table, _ = random_rows(inter, 6, 9, seed=4)
    index = torch.randint(0, 9, (5, 4), generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(inter.score_indexed(known, rel, table, index, side),
                               inter.score_candidates(known, rel, table[index], side))


def test_registry_and_errors():
    assert set(INTERACTIONS) == set(MODELS)
    with pytest.raises(ConfigError, match="did you mean 'rotate'|Did you mean 'rotate'"):
        build_interaction("rotatee", 4)
    with pytest.raises(ConfigError, match="p_norm"):
        build_interaction("transe", 4, p_norm=3)
    inter = build_interaction("distmult", 4)
    with pytest.raises(ShapeError, match="candidates"):
        inter.score_candidates(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(4), "tail")
    rot = build_interaction("rotate", 10, gamma=8.0)
    assert math.isclose(rot.phase_scale, math.pi / ((8.0 + 2.0) / 10))
