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
    # the published protocol (RotatE / KBC reference code, entities.dict of every entity) scores valid / test
    # triples whose entity never occurs in train with its untrained id: kept and counted, not an error
    assert data.unseen_kept == {"fb15k-237": {"valid": 9, "test": 28}, "wn18rr": {"valid": 210, "test": 210}}[name]
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


def _folder(tmp_path, train, valid, test, dicts=None):
    folder = tmp_path / "kg"
    folder.mkdir(exist_ok=True)
    for name, text in (("train.txt", train), ("valid.txt", valid), ("test.txt", test), *(dicts or {}).items()):
        (folder / name).write_text(text)
    return folder


TRAIN = "a\tr\tb\nb\tr\tc\nc\ts\ta\n"


@pytest.mark.parametrize("test", ["", "\n  \n\r\n"])
def test_empty_test_file_is_an_error_and_an_empty_valid_file_is_fine(tmp_path, test):
    folder = _folder(tmp_path, TRAIN, "", test)
    with pytest.raises(DatasetError, match=r"^test.txt: expected at least one test triple, got an empty file\. "):
        load_folder(folder)
    (folder / "test.txt").write_text("a\tr\tc\n")
    data = load_folder(folder)
    assert data.valid.shape == (0, 3) and data.test.tolist() == [[0, 0, 2]]


def test_valid_or_test_names_not_in_train_are_an_error_by_default(tmp_path):
    folder = _folder(tmp_path, TRAIN, "a\tr\tc\n", "a\tr\tc\n" * 11 + "a\tr\tx\n")  # ids grown from the files
    with pytest.raises(DatasetError) as error:
        load_folder(folder)
    assert str(error.value) == (
        "test.txt line 12, field tail: expected an entity seen in train.txt, got 'x'. Remove the triple, or set "
        "data.unseen=skip to drop such triples (counted in the summary) or data.unseen=keep to score them with "
        "untrained embeddings.")
    with pytest.raises(DatasetError, match="test.txt line 12, field tail"):
        load_kg(str(folder))  # a folder: error unless data.unseen says otherwise
    (folder / "valid.txt").write_text("a\tr\tc\n\nb\tq\tc\n")
    with pytest.raises(DatasetError, match="^valid.txt line 3, field relation: expected a relation seen in train.txt, "
                                           "got 'q'"):
        load_folder(folder)
    # entities.dict lists y, but no training triple has it: its embedding would never be trained
    dicts = {"entities.dict": "0\ta\n1\tb\n2\tc\n3\ty\n", "relations.dict": "0\tr\n1\ts\n"}
    folder = _folder(tmp_path, TRAIN, "a\tr\tc\n", "a\tr\tc\ny\ts\tb\n", dicts)
    with pytest.raises(DatasetError, match="^test.txt line 2, field head: expected an entity seen in train.txt, "
                                           "got 'y'"):
        load_folder(folder)


def test_unseen_skip_drops_and_counts_keep_scores_untrained_ids(tmp_path):
    folder = _folder(tmp_path, TRAIN, "a\tq\tc\nb\tr\tc\n", "x\tr\ta\na\tr\tc\nc\tr\tx\n")
    skipped = load_folder(folder, unseen="skip")
    assert skipped.skipped == {"valid": 1, "test": 2} and skipped.unseen_kept == {"valid": 0, "test": 0}
    assert skipped.valid.tolist() == [[1, 0, 2]] and skipped.test.tolist() == [[0, 0, 2]]
    assert skipped.entity_names == ["a", "b", "c"] and skipped.relation_names == ["r", "s"]  # no untrained ids
    kept = load_kg(str(folder), unseen="keep")
    assert kept.skipped == {"valid": 0, "test": 0} and kept.unseen_kept == {"valid": 1, "test": 2}
    assert kept.entity_names == ["a", "b", "c", "x"] and kept.relation_names == ["r", "s", "q"]
    assert kept.test.tolist() == [[3, 0, 0], [0, 0, 2], [2, 0, 3]]
    (folder / "test.txt").write_text("x\tr\ta\n")
    with pytest.raises(DatasetError, match=r"^test.txt: expected at least one test triple whose entities and relation "
                                           r"occur in train.txt, got none \(data.unseen=skip dropped all 1\)"):
        load_folder(folder, unseen="skip")


def test_published_wn18rr_skips_or_rejects_its_test_entities_unseen_in_train_on_request(data_root):
    if not (data_root / PUBLISHED["wn18rr"]["folder"]).is_dir():
        pytest.skip(f"wn18rr not in {data_root}")
    skipped = load_kg("wn18rr", unseen="skip")
    assert skipped.skipped == {"valid": 210, "test": 210} and skipped.test.shape[0] == 3134 - 210
    assert skipped.num_entities == 40943  # entities.dict: the ids stay, only the triples go
    with pytest.raises(DatasetError, match="^valid.txt line 32, field head: expected an entity seen in train.txt.xz, "
                                           "got '03608870'"):
        load_kg("wn18rr", unseen="error")
