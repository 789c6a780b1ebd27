"""One training step: the fused per-positive path equals plain autograd, and the O(n) unique equals torch's."""

from __future__ import annotations

import pytest
import torch

from graphscale.kge.interactions import build_interaction
from graphscale.kge.kernels import unique_ids
from graphscale.kge.losses import margin_ranking, nssa
from graphscale.kge.optim import EmbeddingTable
from graphscale.kge.step import StepOptions, draw_sides, train_step


def test_unique_ids_equals_torch_unique():
    ids = torch.randint(0, 50, (300,), generator=torch.Generator().manual_seed(0))
    rows, inverse = unique_ids(ids, 60)
    want_rows, want_inverse = torch.unique(ids, return_inverse=True)
    assert torch.equal(rows, want_rows) and torch.equal(inverse, want_inverse)
    assert torch.equal(rows[inverse], ids)


def _tables(name: str, num_entities: int, num_relations: int, dim: int):
    gen = torch.Generator().manual_seed(1)
    width = 2 * dim if name == "rotate" else dim
    ent = EmbeddingTable.create(torch.randn(num_entities, width, generator=gen), "adam")
    rel = EmbeddingTable.create(torch.randn(num_relations, dim, generator=gen), "adam")
    return ent, rel


@pytest.mark.parametrize("name,loss", [("transe", "margin"), ("rotate", "nssa")])
def test_per_positive_step_equals_plain_autograd(name, loss):
    """The step's gradients (Adam's first moments after step 1 are 0.1 x the gradient) equal those of the
    textbook computation: the same sides and negatives drawn from the same generator, candidates gathered
    into [B, K, D] and scored per side by the batched kernel, then autograd."""
    num_entities, num_relations, dim, k = 40, 5, 6, 7
    gen = torch.Generator().manual_seed(2)
    batch = torch.stack([torch.randint(0, num_entities, (64,), generator=gen),
                         torch.randint(0, num_relations, (64,), generator=gen),
                         torch.randint(0, num_entities, (64,), generator=gen)], dim=1)
    interaction = build_interaction(name, dim, gamma=4.0)
    opts = StepOptions(negatives=k, negative_mode="per-positive", loss=loss)
    ent, rel = _tables(name, num_entities, num_relations, dim)
    weights = ent.weight.clone().requires_grad_(), rel.weight.clone().requires_grad_()
    value = train_step(interaction, ent, rel, batch, opts, lr=0.01, step=1, generator=torch.Generator().manual_seed(3),
                       head_range=(0, num_entities), tail_range=(0, num_entities))

    gen = torch.Generator().manual_seed(3)
    is_head = draw_sides(batch[:, 1], None, gen, False)
    ordered = batch[torch.cat([torch.nonzero(~is_head).flatten(), torch.nonzero(is_head).flatten()])]
    num_tail = int((~is_head).sum())
    neg_tail = torch.randint(0, num_entities, (num_tail, k), generator=gen)
    neg_head = torch.randint(0, num_entities, (64 - num_tail, k), generator=gen)
    e, r = weights
    h, rr, t = e[ordered[:, 0]], r[ordered[:, 1]], e[ordered[:, 2]]
    neg = torch.cat([interaction.score_candidates(h[:num_tail], rr[:num_tail], e[neg_tail], "tail"),
                     interaction.score_candidates(t[num_tail:], rr[num_tail:], e[neg_head], "head")])
    pos = interaction.score(h, rr, t)
    want = margin_ranking(pos, neg, margin=opts.margin) if loss == "margin" else \
        nssa(pos, neg, temperature=opts.adversarial_temperature)
    want.backward()
    assert value == pytest.approx(float(want.detach()), rel=1e-5)
    torch.testing.assert_close(ent.state["m"], 0.1 * e.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(rel.state["m"], 0.1 * r.grad, rtol=1e-4, atol=1e-6)
    assert e.grad.abs().sum() > 0
