"""Filtered link-prediction evaluation: rank the true head and tail of each test triple against all entities.

For a triple ``(h, r, t)`` and side ``tail``, every entity ``e`` gets the score of ``(h, r, e)``; entities
``e != t`` with ``(h, r, e)`` in the filter set (train + valid + test in the standard *filtered* setting,
Bordes et al. 2013) are skipped; the head side does the same with ``(e, r, t)``. Scores are computed for
a batch of queries at a time (``batch_size`` rows of ``N`` scores: the memory bound), each batch scored
entity-chunk by entity-chunk inside the model, and ranks are counted by a numba kernel that never sorts.

Ties use the **realistic** rank (PyKEEN's name; the mean of the optimistic and the pessimistic rank):
``rank = 1 + #{e: s_e > s_t} + #{e != t: s_e = s_t} / 2`` over the unfiltered candidates, i.e. the
expected rank under a random order of the tied entities. A model that scores everything the same gets
the middle rank, not rank 1.

Metrics: MRR (mean of ``1 / rank``), MR (mean rank), Hits@k (fraction of ``rank <= k``), each over both
sides together (``2 x`` the number of triples), plus per-side values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..saga.kernels.cpu import num_threads
from ..train.runtime import progress_bar
from .triples import FilterIndex

HITS_AT = (1, 3, 10)
ScoreAll = Callable[[Tensor, Tensor, str], Tensor]  # (known entity [B], relation [B], side) -> [B, N] scores


@numba.njit(cache=True, nogil=True, parallel=True)
def _filtered_counts(scores, targets, rows, indptr, values, greater, equal):
    num_queries, num_entities = scores.shape
    for b in prange(num_queries):
        target = targets[b]
        s = scores[b, target]
        if np.isnan(s):  # NaN score: worst rank
            greater[b] = num_entities - 1
            equal[b] = 0
            continue
        gt = 0
        eq = 0
        for e in range(num_entities):
            v = scores[b, e]
            if v > s:
                gt += 1
            elif v == s:
                eq += 1
        eq -= 1  # the target itself
        row = rows[b]
        if row >= 0:
            for p in range(indptr[row], indptr[row + 1]):
                e = values[p]
                if e == target:
                    continue
                v = scores[b, e]
                if v > s:
                    gt -= 1
                elif v == s:
                    eq -= 1
        greater[b] = gt
        equal[b] = eq


def filtered_ranks(scores: Tensor, targets: Tensor, rows: np.ndarray, index: FilterIndex | None,
                   side: str) -> Tensor:
    """Realistic filtered rank of each target.

    Args:
        scores: Scores of each query against all entities.
        targets: True entity id of each query.
        rows: Filter-index row of each query (``FilterIndex.rows``); ignored without ``index``.
        index: Known triples to skip; None ranks unfiltered (raw setting).
        side: ``"head"`` or ``"tail"``: which CSR of ``index`` to use.

    Shapes:
        scores: ``[B, N]`` float; targets: ``[B]`` int64; rows: ``[B]``; return: ``[B]`` float64.
    """
    scores = scores.detach().to("cpu").contiguous()
    if scores.dtype not in (torch.float32, torch.float64):
        scores = scores.float()
    if index is None:
        indptr, values = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = np.full(scores.shape[0], -1, dtype=np.int64)
    else:
        indptr, values = index.indptr[side], index.values[side]
    greater = np.empty(scores.shape[0], dtype=np.int64)
    equal = np.empty(scores.shape[0], dtype=np.int64)
    num_threads(scores.numel())
    _filtered_counts(scores.numpy(), targets.to("cpu").numpy().astype(np.int64), np.asarray(rows, dtype=np.int64),
                     indptr, values, greater, equal)
    return torch.from_numpy(1.0 + greater + equal / 2.0)


def metrics_from_ranks(ranks: Tensor, hits_at: Sequence[int] = HITS_AT) -> dict[str, float]:
    """MRR, MR and Hits@k of realistic ranks. Shapes: ``ranks [M]`` float64."""
    if ranks.numel() == 0:
        return {"mrr": float("nan"), "mr": float("nan"), **{f"hits_at_{k}": float("nan") for k in hits_at}}
    ranks = ranks.double()
    out = {"mrr": float((1.0 / ranks).mean()), "mr": float(ranks.mean())}
    for k in hits_at:
        out[f"hits_at_{k}"] = float((ranks <= k).double().mean())
    return out


@torch.no_grad()
def evaluate(score_all: ScoreAll, triples: Tensor, index: FilterIndex | None, *, batch_size: int = 512,
             sides: Sequence[str] = ("head", "tail"), progress: bool = False, desc: str = "evaluate",
             device: torch.device | str = "cpu") -> dict[str, float]:
    """Filtered (or raw, ``index=None``) ranking metrics of ``triples``.

    Args:
        score_all: ``score_all(known [B], relation [B], side) -> [B, N]``: scores of every candidate
            entity for the missing side (``KGEModel.score_all``).
        triples: Triples to rank.
        index: Filter set (``FilterIndex.build([train, valid, test], R)``); None for raw ranks.
        batch_size: Queries scored at once: peak memory is about ``batch_size * N`` scores.
        sides: Which sides to rank.
        progress: Show a tqdm bar on stderr.

    Returns:
        ``mrr, mr, hits_at_1, hits_at_3, hits_at_10`` over all ranked sides, the same prefixed
        ``head_`` / ``tail_`` per side, and ``num_ranks``.

    Shapes:
        triples: ``[M, 3]`` int64.
    """
    triples = triples.to("cpu")
    all_ranks: dict[str, list[Tensor]] = {side: [] for side in sides}
    total = sum((triples.shape[0] + batch_size - 1) // batch_size for _ in sides)
    bar = progress_bar(total, desc, progress, leave=False, unit="batch")
    for side in sides:
        known_col, target_col = (2, 0) if side == "head" else (0, 2)
        for start in range(0, triples.shape[0], batch_size):
            batch = triples[start:start + batch_size]
            known, relation, target = batch[:, known_col], batch[:, 1], batch[:, target_col]
            scores = score_all(known.to(device), relation.to(device), side)  # [B, N]
            rows = index.rows(known.numpy(), relation.numpy(), side) if index is not None else None
            all_ranks[side].append(filtered_ranks(scores, target, rows, index, side))
            bar.update(1)
    bar.close()
    per_side = {side: torch.cat(r) if r else torch.empty(0, dtype=torch.float64) for side, r in all_ranks.items()}
    out = metrics_from_ranks(torch.cat(list(per_side.values())))
    for side, ranks in per_side.items():
        out.update({f"{side}_{k}": v for k, v in metrics_from_ranks(ranks).items()})
    out["num_ranks"] = int(sum(r.numel() for r in per_side.values()))
    return out
