"""Knowledge-graph triples: loading FB15k-237, WN18RR and your own folders; filter index; corruption statistics.

A KG dataset is three ``[M, 3]`` int64 tensors of ``(head, relation, tail)`` ids plus the names behind
the ids. Published sets are read from ``$GRAPHSCALE_DATA/<name>/`` in their exact published format::

    entities.dict, relations.dict     "<id>\\t<name>" per line
    train.txt, valid.txt, test.txt    "<head>\\t<relation>\\t<tail>" names per line (.xz/.gz read transparently;
                                      FB15k-237's CRLF line endings are fine)

Your own KG is a folder with ``train``, ``valid`` and ``test`` files (``.txt``, ``.tsv`` or no suffix,
optionally compressed) of tab-separated names; ids are assigned in order of first appearance (train,
then valid, then test) unless the folder also has ``entities.dict`` / ``relations.dict``. A malformed
line raises :class:`~graphscale.errors.DatasetError` naming the file, the line and the field; so do an empty
train or test file (an empty valid file is fine: training without validation) and, by default, a valid / test
triple whose entity or relation never occurs in a training triple (``unseen``, config key ``data.unseen``):

    error   DatasetError naming the file, line and field (the default for your own folders)
    skip    drop such valid / test triples; ``KGDataset.skipped`` counts them per split
    keep    score them with the untrained ids (the default for the published FB15k-237 and WN18RR: their
            entities.dict lists every entity, as in the RotatE / KBC reference code, whose published filtered
            numbers include these triples; FB15k-237 has 28 such test triples, WN18RR 210);
            ``KGDataset.unseen_kept`` counts them per split
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..datasets.io import data_root, open_text, resolve
from ..errors import DatasetError

SPLITS = ("train", "valid", "test")
FIELDS = ("head", "relation", "tail")
PUBLISHED = {
    "fb15k-237": {"folder": "fb15k-237", "stats": (14541, 237, 272115, 17535, 20466),
                  "description": "FB15k-237 (Toutanova & Chen 2015), Freebase subset without inverse relations"},
    "wn18rr": {"folder": "wn18rr", "stats": (40943, 11, 86835, 3034, 3134),
               "description": "WN18RR (Dettmers et al. 2018), WordNet subset without inverse relations"},
}
ALIASES = {"fb15k237": "fb15k-237", "wn18-rr": "wn18rr"}
UNSEEN = ("error", "skip", "keep")


@dataclass
class KGDataset:
    """Triples of a knowledge graph, split into train / valid / test.

    Attributes:
        name: Dataset name (registry key or folder name).
        train, valid, test: ``[M, 3]`` int64 ``(head, relation, tail)`` ids.
        entity_names: Name of entity id ``i`` at position ``i``.
        relation_names: Name of relation id ``i`` at position ``i``.
        skipped: Valid / test triples dropped for an entity or relation not in train (``unseen="skip"``).
        unseen_kept: Valid / test triples kept although an entity or relation is not in train (``unseen="keep"``).
    """

    name: str
    train: Tensor
    valid: Tensor
    test: Tensor
    entity_names: list[str] = field(repr=False)
    relation_names: list[str] = field(repr=False)
    skipped: dict[str, int] = field(default_factory=lambda: {"valid": 0, "test": 0})
    unseen_kept: dict[str, int] = field(default_factory=lambda: {"valid": 0, "test": 0})

    @property
    def num_entities(self) -> int:
        return len(self.entity_names)

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    def split(self, name: str) -> Tensor:
        if name not in SPLITS:
            raise DatasetError(f"split: expected one of {', '.join(SPLITS)}, got {name!r}.")
        return getattr(self, name)


# -- parsing ------------------------------------------------------------------------------------------------------
def read_dict(path: Path) -> list[str]:
    """Names of an ``<id>\\t<name>`` file, ids ``0..n-1`` in any order (each exactly once)."""
    names: dict[int, str] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise DatasetError(f"{path.name} line {number}: expected 2 tab-separated fields (id, name), got "
                                   f"{len(parts)}. Write one '<id>\\t<name>' per line.")
            try:
                index = int(parts[0])
            except ValueError:
                raise DatasetError(f"{path.name} line {number}, field id: expected an integer id, got "
                                   f"{parts[0]!r}.") from None
            if index < 0 or index in names:
                raise DatasetError(f"{path.name} line {number}, field id: expected a new id >= 0, got {index}"
                                   f"{' again' if index in names else ''}. Ids must be 0..n-1, each once.")
            names[index] = parts[1]
    if sorted(names) != list(range(len(names))):
        missing = next(i for i in range(len(names)) if i not in names)
        raise DatasetError(f"{path.name}: expected ids 0..{len(names) - 1}, got no line for id {missing}. "
                           "Number the names consecutively from 0.")
    return [names[i] for i in range(len(names))]


def read_triples(path: Path, entities: dict[str, int], relations: dict[str, int], grow: bool) -> Tensor:
    """``[M, 3]`` ids of a ``head\\trelation\\ttail`` file; unknown names get new ids when ``grow``."""
    return _read_rows(path, entities, relations, grow)[0]


def _read_rows(path: Path, entities: dict[str, int], relations: dict[str, int],
               grow: bool) -> tuple[Tensor, np.ndarray]:
    """``read_triples`` plus the line number of each triple: ``([M, 3] int64 ids, [M] int64 lines)``."""
    rows: list[tuple[int, int, int]] = []
    numbers: list[int] = []
    tables = (entities, relations, entities)
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise DatasetError(f"{path.name} line {number}: expected 3 tab-separated fields (head, relation, "
                                   f"tail), got {len(parts)}: {line[:80]!r}. Separate the names with tabs.")
            ids = []
            for column, (value, table) in enumerate(zip(parts, tables)):
                name = value.strip()
                if not name:
                    raise DatasetError(f"{path.name} line {number}, field {FIELDS[column]}: expected a non-empty "
                                       "name, got ''.")
                index = table.get(name)
                if index is None:
                    if not grow:
                        listing = "relations.dict" if column == 1 else "entities.dict"
                        raise DatasetError(f"{path.name} line {number}, field {FIELDS[column]}: expected a name "
                                           f"listed in {listing}, got {name!r}. Add it there or fix the line.")
                    index = table[name] = len(table)
                ids.append(index)
            rows.append((ids[0], ids[1], ids[2]))
            numbers.append(number)
    lines = np.asarray(numbers, dtype=np.int64)
    if not rows:
        return torch.empty(0, 3, dtype=torch.int64), lines
    return torch.from_numpy(np.asarray(rows, dtype=np.int64)), lines


def _unseen_rows(triples: Tensor, seen_entity: np.ndarray, seen_relation: np.ndarray) -> np.ndarray:
    """``[M, 3]`` bool: which field of each triple names an entity / relation that no training triple has."""
    ids = triples.numpy()
    out = np.zeros(ids.shape, dtype=bool)
    if ids.shape[0]:
        out[:, 0] = ~seen_entity[ids[:, 0]]
        out[:, 1] = ~seen_relation[ids[:, 1]]
        out[:, 2] = ~seen_entity[ids[:, 2]]
    return out


def _split_file(folder: Path, split: str) -> Path | None:
    for stem in (f"{split}.txt", f"{split}.tsv", split):
        path = resolve(folder, stem)
        if path is not None:
            return path
    return None


def available(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per published KG for ``graphscale datasets`` (``task`` knowledge-graph), as
    :func:`graphscale.datasets.available` gives them for the node and graph sets."""
    base = data_root(root)
    rows = []
    for name, spec in PUBLISHED.items():
        folder = base / spec["folder"]
        missing = [split for split in SPLITS if _split_file(folder, split) is None]
        entities, relations, train, valid, test = spec["stats"]
        rows.append({"name": name, "task": "knowledge-graph", "found": not missing, "path": str(folder),
                     **({"missing": missing} if missing else {}), "num_entities": entities,
                     "num_relations": relations, "num_train": train, "num_valid": valid, "num_test": test,
                     "description": spec["description"]})
    return rows


def load_folder(folder: str | os.PathLike[str], name: str | None = None, unseen: str = "error") -> KGDataset:
    """Read a KG folder (published layout or your own tab-separated triples).

    Args:
        folder: Folder with train / valid / test files (and optionally entities.dict / relations.dict).
        name: Dataset name; default: the folder's name.
        unseen: What to do with a valid / test triple whose entity or relation no training triple has:
            ``error``, ``skip`` (drop it; counted in ``skipped``) or ``keep`` (score it with its untrained id).

    Raises:
        DatasetError: Missing split file, malformed line (with file, line and field), empty train or test
            file, or (``unseen="error"``) a valid / test name not seen in train.
    """
    if unseen not in UNSEEN:
        raise DatasetError(f"unseen: expected one of {', '.join(UNSEEN)}, got {unseen!r}.")
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"KG dataset '{folder}': expected a folder with train/valid/test files, got a missing "
                           "path. Pass a registry name (fb15k-237, wn18rr) or an existing folder.")
    paths = {}
    for split in SPLITS:
        path = _split_file(folder, split)
        if path is None:
            raise DatasetError(f"KG dataset '{folder}': expected a {split} file ({split}.txt, {split}.tsv or "
                               f"{split}, optionally .xz/.gz), got none. Add the {split} triples.")
        paths[split] = path
    entity_dict, relation_dict = resolve(folder, "entities.dict"), resolve(folder, "relations.dict")
    grow = entity_dict is None or relation_dict is None
    entities: dict[str, int] = {}
    relations: dict[str, int] = {}
    if not grow:
        entities = {n: i for i, n in enumerate(read_dict(entity_dict))}
        relations = {n: i for i, n in enumerate(read_dict(relation_dict))}
    splits, lines = {}, {}
    for split in SPLITS:
        splits[split], lines[split] = _read_rows(paths[split], entities, relations, grow)
        if split == "train":
            train_sizes = len(entities), len(relations)  # grown ids: the train names are ids 0 .. size - 1
    for split, what in (("train", "training"), ("test", "test")):  # an empty valid file: no validation
        if splits[split].shape[0] == 0:
            raise DatasetError(f"{paths[split].name}: expected at least one {what} triple, got an empty file. Add "
                               f"the {split} triples (head<TAB>relation<TAB>tail per line).")
    seen_entity = np.zeros(len(entities), dtype=bool)
    seen_entity[splits["train"][:, [0, 2]].numpy().ravel()] = True
    seen_relation = np.zeros(len(relations), dtype=bool)
    seen_relation[splits["train"][:, 1].numpy()] = True
    skipped = {"valid": 0, "test": 0}
    unseen_kept = {"valid": 0, "test": 0}
    for split in ("valid", "test"):
        fields_unseen = _unseen_rows(splits[split], seen_entity, seen_relation)
        bad = fields_unseen.any(axis=1)
        if not bad.any():
            continue
        if unseen == "error":
            row = int(np.flatnonzero(bad)[0])
            column = int(np.flatnonzero(fields_unseen[row])[0])
            names = relations if column == 1 else entities
            value = list(names)[int(splits[split][row, column])]
            kind = "a relation" if column == 1 else "an entity"
            raise DatasetError(f"{paths[split].name} line {lines[split][row]}, field {FIELDS[column]}: expected "
                               f"{kind} seen in {paths['train'].name}, got {value!r}. Remove the triple, or set "
                               "data.unseen=skip to drop such triples (counted in the summary) or data.unseen=keep "
                               "to score them with untrained embeddings.")
        if unseen == "skip":
            skipped[split] = int(bad.sum())
            splits[split] = splits[split][torch.from_numpy(~bad)]
        else:
            unseen_kept[split] = int(bad.sum())
    entity_names, relation_names = list(entities), list(relations)
    if grow and unseen != "keep":  # names first met in dropped triples get no (untrained) id
        entity_names, relation_names = entity_names[:train_sizes[0]], relation_names[:train_sizes[1]]
    if splits["test"].shape[0] == 0:
        raise DatasetError(f"{paths['test'].name}: expected at least one test triple whose entities and relation "
                           f"occur in {paths['train'].name}, got none (data.unseen=skip dropped all "
                           f"{skipped['test']}). Add test triples about the training graph.")
    return KGDataset(name or folder.name, splits["train"], splits["valid"], splits["test"], entity_names,
                     relation_names, skipped, unseen_kept)


def normalize_name(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    return ALIASES.get(key, key)


def load_kg(name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
            unseen: str | None = None) -> KGDataset:
    """Load ``fb15k-237`` / ``wn18rr`` from the data root, or a KG folder given by path.

    ``unseen`` (see :func:`load_folder`): None = ``keep`` for the published datasets (their published
    protocol), ``error`` for a folder.

    Raises:
        DatasetError: Unknown name (with suggestions), missing files, malformed lines, empty train / test file,
            valid / test names not seen in train (``unseen="error"``).
    """
    text = str(name_or_path)
    key = normalize_name(text)
    if key in PUBLISHED:
        folder = data_root(root) / PUBLISHED[key]["folder"]
        if not folder.is_dir():
            raise DatasetError(f"{key}: expected the published files in '{folder}', got a missing folder. Set "
                               "$GRAPHSCALE_DATA (or data.root) to the folder holding the datasets.")
        return load_folder(folder, key, unseen or "keep")
    path = Path(text).expanduser()
    if path.is_dir() or len(path.parts) > 1:
        return load_folder(path, unseen=unseen or "error")
    if text and (data_root(root) / text).is_dir():  # a folder of triples in the data root, by its name
        return load_folder(data_root(root) / text, unseen=unseen or "error")
    from ..config import did_you_mean

    raise DatasetError(f"KG dataset: expected one of {', '.join(PUBLISHED)} or a folder with train/valid/test "
                       f"triples, got {text!r}.{did_you_mean(key, PUBLISHED)}")


# -- derived structures -------------------------------------------------------------------------------------------
def add_reciprocal(triples: Tensor, num_relations: int) -> Tensor:
    """Triples plus their reciprocals ``(t, r + R, h)`` (Lacroix et al. 2018). Shapes: ``[M, 3]`` -> ``[2M, 3]``."""
    inverse = torch.stack([triples[:, 2], triples[:, 1] + num_relations, triples[:, 0]], dim=1)
    return torch.cat([triples, inverse], dim=0)


def bernoulli_head_probability(triples: Tensor, num_relations: int) -> Tensor:
    """Per-relation probability of corrupting the head (Wang et al. 2014, TransH): ``tph / (tph + hpt)``.

    ``tph`` is the mean number of tails per (head, relation), ``hpt`` the mean number of heads per
    (relation, tail); one-to-many relations then corrupt the head more often, which makes false negatives
    rarer. Shapes: ``triples [M, 3]`` -> ``[R]`` float32.
    """
    h, r, t = (triples[:, i].numpy() for i in range(3))
    pairs_hr = np.unique(h.astype(np.int64) * num_relations + r)
    pairs_rt = np.unique(t.astype(np.int64) * num_relations + r)
    count = np.bincount(r, minlength=num_relations).astype(np.float64)
    heads_per_rel = np.bincount(pairs_hr % num_relations, minlength=num_relations)
    tails_per_rel = np.bincount(pairs_rt % num_relations, minlength=num_relations)
    tph = count / np.maximum(heads_per_rel, 1)
    hpt = count / np.maximum(tails_per_rel, 1)
    prob = np.where(count > 0, tph / np.maximum(tph + hpt, 1e-12), 0.5)
    return torch.from_numpy(prob.astype(np.float32))


@dataclass
class FilterIndex:
    """Known true answers of every (entity, relation) query, as CSR rows, for filtered ranking.

    ``tail``: row per (head, relation) listing its tails; ``head``: row per (tail, relation) listing its heads.
    Each side holds sorted ``keys [Q]`` (``entity * R + relation``), ``indptr [Q + 1]`` and ``values``.
    """

    num_relations: int
    keys: dict[str, np.ndarray]
    indptr: dict[str, np.ndarray]
    values: dict[str, np.ndarray]

    @classmethod
    def build(cls, triples: list[Tensor], num_relations: int) -> FilterIndex:
        """Index of the union of ``triples`` (train, valid and test for the standard filtered setting)."""
        allt = torch.cat([t.reshape(-1, 3) for t in triples]).numpy().astype(np.int64)
        keys, indptr, values = {}, {}, {}
        for side, known, answer in (("tail", 0, 2), ("head", 2, 0)):
            key = allt[:, known] * num_relations + allt[:, 1]
            order = np.lexsort((allt[:, answer], key))
            key, ans = key[order], allt[order, answer]
            keep = np.ones(key.shape[0], dtype=bool)
            keep[1:] = (key[1:] != key[:-1]) | (ans[1:] != ans[:-1])  # drop duplicate triples
            key, ans = key[keep], ans[keep]
            unique, starts = np.unique(key, return_index=True)
            keys[side] = unique
            indptr[side] = np.append(starts, key.shape[0]).astype(np.int64)
            values[side] = ans
        return cls(num_relations, keys, indptr, values)

    def rows(self, entity: np.ndarray, relation: np.ndarray, side: str) -> np.ndarray:
        """CSR row of each query (``-1`` when the index has no such query)."""
        key = entity.astype(np.int64) * self.num_relations + relation
        pos = np.searchsorted(self.keys[side], key)
        pos = np.minimum(pos, max(self.keys[side].shape[0] - 1, 0))
        found = self.keys[side].shape[0] > 0
        return np.where(found & (self.keys[side][pos] == key), pos, -1) if found else np.full_like(key, -1)
