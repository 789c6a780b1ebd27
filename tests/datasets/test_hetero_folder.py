"""Heterogeneous CSV folder: HeteroNodeDataset, load / save round trip, one test per error rule, CLI exit 2."""

import gzip

import numpy as np
import pytest
import torch

from graphscale.cli import main
from graphscale.datasets import HeteroNodeDataset, load, load_hetero_folder, load_synthetic_mag, save_hetero_folder
from graphscale.errors import DatasetError

PAPERS = "id,label,split,feat_0,feat_1\n0,1,train,0.5,1\n1,0,valid,0.25,2\n2,1,test,-1,3\n3,,,0,4\n"
AUTHORS = "id\n0\n1\n2\n"
WRITES = "src,dst\n0,0\n1,0\n1,2\n2,3\n"
CITES = "src,dst\n1,0\n2,1\n"


def _folder(tmp_path, papers=PAPERS, authors=AUTHORS, edges=None):
    folder = tmp_path / "toy"
    (folder / "nodes").mkdir(parents=True)
    (folder / "edges").mkdir()
    (folder / "nodes" / "paper.csv").write_text(papers)
    if authors is not None:
        (folder / "nodes" / "author.csv").write_text(authors)
    for name, text in (edges or {"author__writes__paper": WRITES, "paper__cites__paper": CITES}).items():
        (folder / "edges" / f"{name}.csv").write_text(text)
    return folder


def _equal(a: HeteroNodeDataset, b: HeteroNodeDataset) -> None:
    assert a.target == b.target and a.num_classes == b.num_classes
    assert a.graph.num_nodes_dict == b.graph.num_nodes_dict
    assert set(a.graph.canonical_etypes) == set(b.graph.canonical_etypes)
    for etype, rel in a.graph.relations():
        assert torch.equal(rel.src.long(), b.graph[etype].src.long()), etype
        assert torch.equal(rel.dst.long(), b.graph[etype].dst.long()), etype
    assert a.x.keys() == b.x.keys() and all(torch.equal(a.x[t], b.x[t]) for t in a.x)
    assert torch.equal(a.y, b.y)
    for m, n in zip(a.split(), b.split()):
        assert torch.equal(m, n)


def test_load_folder_reads_types_features_labels_split(tmp_path):
    data = load(_folder(tmp_path))
    assert isinstance(data, HeteroNodeDataset) and data.target == "paper" and data.num_classes == 2
    assert data.num_nodes == {"author": 3, "paper": 4}
    assert data.num_features == {"paper": 2}  # author has ids only: no features
    assert data.x["paper"].dtype == torch.float32
    assert torch.equal(data.x["paper"], torch.tensor([[0.5, 1], [0.25, 2], [-1, 3], [0, 4]]))
    assert data.y.tolist() == [1, 0, 1, -1]
    assert [m.tolist() for m in data.split()] == [[True, False, False, False], [False, True, False, False],
                                                  [False, False, True, False]]
    writes = data.graph[("author", "writes", "paper")]
    assert writes.src.tolist() == [0, 1, 1, 2] and writes.dst.tolist() == [0, 0, 2, 3]
    assert data.graph["cites"].num_edges == 2
    text = data.describe()
    assert "author__writes__paper" in text and "train 1 / val 1 / test 1" in text
    assert "HeteroNodeDataset('toy', target='paper'" in repr(data)


def test_id_column_in_any_order_and_no_id_column_and_gzip(tmp_path):
    shuffled = "label,id,f\nb,2,2.5\na,0,0.5\nb,1,1.5\n"
    folder = _folder(tmp_path, papers=shuffled, authors="label_free\n7\n8\n9\n",
                     edges={"author__writes__paper": "dst,src\n2,0\n"})
    with gzip.open(folder / "edges" / "paper__cites__paper.csv.gz", "wt") as handle:
        handle.write("src,dst\n0,1\n")
    data = load_hetero_folder(folder, seed=3)
    assert data.x["paper"][:, 0].tolist() == [0.5, 1.5, 2.5]
    assert data.y.tolist() == [0, 1, 1] and data.meta["classes"] == ["a", "b"]  # names: sorted
    assert data.num_features == {"author": 1, "paper": 1}  # no id column: row order; other columns are features
    assert data.x["author"][:, 0].tolist() == [7, 8, 9]
    writes = data.graph["writes"]
    assert writes.src.tolist() == [0] and writes.dst.tolist() == [2]  # column order from the header
    assert data.graph["cites"].num_edges == 1
    assert "random_split" in data.meta["split"] and int(sum(m.sum() for m in data.split())) == 3


def test_round_trip_synthetic_mag(tmp_path):
    data = load_synthetic_mag(num_papers=400, num_classes=6, num_features=5, seed=2)
    data.y[:7] = -1  # some unlabelled papers (left out of the split)
    for mask in data.split():
        mask[:7] = False
    folder = save_hetero_folder(data, tmp_path / "mag-copy")
    assert sorted(p.name for p in (folder / "edges").iterdir()) == [
        "author__affiliated_with__institution.csv", "author__writes__paper.csv", "paper__cites__paper.csv",
        "paper__has_topic__field_of_study.csv"]
    back = load(folder)
    _equal(data, back)
    with pytest.raises(DatasetError, match="expected a new folder"):
        save_hetero_folder(data, folder)
    assert not list(tmp_path.glob("*.tmp*"))


def test_to_moves_every_tensor():
    data = load_synthetic_mag(num_papers=200, num_classes=4, num_features=3)
    moved = data.to("cpu")
    assert moved.x["paper"].device.type == "cpu" and moved.graph.device.type == "cpu"
    assert moved.meta is data.meta


def _error(tmp_path, **kwargs) -> str:
    target = kwargs.pop("target", None)
    with pytest.raises(DatasetError) as info:
        load_hetero_folder(_folder(tmp_path, **kwargs), target=target)
    return str(info.value)


def test_error_node_id_out_of_range_in_edges(tmp_path):
    message = _error(tmp_path, edges={"author__writes__paper": "src,dst\n0,0\n1,2\n2,9\n"})
    assert message == "edges/author__writes__paper.csv line 4, column dst: expected a node id in [0, 4) of type " \
                      "paper, got '9'."


def test_error_non_integer_node_id_in_edges(tmp_path):
    message = _error(tmp_path, edges={"author__writes__paper": "src,dst\nx,0\n"})
    assert message.startswith("edges/author__writes__paper.csv line 2, column src: expected a node id in [0, 3) of "
                              "type author, got 'x'.")


def test_error_unknown_node_type_in_file_name(tmp_path):
    message = _error(tmp_path, edges={"author__writes__book": "src,dst\n0,0\n"})
    assert message.startswith("edges/author__writes__book.csv: expected node types among ['author', 'paper'] (files "
                              "in nodes/), got 'book'.")


@pytest.mark.parametrize("stem", ["author_writes_paper", "author__writes", "author____paper",
                                  "author___writes___paper"])
def test_error_malformed_edge_file_name(tmp_path, stem):
    message = _error(tmp_path, edges={stem: "src,dst\n0,0\n"})
    if stem == "author___writes___paper":  # OGB's triple underscore: parts '_writes', '_paper'
        assert "got '_paper'" in message
    else:
        assert message.startswith(f"edges/{stem}.csv: expected a file name <src>__<relation>__<dst>.csv")


def test_error_not_a_csv_file_in_edges(tmp_path):
    folder = _folder(tmp_path)
    (folder / "edges" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match=r"^edges/notes.txt: expected edge files named <name>.csv"):
        load_hetero_folder(folder)


def test_error_missing_label_column_on_target(tmp_path):
    message = _error(tmp_path, papers="id,f\n0,1\n1,2\n2,3\n3,4\n", target="paper")
    assert message == "nodes/paper.csv line 1: expected a label column on the target type 'paper', got 'id,f'. " \
                      "Add a label column (empty for unlabelled nodes)."
    message = _error(tmp_path / "b", papers="id,f\n0,1\n1,2\n2,3\n3,4\n")
    assert message.startswith("nodes/: expected a label column in exactly one node file (the target type), got none.")


def test_error_two_label_columns(tmp_path):
    message = _error(tmp_path, authors="id,label\n0,a\n1,b\n2,a\n")
    assert "got nodes/author.csv and nodes/paper.csv" in message


def test_error_non_numeric_feature(tmp_path):
    message = _error(tmp_path, papers=PAPERS.replace("0.25,2", "0.25,abc"))
    assert message == "nodes/paper.csv line 3, column feat_1: expected a number, got 'abc'."


def test_error_non_finite_feature(tmp_path):
    message = _error(tmp_path, papers=PAPERS.replace("0.25,2", "0.25,inf"))
    assert message.startswith("nodes/paper.csv line 3, column feat_1: expected a finite number, got 'inf'.")


@pytest.mark.parametrize("which", ["nodes", "edges"])
def test_error_empty_file(tmp_path, which):
    if which == "nodes":
        message = _error(tmp_path, authors="")
        assert message.startswith("nodes/author.csv line 1: expected a header 'id,label,split,<feature columns...>', "
                                  "got an empty file.")
    else:
        message = _error(tmp_path, edges={"paper__cites__paper": ""})
        assert message.startswith("edges/paper__cites__paper.csv line 1: expected a header 'src,dst', got an empty "
                                  "file.")


def test_error_header_only_node_file(tmp_path):
    message = _error(tmp_path, authors="id\n")
    assert message.startswith("nodes/author.csv: expected at least one node row under the header, got none.")


def test_error_bad_node_ids(tmp_path):
    assert _error(tmp_path, authors="id\n0\n5\n1\n") == (
        "nodes/author.csv line 3, column id: expected an integer id in [0, 3) (ids 0..n-1 of the 3 author rows), "
        "got '5'.")
    assert _error(tmp_path / "b", authors="id\n0\n1\n1\n").startswith(
        "nodes/author.csv line 4, column id: expected each node once, got '1' again.")


def test_error_edge_file_columns_and_width(tmp_path):
    assert _error(tmp_path, edges={"paper__cites__paper": "src,dst,weight\n0,1,1\n"}).startswith(
        "edges/paper__cites__paper.csv line 1: expected the columns src,dst, got 'src,dst,weight'.")
    assert _error(tmp_path / "b", edges={"paper__cites__paper": "src,dst\n0,1\n1\n"}).startswith(
        "edges/paper__cites__paper.csv line 3: expected 2 fields (src,dst), got 1")
    assert _error(tmp_path / "c", edges={"paper__cites__paper": "from,to\n0,1\n"}).startswith(
        "edges/paper__cites__paper.csv line 1: expected a header 'src,dst', got 'from,to' (missing ['src', 'dst']).")


def test_error_split_without_label_and_bad_split(tmp_path):
    assert _error(tmp_path, papers=PAPERS.replace("3,,,0,4", "3,,train,0,4")).startswith(
        "nodes/paper.csv line 5, column label: expected a label for a node in split 'train', got ''.")
    assert _error(tmp_path / "b", papers=PAPERS.replace("valid", "holdout")).startswith(
        "nodes/paper.csv line 3, column split: expected train, val, test or empty, got 'holdout'.")


def test_train_cli_exits_2_with_one_line(tmp_path, capsys):
    folder = _folder(tmp_path, edges={"author__writes__paper": "src,dst\n0,0\n1,2\n2,9\n"})
    code = main(["train", "--dataset", str(folder), "--out", str(tmp_path / "out"), "--no-progress",
                 "train.epochs=1"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "edges/author__writes__paper.csv line 4, column dst: expected a node id in [0, 4) " \
                               "of type paper, got '9'." in lines[0], err


def test_labels_are_class_ids_when_integers(tmp_path):
    data = load_hetero_folder(_folder(tmp_path, papers=PAPERS.replace("2,1,test", "2,5,test")))
    assert data.num_classes == 6 and data.y.tolist() == [1, 0, 5, -1]
    assert np.array_equal(data.split()[2].numpy(), [False, False, True, False])


def test_save_rejects_names_that_break_file_names(tmp_path):
    data = load_synthetic_mag(num_papers=200, num_classes=4, num_features=3)
    data.graph = data.graph.add_reverse(prefix="rev__")
    with pytest.raises(DatasetError, match="expected node type and relation names without '__'"):
        save_hetero_folder(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_train_cli_trains_rgcn_on_a_folder(tmp_path, capsys):
    import json

    folder = save_hetero_folder(load_synthetic_mag(num_papers=300, num_classes=4, num_features=8), tmp_path / "m")
    code = main(["train", "--dataset", str(folder), "--model", "rgcn", "--epochs", "2", "--out",
                 str(tmp_path / "out"), "--no-progress", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["target"] == "paper" and summary["num_nodes"]["paper"] == 300 and summary["num_classes"] == 4
