"""io.py: compressed files, data root, restricted unpickler, fetch, require_files."""

from __future__ import annotations

import collections
import gzip
import lzma
import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from graphscale.datasets import io
from graphscale.errors import DatasetError


@pytest.mark.parametrize("suffix, opener", [("", open), (".gz", gzip.open), (".xz", lzma.open)])
def test_open_text_reads_compressed_files_and_crlf(tmp_path, suffix, opener):
    path = tmp_path / f"edges.txt{suffix}"
    with opener(path, "wb") as handle:
        handle.write(b"a\tb\r\n1\t2\r\n")
    assert io.resolve(tmp_path, "edges.txt") == path
    with io.open_text(path) as handle:
        assert handle.read() == "a\tb\n1\t2\n"
    with io.open_binary(path) as handle:
        assert handle.read() == b"a\tb\r\n1\t2\r\n"


def test_resolve_prefers_plain_file_and_misses(tmp_path):
    (tmp_path / "x.csv").write_text("1")
    with lzma.open(tmp_path / "x.csv.xz", "wb") as handle:
        handle.write(b"2")
    assert io.resolve(tmp_path, "x.csv") == tmp_path / "x.csv"
    assert io.resolve(tmp_path, "y.csv") is None


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHSCALE_DATA", str(tmp_path / "env"))
    assert io.data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert io.data_root() == tmp_path / "env"
    monkeypatch.delenv("GRAPHSCALE_DATA")
    assert io.data_root() == io.DEFAULT_ROOT.expanduser()


def test_restricted_unpickler_loads_planetoid_objects(tmp_path):
    graph = collections.defaultdict(list, {0: [1, 2], 2: [0]})
    matrix = sp.csr_matrix(np.array([[0, 1.5], [2.0, 0]], dtype=np.float32))
    labels = np.eye(3, dtype=np.int32)
    for name, obj in (("g", graph), ("m", matrix), ("y", labels)):
        # Protocol 4: Python 3's protocol 2 stores bytes via _codecs.encode, which the whitelist rejects.
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=4))
    assert io.load_pickle(tmp_path / "g") == graph
    assert (io.load_pickle(tmp_path / "m").toarray() == matrix.toarray()).all()
    assert (io.load_pickle(tmp_path / "y") == labels).all()


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("payload, culprit", [
    (_Exploit(), f"{os.system.__module__}.system"),
    (collections.OrderedDict(a=1), "collections.OrderedDict"),  # a collections class outside the whitelist
])
def test_restricted_unpickler_refuses_other_globals(tmp_path, payload, culprit):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DatasetError) as info:
        io.load_pickle(path)
    assert str(info.value).startswith("evil.pkl: expected only numpy/scipy/collections objects")
    assert f"'{culprit}'" in str(info.value)


def test_restricted_unpickler_refuses_builtins_eval(tmp_path):
    # GLOBAL builtins.eval + REDUCE, written by hand (protocol 0 opcodes).
    path = tmp_path / "eval.pkl"
    path.write_bytes(b"c__builtin__\neval\n(S'1+1'\ntR.")
    with pytest.raises(DatasetError, match="'__builtin__.eval'"):
        io.load_pickle(path)


def test_load_pickle_truncated_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps(np.arange(10), protocol=2)[:20])
    with pytest.raises(DatasetError, match="cut.pkl: expected a readable pickle"):
        io.load_pickle(path)


def test_fetch_file_url_is_atomic(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload" * 1000)
    dest = tmp_path / "out" / "copy.bin"
    assert io.fetch(source.as_uri(), dest) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]


def test_fetch_failure_names_file_url_and_destination(tmp_path):
    url = (tmp_path / "absent.bin").as_uri()
    dest = tmp_path / "out" / "absent.bin"
    with pytest.raises(DatasetError) as info:
        io.fetch(url, dest)
    message = str(info.value)
    assert "absent.bin" in message and url in message and str(dest) in message
    assert list(dest.parent.iterdir()) == []  # no half-written file


def test_require_files_missing_message_and_download(tmp_path):
    source = tmp_path / "remote.txt"
    source.write_text("42\n")
    folder = tmp_path / "ds"
    with pytest.raises(DatasetError, match=r"ds: expected file data.txt in .*Download it from file:"):
        io.require_files(folder, ["data.txt"], {"data.txt": source.as_uri()})
    found = io.require_files(folder, ["data.txt"], {"data.txt": source.as_uri()}, download=True)
    assert found["data.txt"].read_text() == "42\n"


def test_read_only_folder_is_never_written(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)  # honoured even when the tests run as root
    try:
        assert not io.is_writable_dir(folder) and not io.is_writable_dir(folder / "sub" / "deeper")
        source = tmp_path / "a.bin"
        source.write_bytes(b"1")
        with pytest.raises(DatasetError, match=r"fetch: expected a writable folder for a.bin.*Download file:"):
            io.fetch(source.as_uri(), folder / "a.bin")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
    assert io.is_writable_dir(folder)
