"""Tiny knowledge graphs generated in code for the KGE tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphscale.kge.triples import KGDataset


def ring_kg(num_entities: int = 40, shifts: tuple[int, ...] = (1, 2, 3, 5), seed: int = 0,
            test_fraction: float = 0.1, wrap: bool = True) -> KGDataset:
    """Entities on a ring; relation k links i -> (i + shifts[k]) mod N. RotatE and ComplEx can learn it, and
    held-out triples follow from the training ones (the same shift for every entity). ``wrap=False`` gives
    a line instead (no link past the last entity), which TransE's translations can represent."""
    heads = torch.arange(num_entities).repeat(len(shifts))
    rels = torch.arange(len(shifts)).repeat_interleave(num_entities)
    tails = heads + torch.tensor(shifts)[rels]
    keep = torch.ones_like(tails, dtype=torch.bool) if wrap else tails < num_entities
    triples = torch.stack([heads, rels, tails % num_entities], dim=1)[keep]
    perm = torch.randperm(triples.shape[0], generator=torch.Generator().manual_seed(seed))
    triples = triples[perm]
    held = round(test_fraction * triples.shape[0])
    return KGDataset("ring", triples[2 * held:], triples[:held], triples[held:2 * held],
                     [f"e{i}" for i in range(num_entities)], [f"shift{s}" for s in shifts])


@pytest.fixture
def ring() -> KGDataset:
    return ring_kg()


def write_kg_folder(folder: Path, data: KGDataset) -> Path:
    """The dataset as a user's folder of tab-separated names (train.txt, valid.tsv, test)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train.txt"), ("valid", "valid.tsv"), ("test", "test")):
        rows = data.split(split).tolist()
        text = "".join(f"{data.entity_names[h]}\t{data.relation_names[r]}\t{data.entity_names[t]}\n"
                       for h, r, t in rows)
        (folder / name).write_text(text, encoding="utf-8")
    return folder
