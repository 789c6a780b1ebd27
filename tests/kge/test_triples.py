"""Loading FB15k-237, WN18RR and users' folders; malformed lines; filter index; Bernoulli statistics."""

from __future__ import annotations

import pytest
import torch

from graphscale.errors import DatasetError
from graphscale.kge.triples import (
    PUBLISHED,
    FilterIndex,
    add_reciprocal,
    bernoulli_head_probability,
    load_folder,
    load_kg,
)

from .conftest import write_kg_folder


@pytest.mark.parametrize("name", ["fb15k-237", "wn18rr"])
def test_published_datasets_have_the_published_counts(name, data_root):
    if not (data_root / PUBLISHED[name]["folder"]).is_dir():
        pytest.skip(f"{name} not in {data_root}")
    data = load_kg(name.upper())
    entities, relations, train, valid, test = PUBLISHED[name]["stats"]
    assert (data.num_entities, data.num_relations) == (entities, relations)
    assert [data.train.shape[0], data.valid.shape[0], data.test.shape[0]] == [train, valid, test]
    for split in (data.train, data.valid, data.test):
        assert split.dtype == torch.int64 and int(split[:, [0, 2]].max()) < entities
        assert int(split[:, 1].max()) < relations
    if name == "fb15k-237":  # first train line, CRLF stripped: /m/027rn /location/country/form_of_government /m/06cx9
        h, r, t = data.train[0].tolist()
        assert (data.entity_names[h], data.entity_names[t]) == ("/m/027rn", "/m/06cx9")
        assert data.relation_names[r] == "/location/country/form_of_government"


def test_user_folder_round_trip(tmp_path, ring):
    folder = write_kg_folder(tmp_path / "kg", ring)
    data = load_kg(str(folder))
    assert data.name == "kg" and data.num_relations == ring.num_relations
    for split in ("train", "valid", "test"):
        names = [(data.entity_names[h], data.relation_names[r], data.entity_names[t])
                 for h, r, t in data.split(split).tolist()]
        expected = [(ring.entity_names[h], ring.relation_names[r], ring.entity_names[t])
                    for h, r, t in ring.split(split).tolist()]
        assert names == expected
    first = ring.train[0].tolist()  # ids in order of first appearance
    assert data.train[0].tolist() == [0, 0, 1 if first[0] != first[2] else 0]


@pytest.mark.parametrize("line, where", [
    ("a\tr\n", "train.txt line 2: expected 3 tab-separated fields"),
    ("a\t\tb\n", "train.txt line 2, field relation: expected a non-empty name"),
    ("a r b\n", "train.txt line 2: expected 3 tab-separated fields"),
])
def test_malformed_lines_name_file_line_and_field(tmp_path, line, where):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train.txt").write_text("x\tr\ty\n" + line)
    (folder / "valid.txt").write_text("x\tr\ty\n")
    (folder / "test.txt").write_text("x\tr\ty\n")
    with pytest.raises(DatasetError, match=where):
        load_folder(folder)


def test_dict_folders_reject_unknown_names_and_bad_ids(tmp_path):
    folder = tmp_path / "dicts"
    folder.mkdir()
    (folder / "entities.dict").write_text("0\ta\n1\tb\n")
    (folder / "relations.dict").write_text("0\tr\n")
    for split in ("train", "valid"):
        (folder / f"{split}.txt").write_text("a\tr\tb\r\n")
    (folder / "test.txt").write_text("a\tr\tb\nb\tr\tc\n")
    with pytest.raises(DatasetError, match="test.txt line 2, field tail: expected a name listed in entities.dict"):
        load_folder(folder)
    (folder / "test.txt").write_text("b\tr\ta\n")
    assert load_folder(folder).test.tolist() == [[1, 0, 0]]
    (folder / "entities.dict").write_text("0\ta\nx\tb\n")
    with pytest.raises(DatasetError, match="entities.dict line 2, field id: expected an integer id, got 'x'"):
        load_folder(folder)
    with pytest.raises(DatasetError, match="expected a folder"):
        load_kg(str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="Did you mean 'wn18rr'"):
        load_kg("wn18r")


def test_filter_index_and_bernoulli_statistics():
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [0, 0, 3], [4, 0, 3], [1, 1, 2], [0, 0, 1]])
    index = FilterIndex.build([triples], num_relations=2)
    row = index.rows(torch.tensor([0]).numpy(), torch.tensor([0]).numpy(), "tail")[0]
    assert sorted(index.values["tail"][index.indptr["tail"][row]:index.indptr["tail"][row + 1]].tolist()) == [1, 2, 3]
    row = index.rows(torch.tensor([3]).numpy(), torch.tensor([0]).numpy(), "head")[0]
    assert sorted(index.values["head"][index.indptr["head"][row]:index.indptr["head"][row + 1]].tolist()) == [0, 4]
    assert index.rows(torch.tensor([9]).numpy(), torch.tensor([1]).numpy(), "tail").tolist() == [-1]
    # relation 0: 5 triples, 2 distinct heads (tph 2.5), 3 distinct tails (hpt 5/3)
    prob = bernoulli_head_probability(triples, 2)
    assert prob[0].item() == pytest.approx(2.5 / (2.5 + 5 / 3))
    assert prob[1].item() == pytest.approx(0.5)
    recip = add_reciprocal(triples[:2], 2)
    assert recip.tolist() == [[0, 0, 1], [0, 0, 2], [1, 2, 0], [2, 2, 0]]
