"""ogbn-mag from OGB's on-disk layout, on a tiny fake ``mag/`` folder written here in that exact layout."""

import gzip

import numpy as np
import pytest
import torch

from graphscale.datasets import OGB_MAG_URL, available, load, load_ogb_mag
from graphscale.errors import DatasetError

COUNTS = {"author": 5, "field_of_study": 3, "institution": 2, "paper": 6}
EDGES = {
    ("author", "affiliated_with", "institution"): [(0, 0), (1, 1), (4, 0)],
    ("author", "writes", "paper"): [(0, 0), (1, 0), (2, 1), (3, 2), (4, 5), (0, 3)],
    ("paper", "cites", "paper"): [(1, 0), (2, 0), (5, 4)],
    ("paper", "has_topic", "field_of_study"): [(0, 0), (1, 2), (2, 1), (3, 0), (4, 1), (5, 2)],
}
LABELS = [3, 0, 348, 7, 3, 1]
SPLIT = {"train": [0, 1, 2, 3], "valid": [4], "test": [5]}


def _gz(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        handle.write(text)


def _rows(values):
    return "".join(",".join(str(v) for v in row) + "\n" for row in values)


def write_mag(base, edges=EDGES):
    """The layout of OGB's mag.zip (read_csv_heterograph_raw / read_node_label_hetero / split reading)."""
    mag = base / "mag"
    raw = mag / "raw"
    _gz(raw / "num-node-dict.csv.gz", ",".join(COUNTS) + "\n" + ",".join(str(n) for n in COUNTS.values()) + "\n")
    _gz(raw / "triplet-type-list.csv.gz", _rows(edges))
    for etype, pairs in edges.items():
        sub = raw / "relations" / "___".join(etype)
        _gz(sub / "edge.csv.gz", _rows(pairs))
        _gz(sub / "num-edge-list.csv.gz", f"{len(pairs)}\n")
        _gz(sub / "edge_reltype.csv.gz", _rows([[list(edges).index(etype)]] * len(pairs)))
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((COUNTS["paper"], 128)).astype(np.float32)
    _gz(raw / "node-feat" / "paper" / "node-feat.csv.gz", _rows([[repr(float(v)) for v in row] for row in feats]))
    _gz(raw / "node-feat" / "paper" / "node_year.csv.gz", _rows([[y] for y in (2015, 2016, 2017, 2017, 2018, 2019)]))
    _gz(raw / "nodetype-has-label.csv.gz", ",".join(COUNTS) + "\nFalse,False,False,True\n")
    _gz(raw / "node-label" / "paper" / "node-label.csv.gz", _rows([[v] for v in LABELS]))
    _gz(mag / "split" / "time" / "nodetype-has-split.csv.gz", ",".join(COUNTS) + "\nFalse,False,False,True\n")
    for part, ids in SPLIT.items():
        _gz(mag / "split" / "time" / "paper" / f"{part}.csv.gz", _rows([[i] for i in ids]))
    return mag, feats


def test_load_ogb_mag_layout(tmp_path):
    mag, feats = write_mag(tmp_path)
    data = load_ogb_mag(tmp_path)  # the data root holding mag/
    assert data.name == "ogbn-mag" and data.target == "paper" and data.num_classes == 349
    assert data.num_nodes == COUNTS
    assert data.graph.canonical_etypes == tuple(EDGES)
    for etype, pairs in EDGES.items():
        rel = data.graph[etype]
        assert list(zip(rel.src.tolist(), rel.dst.tolist())) == pairs
    assert data.x.keys() == {"paper"} and data.x["paper"].dtype == torch.float32
    assert torch.equal(data.x["paper"], torch.from_numpy(feats))
    assert data.y.tolist() == LABELS and data.y.dtype == torch.int64
    for mask, part in zip(data.split(), ("train", "valid", "test")):
        assert mask.nonzero().view(-1).tolist() == SPLIT[part]
    assert data.meta["node_year"]["paper"].tolist() == [2015, 2016, 2017, 2017, 2018, 2019]
    assert load_ogb_mag(mag).num_nodes == COUNTS  # the mag/ folder itself


def test_add_reverse_and_registry(tmp_path):
    write_mag(tmp_path)
    data = load("ogbn-mag", root=tmp_path, add_reverse=True)
    assert ("paper", "rev_writes", "author") in data.graph.canonical_etypes
    assert ("paper", "rev_cites", "paper") in data.graph.canonical_etypes
    assert len(data.graph.canonical_etypes) == 8
    rev = data.graph[("field_of_study", "rev_has_topic", "paper")]
    assert rev.src.tolist() == [0, 2, 1, 0, 1, 2] and rev.dst.tolist() == [0, 1, 2, 3, 4, 5]
    row = next(r for r in available(tmp_path) if r["name"] == "ogbn-mag")
    assert row["found"] and row["task"] == "heterogeneous-node-classification"
    with pytest.raises(DatasetError, match=r"expected options among \['add_reverse', 'name'\], got \['seed'\]"):
        load("ogbn-mag", root=tmp_path, seed=1)


def test_missing_folder_names_the_url(tmp_path):
    with pytest.raises(DatasetError, match="get|Download") as info:
        load_ogb_mag(tmp_path)
    assert OGB_MAG_URL in str(info.value)
    row = next(r for r in available(tmp_path) if r["name"] == "ogbn-mag")
    assert not row["found"] and row["url"] == OGB_MAG_URL


def test_bad_id_names_file_line_and_column(tmp_path):
    edges = dict(EDGES)
    edges[("author", "writes", "paper")] = [(0, 0), (1, 6)]
    write_mag(tmp_path, edges)
    with pytest.raises(DatasetError) as info:
        load_ogb_mag(tmp_path)
    assert str(info.value).startswith("raw/relations/author___writes___paper/edge.csv.gz line 2, column 2: expected a "
                                      "node id in [0, 6) of type paper, got 6.")


def test_malformed_and_truncated_files(tmp_path):
    mag, _ = write_mag(tmp_path)
    sub = mag / "raw" / "relations" / "paper___cites___paper"
    _gz(sub / "edge.csv.gz", "1,0\n2,x\n")
    with pytest.raises(DatasetError) as info:
        load_ogb_mag(tmp_path)
    assert str(info.value).startswith("raw/relations/paper___cites___paper/edge.csv.gz line 2: expected 2 integers, "
                                      "got '2,x'.")
    _gz(sub / "edge.csv.gz", "1,0\n")
    with pytest.raises(DatasetError, match=r"expected 3 edges \(num-edge-list.csv.gz\), got 1"):
        load_ogb_mag(tmp_path)
    _gz(sub / "edge.csv.gz", _rows(EDGES[("paper", "cites", "paper")]))
    _gz(mag / "raw" / "node-label" / "paper" / "node-label.csv.gz", _rows([[v] for v in LABELS[:-1] + [349]]))
    with pytest.raises(DatasetError, match=r"expected 6 venue ids in \[0, 349\), got 6 values in \[0, 349\]"):
        load_ogb_mag(tmp_path)


def test_datasets_command_lists_both(tmp_path, capsys):
    from graphscale.cli import main

    assert main(["datasets", "--root", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "heterogeneous-node-classification" in lines["ogbn-mag"] and f"missing, get {OGB_MAG_URL}" in lines["ogbn-mag"]
    assert "heterogeneous-node-classification" in lines["synthetic-mag"] and "generated (seeded)" in lines["synthetic-mag"]
