"""One training step of a KGE model on a batch of positive triples (no Python loop over triples).

The step gathers the rows it needs (batch entities, negatives, relations) from the embedding tables into
small leaf tensors, scores positives and negatives with the interaction, back-propagates, and hands the
row gradients to the row-sparse optimiser. Negatives:

* ``shared``: the positives that corrupt their tail share one set of ``K`` random tails, those that
  corrupt their head one set of ``K`` heads: a ``[B, K]`` score matrix from a ``[B, D] x [K, D]``
  product or fused distance, ``K`` rows gathered instead of ``B * K`` (PBG / DGL-KE "joint" negatives);
* ``per-positive``: ``K`` own random entities per positive, ``[B, K, D]`` gathered;
* ``all``: 1-N scoring against every entity of the table.

Which side a positive corrupts is drawn per positive: uniform (1/2) or Bernoulli with the relation's
``tph / (tph + hpt)``; reciprocal models always corrupt the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .interactions import Interaction
from .kernels import unique_ids
from .losses import margin_ranking, nssa, regularization, softmax_cross_entropy
from .optim import EmbeddingTable, sparse_step


@dataclass(frozen=True)
class StepOptions:
    """The ``train`` settings one step needs."""

    negatives: int = 256
    negative_mode: str = "shared"
    loss: str = "nssa"
    adversarial_temperature: float = 1.0
    margin: float = 1.0
    regularizer: str = "none"
    regularization: float = 0.0
    optimizer: str = "adam"
    tail_only: bool = False


def _randint(lo: int, hi: int, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randint(lo, hi, shape, generator=generator)


def draw_sides(relations: Tensor, head_prob: Tensor | None, generator: torch.Generator, tail_only: bool) -> Tensor:
    """Boolean ``[B]``: True where the positive corrupts its head."""
    if tail_only:
        return torch.zeros(relations.shape[0], dtype=torch.bool)
    coins = torch.rand(relations.shape[0], generator=generator)
    prob = head_prob[relations] if head_prob is not None else 0.5
    return coins < prob


def _loss(opts: StepOptions, pos: Tensor, neg: Tensor, weight: Tensor | None, target: Tensor | None) -> Tensor:
    if opts.loss == "softmax":
        if target is not None:
            return softmax_cross_entropy(None, neg, target=target, weight=weight)
        return softmax_cross_entropy(pos, neg, weight=weight)
    if target is not None:  # 1-N with a pairwise loss: the positive's own column is not a negative
        neg = neg.scatter(1, target.unsqueeze(1), float("-inf"))
    if opts.loss == "margin":
        return margin_ranking(pos, neg, margin=opts.margin, weight=weight)
    return nssa(pos, neg, temperature=opts.adversarial_temperature, weight=weight)


def _corrupt(batch: Tensor, opts: StepOptions, generator: torch.Generator, head_range: tuple[int, int],
             tail_range: tuple[int, int], head_prob: Tensor | None) -> tuple[Tensor, Tensor, int, list[Tensor]]:
    """Draw the corrupted side of every positive and its negatives.

    Returns ``(batch reordered: tail-corrupting positives first, the order applied, the number of
    tail-corrupting positives, the entity ids the step reads: heads, tails, then the negatives)``.
    """
    num_pos, k = batch.shape[0], opts.negatives
    is_head = draw_sides(batch[:, 1], head_prob, generator, opts.tail_only)
    order = torch.cat([torch.nonzero(~is_head).flatten(), torch.nonzero(is_head).flatten()])
    num_tail = int((~is_head).sum())
    batch = batch[order]
    ids = [batch[:, 0], batch[:, 2]]
    if opts.negative_mode == "shared":
        ids += [_randint(*tail_range, (k,), generator), _randint(*head_range, (k,), generator)]
    elif opts.negative_mode == "per-positive":
        ids += [_randint(*tail_range, (num_tail, k), generator).flatten(),
                _randint(*head_range, (num_pos - num_tail, k), generator).flatten()]
    return batch, order, num_tail, ids


def train_step(interaction: Interaction, entities: EmbeddingTable, relations: EmbeddingTable, batch: Tensor,
               opts: StepOptions, *, lr: float, step: int, generator: torch.Generator,
               head_range: tuple[int, int], tail_range: tuple[int, int], head_prob: Tensor | None = None,
               weight: Tensor | None = None) -> float:
    """Score, back-propagate and update for one batch; returns the loss.

    Args:
        interaction: The model's interaction.
        entities: Entity rows on the training device (local ids ``0..n-1``).
        relations: Relation rows on the training device.
        batch: Positive triples in local entity ids (on the CPU; moved to the table's device).
        opts: Loss / negatives / optimiser settings.
        lr: Learning rate of this step.
        step: 1-based global step (Adam bias correction).
        generator: CPU generator for sides and negatives.
        head_range: Local ids head negatives are drawn from; tail_range: the same for tails.
        head_prob: ``[R]`` Bernoulli probability of corrupting the head (None = 1/2).
        weight: ``[B]`` per-positive loss weights (subsampling), or None.

    Shapes:
        batch: ``[B, 3]`` int64.
    """
    device = entities.weight.device
    num_pos = batch.shape[0]
    k = opts.negatives
    batch, order, num_tail, ids = _corrupt(batch, opts, generator, head_range, tail_range, head_prob)
    if weight is not None:
        weight = weight[order].to(device)

    if opts.negative_mode == "all":
        rows = None
        ent = entities.weight.detach().requires_grad_()
        local = batch.to(device)
    else:
        rows, inverse = unique_ids(torch.cat(ids), entities.weight.shape[0])
        rows = rows.to(device)
        ent = entities.weight.index_select(0, rows).requires_grad_()
        inverse = inverse.to(device)
        local = torch.stack([inverse[:num_pos], batch[:, 1].to(device), inverse[num_pos:2 * num_pos]], dim=1)
    rel_rows, rel_local = unique_ids(batch[:, 1], relations.weight.shape[0])
    rel = relations.weight.index_select(0, rel_rows.to(device)).requires_grad_()
    ends = F.embedding(torch.cat([local[:, 0], local[:, 2]]), ent)  # one gather (and one backward) for both ends
    h, r, t = ends[:num_pos], F.embedding(rel_local.to(device), rel), ends[num_pos:]

    pos = interaction.score(h, r, t)
    tail_part, head_part = slice(0, num_tail), slice(num_tail, num_pos)
    target = None
    if opts.negative_mode == "per-positive":  # candidate rows of ent, [B, K], scored without a [B, K, D] gather:
        # both sides' queries (tail-corrupting positives first, as in the batch) against their rows in one call
        queries = [interaction.query(h[tail_part], r[tail_part], "tail"),
                   interaction.query(t[head_part], r[head_part], "head")]
        neg = interaction.compare_indexed(torch.cat(queries), ent, inverse[2 * num_pos:].view(num_pos, k))
    else:
        if opts.negative_mode == "shared":
            offset = 2 * num_pos
            cand_tail = F.embedding(inverse[offset:offset + k], ent)
            cand_head = F.embedding(inverse[offset + k:], ent)
        else:
            lo_t, hi_t = tail_range
            lo_h, hi_h = head_range
            cand_tail, cand_head = ent[lo_t:hi_t], ent[lo_h:hi_h]
            target = torch.cat([local[tail_part, 2] - lo_t, local[head_part, 0] - lo_h])
        scores = []
        if num_tail:
            scores.append(interaction.score_candidates(h[tail_part], r[tail_part], cand_tail, "tail"))
        if num_pos - num_tail:
            scores.append(interaction.score_candidates(t[head_part], r[head_part], cand_head, "head"))
        neg = torch.cat(scores) if len(scores) > 1 else scores[0]
    loss = _loss(opts, pos, neg, weight, target)
    reg = regularization(opts.regularizer, interaction.factors(h, r, t), opts.regularization)
    if reg is not None:
        loss = loss + reg
    loss.backward()
    sparse_step(entities, rows, ent.grad, lr, step, opts.optimizer)
    sparse_step(relations, rel_rows.to(device), rel.grad, lr, step, opts.optimizer)
    return float(loss.detach())
