r"""Stateless KGE interaction functions: TransE, DistMult, ComplEx, SimplE, RotatE.

Every model is an *operator* that folds the known entity and the relation into a query vector, and a
*comparator* that scores the query against candidate entity rows (PyTorch-BigGraph's operator x
comparator split). Scoring a batch of triples, scoring each query against ``K`` shared candidates and
scoring one head or tail against all ``N`` entities are then the same computation at different shapes,
with no Python loop: a matrix product for the bilinear models and a fused kernel
(:mod:`graphscale.kge.kernels`) for the distances.

``side`` names what is predicted: ``"tail"`` scores ``(h, r, ?)`` (the known entity is the head),
``"head"`` scores ``(?, r, t)`` (the known entity is the tail). Each query is built so that its score
against candidate ``e`` equals the model's score of the full triple:

=========  ===========================================  ==============================  ============
model      score f(h, r, t)                             tail query / head query          comparator
=========  ===========================================  ==============================  ============
TransE     :math:`\gamma - \|h + r - t\|_p`             ``h + r`` / ``t - r``            l1 or l2
DistMult   :math:`\langle h, r, t\rangle`               ``h * r`` / ``t * r``            dot
ComplEx    :math:`\mathrm{Re}\langle h, r, \bar t\rangle`  ``h r`` / ``\bar r t``         dot on [re|im]
SimplE     :math:`\tfrac12(\langle h_H, r, t_T\rangle + \langle t_H, r^{-1}, h_T\rangle)`
                                                        ``½[h_T r^{-1}, h_H r]`` / ``½[t_T r, t_H r^{-1}]``  dot
RotatE     :math:`\gamma - \sum_j |h_j e^{i\theta_j} - t_j|`  ``h e^{iθ}`` / ``t e^{-iθ}``    complex-l1
=========  ===========================================  ==============================  ============

Complex vectors are stored as one real row ``[re | im]``; ``dim`` is the number of complex
coordinates (ComplEx, RotatE) or of each role vector (SimplE: ``[head role | tail role]`` and
``[r | r^{-1}]``), so those entities hold ``2 * dim`` reals.

References:
    TransE: Bordes et al., NeurIPS 2013. DistMult: Yang et al., ICLR 2015. ComplEx: Trouillon et al.,
    ICML 2016. SimplE: Kazemi & Poole, NeurIPS 2018. RotatE: Sun et al., ICLR 2019 (arXiv:1902.10197).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config.registry import Registry
from ..errors import ConfigError, ShapeError
from .kernels import batched_distance, indexed_distance, pairwise_distance

SIDES = ("head", "tail")


def _halves(x: Tensor) -> tuple[Tensor, Tensor]:
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ConfigError(f"side: expected 'head' or 'tail', got {side!r}.")


@dataclass(frozen=True)
class Interaction(ABC):
    """Base class: a query operator plus a comparator; holds hyper-parameters only, no weights.

    Attributes:
        gamma: Score offset of the distance models (``gamma - distance``); unused by dot models.
    """

    name: ClassVar[str] = ""
    comparator: ClassVar[str] = "dot"
    entity_factor: ClassVar[int] = 1  # entity row = entity_factor * dim reals
    relation_factor: ClassVar[int] = 1
    is_complex: ClassVar[bool] = False  # N3 regularisation takes complex moduli
    gamma: float = 0.0

    @abstractmethod
    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        """Fold the known entity and the relation into the query row compared with the candidates
        (TransE ``h + r``, DistMult ``h * r``, ...; each model defines it).

        Shapes:
            entity: ``[B, De]``; relation: ``[B, Dr]``; return: ``[B, De]``.
        """

    # -- comparators ------------------------------------------------------------------------------------------
    def _distance_score(self, distance: Tensor) -> Tensor:
        return self.gamma - distance

    def compare_rows(self, q: Tensor, c: Tensor) -> Tensor:
        """Score of query row i against candidate row i. Shapes: ``[B, D]`` x ``[B, D]`` -> ``[B]``."""
        if self.comparator == "dot":
            return (q * c).sum(-1)
        if self.comparator == "l2":
            return self._distance_score(torch.linalg.vector_norm(q - c, dim=-1))
        return self._distance_score(batched_distance(q, c.unsqueeze(1), self.comparator).squeeze(1))

    def compare_shared(self, q: Tensor, c: Tensor) -> Tensor:
        """Every query against every candidate. Shapes: ``[B, D]`` x ``[K, D]`` -> ``[B, K]``."""
        if self.comparator == "dot":
            return q @ c.t()
        if self.comparator == "l2":
            square = (q * q).sum(-1, keepdim=True) + (c * c).sum(-1) - 2.0 * (q @ c.t())
            return self._distance_score(torch.sqrt(square.clamp_min(1e-12)))
        return self._distance_score(pairwise_distance(q, c, self.comparator))

    def compare_batched(self, q: Tensor, c: Tensor) -> Tensor:
        """Each query against its own candidates. Shapes: ``[B, D]`` x ``[B, K, D]`` -> ``[B, K]``."""
        if self.comparator == "dot":
            return torch.bmm(c, q.unsqueeze(-1)).squeeze(-1)
        if self.comparator == "l2":
            return self._distance_score(torch.linalg.vector_norm(q.unsqueeze(1) - c, dim=-1))
        return self._distance_score(batched_distance(q, c, self.comparator))

    def compare_indexed(self, q: Tensor, table: Tensor, index: Tensor) -> Tensor:
        """Each query against its own candidates, rows ``index`` of ``table``.
        Shapes: ``[B, D]`` x ``[U, D]``, ``[B, K]`` -> ``[B, K]``."""
        if self.comparator in ("l1", "complex-l1"):
            return self._distance_score(indexed_distance(q, table, index, self.comparator))
        return self.compare_batched(q, F.embedding(index, table))

    # -- scores -----------------------------------------------------------------------------------------------
    def score(self, head: Tensor, relation: Tensor, tail: Tensor) -> Tensor:
        """Score of each triple.

        Shapes:
            head, tail: ``[B, De]``; relation: ``[B, Dr]``; return: ``[B]``.
        """
        return self.compare_rows(self.query(head, relation, "tail"), tail)

    def score_candidates(self, entity: Tensor, relation: Tensor, candidates: Tensor, side: str) -> Tensor:
        """Score the known ``entity`` with ``relation`` against candidate heads or tails.

        Args:
            entity: Known entity rows (heads when ``side="tail"``, tails when ``side="head"``).
            relation: Relation rows.
            candidates: ``[K, De]`` shared by every query (shared negatives, all entities) or
                ``[B, K, De]`` per query (per-positive negatives).
            side: ``"tail"`` or ``"head"``: what the candidates stand for.

        Shapes:
            entity: ``[B, De]``; relation: ``[B, Dr]``; return: ``[B, K]``.
        """
        _check_side(side)
        q = self.query(entity, relation, side)
        if candidates.dim() == 2:
            return self.compare_shared(q, candidates)
        if candidates.dim() == 3:
            return self.compare_batched(q, candidates)
        raise ShapeError(f"{type(self).__name__}.score_candidates: expected candidates [K, D] or [B, K, D], got "
                         f"shape {tuple(candidates.shape)}.")

    def score_indexed(self, entity: Tensor, relation: Tensor, table: Tensor, index: Tensor, side: str) -> Tensor:
        """:meth:`score_candidates` with per-query candidates given as rows ``index [B, K]`` of ``table [U, De]``
        (the distance models never gather them into ``[B, K, De]``). Returns ``[B, K]``."""
        _check_side(side)
        return self.compare_indexed(self.query(entity, relation, side), table, index)

    def factors(self, head: Tensor, relation: Tensor, tail: Tensor) -> list[Tensor]:
        """Embedding factors the N3 / L2 regularisers act on (complex models: moduli per coordinate)."""
        if not self.is_complex:
            return [head, relation, tail]
        out = []
        for x in (head, relation, tail):
            re, im = _halves(x)
            out.append(torch.sqrt(re * re + im * im + 1e-18))
        return out


@dataclass(frozen=True)
class TransE(Interaction):
    """TransE (Bordes et al. 2013): ``gamma - ||h + r - t||_p`` with ``p`` in {1, 2}."""

    name: ClassVar[str] = "transe"
    p_norm: int = 1

    def __post_init__(self) -> None:
        if self.p_norm not in (1, 2):
            raise ConfigError(f"model.p_norm: expected 1 or 2, got {self.p_norm!r}. TransE uses the L1 or L2 norm.")
        object.__setattr__(self, "comparator", "l1" if self.p_norm == 1 else "l2")

    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        return entity + relation if side == "tail" else entity - relation


@dataclass(frozen=True)
class DistMult(Interaction):
    """DistMult (Yang et al. 2015): ``<h, r, t> = sum_j h_j r_j t_j``."""

    name: ClassVar[str] = "distmult"

    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        return entity * relation


@dataclass(frozen=True)
class ComplEx(Interaction):
    """ComplEx (Trouillon et al. 2016): ``Re(sum_j h_j r_j conj(t_j))`` over complex coordinates."""

    name: ClassVar[str] = "complex"
    entity_factor: ClassVar[int] = 2
    relation_factor: ClassVar[int] = 2
    is_complex: ClassVar[bool] = True

    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        e_re, e_im = _halves(entity)
        r_re, r_im = _halves(relation)
        if side == "tail":  # h * r, compared as Re(q conj(t)) = q_re t_re + q_im t_im
            return torch.cat([e_re * r_re - e_im * r_im, e_re * r_im + e_im * r_re], dim=-1)
        # conj(r) * t: Re(h r conj(t)) = Re(h conj(conj(r) t))
        return torch.cat([r_re * e_re + r_im * e_im, r_re * e_im - r_im * e_re], dim=-1)


@dataclass(frozen=True)
class SimplE(Interaction):
    """SimplE (Kazemi & Poole 2018): ``(<h_H, r, t_T> + <t_H, r_inv, h_T>) / 2``.

    Entity rows are ``[head role | tail role]``, relation rows ``[r | r_inv]``.
    """

    name: ClassVar[str] = "simple"
    entity_factor: ClassVar[int] = 2
    relation_factor: ClassVar[int] = 2

    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        e_head_role, e_tail_role = _halves(entity)
        rel, rel_inv = _halves(relation)
        if side == "tail":  # candidate t = [t_H | t_T]: pair t_H with h_T r_inv and t_T with h_H r
            return 0.5 * torch.cat([e_tail_role * rel_inv, e_head_role * rel], dim=-1)
        return 0.5 * torch.cat([e_tail_role * rel, e_head_role * rel_inv], dim=-1)


@dataclass(frozen=True)
class RotatE(Interaction):
    """RotatE (Sun et al. 2019): ``gamma - sum_j |h_j e^{i theta_j} - t_j|``.

    Relation rows hold phases scaled as in the reference code: ``theta = row * phase_scale`` with
    ``phase_scale = pi / embedding_range`` (so the paper's learning rates carry over).
    """

    name: ClassVar[str] = "rotate"
    comparator: ClassVar[str] = "complex-l1"
    entity_factor: ClassVar[int] = 2
    is_complex: ClassVar[bool] = True
    phase_scale: float = 1.0

    def query(self, entity: Tensor, relation: Tensor, side: str) -> Tensor:
        e_re, e_im = _halves(entity)
        phase = relation * self.phase_scale
        r_re, r_im = torch.cos(phase), torch.sin(phase)
        if side == "tail":  # h * r
            return torch.cat([e_re * r_re - e_im * r_im, e_re * r_im + e_im * r_re], dim=-1)
        # t * conj(r): |h r - t| = |h - t conj(r)| because |r| = 1
        return torch.cat([e_re * r_re + e_im * r_im, e_im * r_re - e_re * r_im], dim=-1)

    def factors(self, head: Tensor, relation: Tensor, tail: Tensor) -> list[Tensor]:
        return [f for i, f in enumerate(super().factors(head, relation, tail)) if i != 1]  # |r| = 1 always


INTERACTIONS: Registry[type[Interaction]] = Registry("model.name")
for _cls in (TransE, DistMult, ComplEx, SimplE, RotatE):
    INTERACTIONS.register(_cls.name, _cls)


def embedding_range(gamma: float, dim: int, epsilon: float = 2.0) -> float:
    """Uniform init range of the RotatE reference code: ``(gamma + epsilon) / dim``."""
    return (gamma + epsilon) / dim


def build_interaction(name: str, dim: int, gamma: float = 12.0, p_norm: int = 1) -> Interaction:
    """The interaction called ``name`` with its hyper-parameters (RotatE's phase scale follows ``gamma``/``dim``)."""
    cls = INTERACTIONS.get(name)
    if cls is TransE:
        return TransE(gamma=gamma, p_norm=p_norm)
    if cls is RotatE:
        return RotatE(gamma=gamma, phase_scale=math.pi / embedding_range(gamma, dim))
    return cls(gamma=gamma)
