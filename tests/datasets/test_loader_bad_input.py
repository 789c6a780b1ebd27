"""Issue 25, loader side: bad input never trains silently.

Non-UTF-8 bytes, truncated or fake ``.gz`` / ``.xz`` files, NaN / inf features and weights, negative weights, a
header-only ``nodes.csv``, edges to nodes missing from ``nodes.csv``, edge-list header lines and Planetoid files
that disagree each raise one ``DatasetError`` naming the file, line and column (or the files and their shapes).
"""

from __future__ import annotations

import gzip
import lzma
import pickle
import shutil
import time

import numpy as np
import pytest
import scipy.sparse as sp

import graphscale.datasets as gd
from graphscale.cli import main
from graphscale.config import load as load_run_config
from graphscale.datasets import io
from graphscale.datasets.custom import load_custom
from graphscale.datasets.edgelist import load_edgelist
from graphscale.datasets.geomgcn import read_node_file, read_splits
from graphscale.datasets.mat import load_mat
from graphscale.datasets.parse import read_numbers
from graphscale.datasets.planetoid import load_planetoid
from graphscale.embed.config import load as load_embed_config
from graphscale.embed.run import load_graph_data
from graphscale.errors import ConfigError, DatasetError
from graphscale.train.run import load_dataset

RING = 30  # a labelled ring: every random split has labelled nodes


def _ring_folder(tmp_path, name="ring", edges_extra="", nodes_header="id,label,f1", nodes_override=None):
    folder = tmp_path / name
    folder.mkdir()
    edges = "src,dst\n" + "".join(f"n{i},n{(i + 1) % RING}\n" for i in range(RING)) + edges_extra
    rows = {i: f"n{i},{'ab'[i % 2]},{i / 10}" for i in range(RING)}
    rows.update(nodes_override or {})
    (folder / "edges.csv").write_text(edges)
    (folder / "nodes.csv").write_text(nodes_header + "\n" + "\n".join(rows.values()) + "\n")
    return folder


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        call(*args, **kwargs)
    return str(info.value)


# -- 1. non-UTF-8 text ---------------------------------------------------------------------------------------
def test_non_utf8_byte_names_file_line_and_column(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_bytes(b"src,dst\na,b\nbob,\xffd\nc,a\n")
    expected = "edges.csv line 3: expected UTF-8 text, got byte 0xff at column 5. Save the file as UTF-8."
    assert _error(io.read_text, path) == expected
    with io.open_text(path) as handle, pytest.raises(DatasetError) as info:
        list(handle)
    assert str(info.value) == expected
    assert _error(load_custom, tmp_path) == expected


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_non_utf8_line_counts_universal_newlines(tmp_path, newline):
    lines = [b"src dst", b"\xc3\xa9 b", b"b c", b"c \xe9t\xe9"]  # line 2 is valid UTF-8 (e-acute), 4 is Latin-1
    path = tmp_path / "g.txt"
    path.write_bytes(newline.join(lines) + newline)
    assert _error(load_edgelist, path) == ("g.txt line 4: expected UTF-8 text, got byte 0xe9 at column 3. "
                                           "Save the file as UTF-8.")


def test_non_utf8_in_compressed_and_truncated_sequence(tmp_path):
    path = tmp_path / "nodes.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"id,label\r\n" + b"".join(b"n%d,a\r\n" % i for i in range(5000)) + b"caf\xc3")
    assert _error(io.read_text, path) == ("nodes.csv.gz line 5002: expected UTF-8 text, got byte 0xc3 at column 4. "
                                          "Save the file as UTF-8.")


def test_utf8_bom_and_crlf_still_read(tmp_path):
    (tmp_path / "edges.csv").write_bytes(b"\xef\xbb\xbfsrc,dst\r\nal\xc3\xa9,bob\r\nbob,carol\r\n")
    data = load_custom(tmp_path)
    assert data.meta["node_ids"] == ["al\u00e9", "bob", "carol"]


# -- 2. truncated or fake compressed files ---------------------------------------------------------------------
def _edges_bytes(rows=20000) -> bytes:
    return ("src,dst\n" + "".join(f"{i},{i + 1}\n" for i in range(rows))).encode()


def test_truncated_gzip_names_the_file(tmp_path):
    (tmp_path / "edges.csv.gz").write_bytes(gzip.compress(_edges_bytes())[:4000])
    assert _error(load_custom, tmp_path) == (
        "edges.csv.gz: expected a gzip file, got a truncated or corrupt stream (EOFError: Compressed file ended "
        "before the end-of-stream marker was reached). Re-download or re-compress it.")


@pytest.mark.parametrize("name, payload, needle", [
    ("a.txt.gz", b"plain text, not gzip\n", "a.txt.gz: expected a gzip file, got a truncated or corrupt stream "
                                            "(BadGzipFile: Not a gzipped file"),
    ("a.txt.xz", b"plain text, not xz\n", "a.txt.xz: expected an xz file, got a truncated or corrupt stream "
                                          "(LZMAError: Input format not supported by decoder)"),
    ("a.txt.xz", lzma.compress(_edges_bytes())[:300], "a.txt.xz: expected an xz file, got a truncated or corrupt "
                                                      "stream (EOFError"),
], ids=["fake-gz", "fake-xz", "truncated-xz"])
def test_fake_or_truncated_compressed_text(tmp_path, name, payload, needle):
    path = tmp_path / name
    path.write_bytes(payload)
    assert needle in _error(io.read_text, path)
    with io.open_text(path) as handle, pytest.raises(DatasetError, match="Re-download or re-compress it"):
        for _ in handle:
            pass


def test_corrupt_gzip_member_and_crc(tmp_path):
    packed = gzip.compress(_edges_bytes())
    corrupt = tmp_path / "c.txt.gz"
    corrupt.write_bytes(packed[:30] + b"\x00" * 50 + packed[80:])
    assert "c.txt.gz: expected a gzip file, got a truncated or corrupt stream (error: Error -3" in _error(
        io.read_text, corrupt)
    bad_crc = tmp_path / "d.txt.gz"
    bad_crc.write_bytes(packed[:-8] + b"\0\0\0\0" + packed[-4:])
    assert "d.txt.gz: expected a gzip file, got a truncated or corrupt stream (BadGzipFile: CRC check failed" in (
        _error(io.read_text, bad_crc))


def test_binary_consumers_of_corrupt_compressed_files(tmp_path):
    fake = tmp_path / "ind.cora.x.xz"
    fake.write_bytes(b"not xz at all")
    assert _error(io.load_pickle, fake).startswith("ind.cora.x.xz: expected an xz file, got a truncated or corrupt")
    mat = tmp_path / "blog.mat.xz"
    mat.write_bytes(b"not xz at all")
    assert "blog.mat.xz: expected an xz file, got a truncated or corrupt stream" in _error(load_mat, mat)
    np.savez(tmp_path / "split.npz", train_mask=np.ones(4, np.uint8), val_mask=np.zeros(4, np.uint8),
             test_mask=np.zeros(4, np.uint8))
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes((tmp_path / "split.npz").read_bytes()[:200])
    assert _error(read_splits, [truncated], 4).startswith("cut.npz: expected an npz with uint8 train_mask, val_mask, "
                                                          "test_mask, got BadZipFile")


# -- 3. NaN / inf features -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_custom_non_finite_feature(tmp_path, value):
    folder = _ring_folder(tmp_path, nodes_override={3: f"n3,b,{value}"})
    assert _error(load_custom, folder) == (f"nodes.csv line 5, column f1: expected a finite number, got {value!r}. "
                                           "Replace it with a finite value (impute missing ones).")


def test_custom_feature_beyond_float32(tmp_path):
    folder = _ring_folder(tmp_path, nodes_override={0: "n0,a,1e39"})
    assert _error(load_custom, folder).startswith("nodes.csv line 2, column f1: expected a number within float32 "
                                                  "range (|x| <= 3.403e+38), got '1e39'.")


def test_geomgcn_non_finite_feature(tmp_path):
    path = tmp_path / "out1_node_feature_label.txt"
    path.write_text("node_id\tfeature\tlabel\n0\t1,0,0\t1\n1\t0,nan,1\t0\n")
    assert _error(read_node_file, path, 2, 3, False) == (
        "out1_node_feature_label.txt line 3, column feature: expected a finite number, got 'nan'. "
        "Replace the file with the published copy.")


def test_read_numbers_float_non_finite(tmp_path):
    path = tmp_path / "DS_node_attributes.txt"
    path.write_text("0.5, 1.0\n0.25, inf\n")
    assert _error(read_numbers, path, 2, np.float32) == (
        "DS_node_attributes.txt line 2, column 2: expected a finite number, got 'inf'. "
        "Replace it with a finite value (impute missing ones).")
    path.write_text("0.5, 1.0\n0.25, 2.0\n")
    assert read_numbers(path, 2, np.float32).shape == (2, 2)


# -- 4. weights ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weight", ["nan", "inf", "-1", "-0.5"])
def test_custom_bad_weight(tmp_path, weight):
    (tmp_path / "edges.csv").write_text(f"src,dst,weight\na,b,1\nb,c,2\nc,a,{weight}\n")
    assert _error(load_custom, tmp_path) == (
        f"edges.csv line 4, column weight: expected a finite number >= 0, got {weight!r}. GCN normalisation needs "
        "finite non-negative weights; fix the value or drop the edge.")


@pytest.mark.parametrize("weight", ["nan", "-inf", "-2"])
def test_edgelist_bad_weight(tmp_path, weight):
    path = tmp_path / "g.txt"
    path.write_text(f"1 2 0.5\n2 3 {weight}\n")
    assert _error(load_edgelist, path) == (f"g.txt line 2, column weight: expected a finite number >= 0, got "
                                           f"{weight!r}. Fix the weight or drop the edge.")


def test_zero_weights_still_load(tmp_path):
    (tmp_path / "edges.csv").write_text("src,dst,weight\na,b,0\nb,c,2.5\n")
    assert sorted(load_custom(tmp_path).edge_weight.tolist()) == [0.0, 0.0, 2.5, 2.5]


# -- 5. header-only nodes.csv ----------------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["id,label,f1", "id"])
def test_header_only_nodes_csv(tmp_path, header):
    (tmp_path / "edges.csv").write_text("src,dst\na,b\n")
    (tmp_path / "nodes.csv").write_text(header + "\n")
    assert _error(load_custom, tmp_path) == (f"nodes.csv: expected at least one node row under the header, got "
                                             f"none. Add one line per node under '{header}', or delete nodes.csv.")


# -- 6. edges to nodes missing from nodes.csv --------------------------------------------------------------------
UNKNOWN = ("edges.csv line 32, column dst: expected a node id listed in nodes.csv, got '999'. Add the node to "
           "nodes.csv, or set data.unknown_nodes=add to add such nodes (featureless, unlabelled).")


def test_unknown_nodes_error_by_default_and_add(tmp_path):
    folder = _ring_folder(tmp_path, edges_extra="n5,999\n")
    assert _error(load_custom, folder) == UNKNOWN
    assert _error(gd.load, folder) == UNKNOWN
    data = load_custom(folder, unknown_nodes="add")
    assert data.num_nodes == RING + 1 and data.meta["nodes_only_in_edges"] == 1
    assert data.y[-1] == -1 and float(data.x[-1].abs().sum()) == 0.0
    with pytest.raises(DatasetError, match="load_custom: expected unknown_nodes in error, add, got 'maybe'"):
        load_custom(folder, unknown_nodes="maybe")


def test_unknown_nodes_free_with_id_only_nodes_csv(tmp_path):
    (tmp_path / "edges.csv").write_text("src,dst\na,b\nb,zed\n")
    (tmp_path / "nodes.csv").write_text("id\na\nb\n")
    data = load_custom(tmp_path)
    assert data.meta["node_ids"] == ["a", "b", "zed"] and data.meta["nodes_only_in_edges"] == 1


def test_unknown_nodes_config_key(tmp_path):
    from graphscale.datasets.registry import custom_folder

    folder = _ring_folder(tmp_path, edges_extra="n5,999\n")
    assert custom_folder(str(folder)) == folder and custom_folder("cora") is None
    cfg = load_run_config(overrides=[f"data.dataset={folder}"])
    assert cfg.data.unknown_nodes == "error"
    assert _error(load_dataset, cfg) == UNKNOWN
    cfg = load_run_config(overrides=[f"data.dataset={folder}", "data.unknown_nodes=ADD"])
    assert cfg.data.unknown_nodes == "add" and load_dataset(cfg).num_nodes == RING + 1
    with pytest.raises(ConfigError, match="data.unknown_nodes: expected one of 'error', 'add', got 'maybe'"):
        load_run_config(overrides=["data.unknown_nodes=maybe"])
    # a registry dataset ignores the key (its loader takes no unknown_nodes option)
    synthetic = load_dataset(load_run_config(overrides=["data.dataset=synthetic", "data.unknown_nodes=add"]))
    assert synthetic.num_nodes > 0
    embed = load_embed_config(overrides=[f"data.dataset={folder}"])
    assert _error(load_graph_data, embed) == UNKNOWN
    embed = load_embed_config(overrides=[f"data.dataset={folder}", "data.unknown_nodes=add"])
    assert load_graph_data(embed).num_nodes == RING + 1
    with pytest.raises(ConfigError, match="data.unknown_nodes: expected one of 'error', 'add', got 'x'"):
        load_embed_config(overrides=["data.unknown_nodes=x"])


# -- CLI: one stderr line, exit code 2 -------------------------------------------------------------------------
@pytest.mark.parametrize("case, needle", [
    ("nan", "nodes.csv line 5, column f1: expected a finite number, got 'nan'."),
    ("unknown", UNKNOWN),
    ("latin1", "nodes.csv line 3: expected UTF-8 text, got byte 0xe9 at column 7."),
], ids=["nan", "unknown", "latin1"])
def test_train_cli_exits_2_with_one_line(tmp_path, capsys, case, needle):
    folder = _ring_folder(tmp_path, edges_extra="n5,999\n" if case == "unknown" else "")
    nodes = (folder / "nodes.csv").read_text()
    if case == "nan":
        (folder / "nodes.csv").write_text(nodes.replace("n3,b,0.3", "n3,b,nan"))
    if case == "latin1":
        (folder / "nodes.csv").write_bytes(nodes.replace("n1,b,0.1", "n1,caf\u00e9,0.1").encode("latin-1"))
    code = main(["train", "--dataset", str(folder), "--out", str(tmp_path / "out"), "--no-progress",
                 "train.epochs=2"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphscale: error: ") and needle in lines[0], err
    assert "Traceback" not in err


def test_train_cli_trains_with_unknown_nodes_add(tmp_path, capsys):
    folder = _ring_folder(tmp_path, edges_extra="n5,999\n")
    code = main(["train", "--dataset", str(folder), "--out", str(tmp_path / "out"), "--no-progress",
                 "train.epochs=2", "data.unknown_nodes=add"])
    assert code == 0, capsys.readouterr().err


# -- 7. edge-list header lines ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, header", [
    ("src dst\n1 2\n2 3\n", "src dst"),
    ("Source\tTarget\n1\t2\n2\t3\n", "Source Target"),
    ("from to\na b\nb c\n", "from to"),
    ("node1 node2\n1 2\n2 3\n", "node1 node2"),
    ("u v\n1 2\n2 3\n", "u v"),
    ("id_1 id_2\n1 2\n2 3\n", "id_1 id_2"),
    ("# a comment\nalice bob\n1 2\n2 3\n", "alice bob"),  # names over numbers
    ("src dst weight\n1 2 0.5\n2 3 1.5\n", "src dst weight"),
    ("a b w\nx y 1.0\ny z 2.0\n", "a b w"),  # third field not a number over a number
])
def test_edgelist_header_is_skipped(tmp_path, text, header):
    path = tmp_path / "g.txt"
    path.write_text(text)
    data = load_edgelist(path)
    assert data.meta["header"] == header and data.num_nodes == 3, data.meta["node_ids"]


@pytest.mark.parametrize("text, num_nodes", [("a b\nb c\nc a\n", 3), ("1 2\n2 3\n", 3), ("alice bob\n", 2),
                                             ("a b 1\nb c 2\n", 3), ("x y\nz 1\n", 4)])
def test_edgelist_without_header(tmp_path, text, num_nodes):
    path = tmp_path / "g.txt"
    path.write_text(text)
    data = load_edgelist(path)
    assert "header" not in data.meta and data.num_nodes == num_nodes


# -- 8. Planetoid files that disagree -------------------------------------------------------------------------
@pytest.fixture
def cora_copy(tmp_path, data_root, require_dataset):
    require_dataset("cora")
    folder = tmp_path / "planetoid"
    folder.mkdir()
    for path in (data_root / "planetoid").glob("ind.cora.*"):
        shutil.copy(path, folder / path.name)
    return folder


def _replace(folder, part, obj):
    (folder / f"ind.cora.{part}").write_bytes(pickle.dumps(obj, protocol=4))


def _pickle(folder, part):
    return io.load_pickle(folder / f"ind.cora.{part}")


def test_planetoid_copy_loads(cora_copy):
    assert load_planetoid("cora", cora_copy.parent).num_nodes == 2708


def test_planetoid_y_replaced_by_ty(cora_copy):
    shutil.copy(cora_copy / "ind.cora.ty", cora_copy / "ind.cora.y")
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.x, ind.cora.y: expected one label row per training feature row, got x (140, 1433) and "
        "y (1000, 7). Replace the files with the published copies.")


def test_planetoid_ally_rows(cora_copy):
    shutil.copy(cora_copy / "ind.cora.ty", cora_copy / "ind.cora.ally")
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.allx, ind.cora.ally: expected one label row per feature row, got allx (1708, 1433) and "
        "ally (1000, 7). Replace the files with the published copies.")


def test_planetoid_tx_rows(cora_copy):
    _replace(cora_copy, "tx", _pickle(cora_copy, "tx")[:999])
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.tx, ind.cora.ty, ind.cora.test.index: expected one tx and one ty row per test id (1000 ids), got "
        "tx (999, 1433) and ty (1000, 7). Replace the files with the published copies.")


def test_planetoid_feature_and_label_widths(cora_copy):
    _replace(cora_copy, "tx", sp.csr_matrix(_pickle(cora_copy, "tx"))[:, :1000])
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.x, ind.cora.tx, ind.cora.allx: expected the same number of feature columns, got x (140, 1433) and "
        "tx (1000, 1000) and allx (1708, 1433). Replace the files with the published copies.")
    _replace(cora_copy, "tx", _pickle(cora_copy, "allx")[:1000])  # right shape again
    _replace(cora_copy, "ty", np.asarray(_pickle(cora_copy, "ty"))[:, :6])
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.y, ind.cora.ty, ind.cora.ally: expected the same number of label columns (classes), got y (140, 7) "
        "and ty (1000, 6) and ally (1708, 7). Replace the files with the published copies.")


def test_planetoid_huge_test_id_fails_before_allocating(cora_copy):
    path = cora_copy / "ind.cora.test.index"
    lines = path.read_text().split()
    lines[4] = str(10**12)
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.test.index: expected test ids in [1708, 2708) (from the allx rows allx (1708, 1433) to the 2708 "
        "nodes of ind.cora.graph), got 1000000000000. Replace the files with the published copies.")
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("content, message", [
    ("", "ind.cora.test.index: expected one integer node id per line, got an empty file. Replace the file with the "
         "published copy."),
    ("2000\n1708\n2000\n", "ind.cora.test.index line 3: expected each test id once, got 2000 again (first on line "
                           "1). Replace the file with the published copy."),
    ("2000\n17o8\n", "ind.cora.test.index line 2: expected an integer node id, got '17o8'. Replace the file with the "
                     "published copy."),
])
def test_planetoid_bad_test_index(cora_copy, content, message):
    (cora_copy / "ind.cora.test.index").write_text(content)
    assert _error(load_planetoid, "cora", cora_copy.parent) == message


def test_planetoid_graph_ids_out_of_range(cora_copy):
    graph = _pickle(cora_copy, "graph")
    graph[5] = [*graph[5], 10**12]
    _replace(cora_copy, "graph", graph)
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.graph: expected a key for every node 0..1000000000000 (the largest id listed), got 2708 keys. "
        "Replace the file with the published copy.")
    graph[5] = graph[5][:-1]
    graph[2708] = [0]  # one node past the test id range
    _replace(cora_copy, "graph", graph)
    assert _error(load_planetoid, "cora", cora_copy.parent) == (
        "ind.cora.graph, ind.cora.test.index: expected graph node ids in [0, 2708) (allx rows plus the test id "
        "range), got ids up to 2708. Replace the files with the published copies.")
