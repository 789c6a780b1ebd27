"""KGE model = entity and relation embedding tables x a stateless interaction (PyKEEN's representation x
interaction split), plus scoring against all entities, initialisation and export.

With ``reciprocal=True`` the relation table has ``2R`` rows: relation ``r + R`` is the inverse of ``r``
(Lacroix et al. 2018), training predicts tails only, and head prediction ``(?, r, t)`` is answered as tail
prediction ``(t, r + R, ?)``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..train.checkpoint import write_text_atomic
from .interactions import Interaction, build_interaction, embedding_range

INITS = ("uniform", "normal")


class KGEModel(nn.Module):
    """Embedding tables plus an interaction.

    Args:
        interaction: Scoring function (``build_interaction("rotate", dim, gamma=9.0)``).
        num_entities: ``N``.
        num_relations: ``R`` (the table has ``2R`` rows when ``reciprocal``).
        dim: Embedding size per component (complex coordinates for ComplEx / RotatE, see interactions).
        reciprocal: Learn inverse relations and predict tails only.
        init: ``uniform`` in ``[-a, a]`` with ``a = init_scale`` or RotatE's ``(gamma + 2) / dim``;
            ``normal`` with standard deviation ``init_scale`` (default 1e-3, Lacroix et al. 2018).
        init_scale: See ``init``.
        seed: Seed of the initialisation.

    Shapes:
        entity: ``[N, entity_factor * dim]``; relation: ``[R or 2R, relation_factor * dim]``.
    """

    def __init__(self, interaction: Interaction, num_entities: int, num_relations: int, dim: int, *,
                 reciprocal: bool = False, init: str = "uniform", init_scale: float | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        if dim < 1 or num_entities < 1 or num_relations < 1:
            raise ConfigError(f"KGEModel: expected dim, num_entities and num_relations >= 1, got {dim}, "
                              f"{num_entities}, {num_relations}.")
        if init not in INITS:
            raise ConfigError(f"model.init: expected one of {', '.join(INITS)}, got {init!r}.")
        self.interaction = interaction
        self.num_entities, self.num_relations, self.dim = num_entities, num_relations, dim
        self.reciprocal = reciprocal
        generator = torch.Generator().manual_seed(seed)
        rows = 2 * num_relations if reciprocal else num_relations
        shapes = ((num_entities, interaction.entity_factor * dim), (rows, interaction.relation_factor * dim))
        tables = []
        for shape in shapes:
            if init == "uniform":
                scale = init_scale if init_scale is not None else embedding_range(interaction.gamma, dim)
                tables.append(torch.empty(shape).uniform_(-scale, scale, generator=generator))
            else:
                scale = init_scale if init_scale is not None else 1e-3
                tables.append(torch.randn(shape, generator=generator) * scale)
        self.entity = nn.Parameter(tables[0])
        self.relation = nn.Parameter(tables[1])

    @property
    def device(self) -> torch.device:
        return self.entity.device

    def score_triples(self, triples: Tensor) -> Tensor:
        """Score of each ``(head, relation, tail)`` row. Shapes: ``[B, 3]`` int64 -> ``[B]``."""
        if triples.dim() != 2 or triples.shape[1] != 3:
            raise ShapeError(f"KGEModel.score_triples: expected triples [B, 3], got shape {tuple(triples.shape)}.")
        h, r, t = self.entity[triples[:, 0]], self.relation[triples[:, 1]], self.entity[triples[:, 2]]
        return self.interaction.score(h, r, t)

    def query_side(self, relation: Tensor, side: str) -> tuple[Tensor, str]:
        """Relation ids and side actually scored: reciprocal models answer head queries with inverse relations."""
        if self.reciprocal and side == "head":
            return relation + self.num_relations, "tail"
        return relation, side

    def score_all(self, known: Tensor, relation: Tensor, side: str, *, chunk_size: int | None = None) -> Tensor:
        """Score the known entity and relation against every entity, chunk by chunk over entities.

        Args:
            known: Head ids when ``side="tail"``, tail ids when ``side="head"``.
            relation: Relation ids.
            side: What the candidates stand for.
            chunk_size: Entities scored per chunk (bounds the temporaries of the torch fallback on GPUs);
                None scores all at once.

        Shapes:
            known, relation: ``[B]`` int64; return: ``[B, N]``.
        """
        relation, side = self.query_side(relation, side)
        e, r = self.entity[known], self.relation[relation]
        if chunk_size is None or chunk_size >= self.num_entities:
            return self.interaction.score_candidates(e, r, self.entity, side)
        out = torch.empty(known.shape[0], self.num_entities, dtype=self.entity.dtype, device=self.device)
        for start in range(0, self.num_entities, chunk_size):
            stop = min(start + chunk_size, self.num_entities)
            out[:, start:stop] = self.interaction.score_candidates(e, r, self.entity[start:stop], side)
        return out

    def export(self, folder: str | os.PathLike[str], entity_names: list[str] | None = None,
               relation_names: list[str] | None = None) -> dict[str, str]:
        """Write ``entity_embeddings.npy``, ``relation_embeddings.npy``, ``entities.tsv`` and ``relations.tsv``
        (``<id>\\t<name>``: row ``id`` of the ``.npy`` belongs to ``name``) plus ``embeddings.json`` (model,
        dim, layout). Files are written to temporary names and renamed. Returns ``{kind: path}``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        entity_names = entity_names or [str(i) for i in range(self.num_entities)]
        relation_names = list(relation_names or [str(i) for i in range(self.num_relations)])
        if self.reciprocal:
            relation_names = relation_names + [f"{name} (inverse)" for name in relation_names]
        paths = {}
        for kind, table in (("entity_embeddings", self.entity), ("relation_embeddings", self.relation)):
            path = folder / f"{kind}.npy"
            tmp = folder / f".{kind}.tmp.npy"
            np.save(tmp, table.detach().to("cpu").numpy())
            os.replace(tmp, path)
            paths[kind] = str(path)
        for kind, names in (("entities", entity_names), ("relations", relation_names)):
            path = folder / f"{kind}.tsv"
            tmp = folder / f".{kind}.tsv.tmp"
            tmp.write_text("".join(f"{i}\t{name}\n" for i, name in enumerate(names)), encoding="utf-8")
            os.replace(tmp, path)
            paths[kind] = str(path)
        layout = {"model": self.interaction.name, "dim": self.dim, "reciprocal": self.reciprocal,
                  "entity_shape": list(self.entity.shape), "relation_shape": list(self.relation.shape),
                  "gamma": self.interaction.gamma,
                  "complex_layout": "[re | im] halves" if self.interaction.entity_factor == 2 else None}
        if self.interaction.name == "rotate":
            layout["relation_phase_scale"] = self.interaction.phase_scale  # type: ignore[attr-defined]
        write_text_atomic(json.dumps(layout, indent=2), folder / "embeddings.json")
        paths["layout"] = str(folder / "embeddings.json")
        return paths


def build_kg_model(name: str, num_entities: int, num_relations: int, dim: int, *, gamma: float = 12.0,
                p_norm: int = 1, reciprocal: bool = False, init: str | None = None,
                init_scale: float | None = None, seed: int = 0) -> KGEModel:
    """A :class:`KGEModel` by interaction name; ``init`` defaults to ``uniform`` for distance models (RotatE
    reference code) and ``normal`` (std 1e-3) for the bilinear ones."""
    interaction = build_interaction(name, dim, gamma=gamma, p_norm=p_norm)
    if init is None:
        init = "normal" if interaction.comparator == "dot" else "uniform"
    if init_scale is not None and not (init_scale > 0 and math.isfinite(init_scale)):
        raise ConfigError(f"model.init_scale: expected a float > 0 or null, got {init_scale!r}.")
    return KGEModel(interaction, num_entities, num_relations, dim, reciprocal=reciprocal, init=init,
                    init_scale=init_scale, seed=seed)
