"""Corrupt binary dataset files (.npz, .mat) end in a DatasetError naming the file, never a traceback."""

import numpy as np
import pytest

from graphscale.datasets.mat import load_mat
from graphscale.datasets.npz import read_npz
from graphscale.errors import DatasetError


def test_truncated_npz(tmp_path):
    p = tmp_path / "g.npz"
    np.savez_compressed(p, adj_data=np.ones(3), adj_indices=np.arange(3), adj_indptr=np.arange(4),
                        adj_shape=np.array([3, 3]), attr_matrix=np.ones((3, 2)), labels=np.arange(3))
    read_npz(p)
    data = p.read_bytes()
    for cut in (data[: len(data) // 2], b"", b"not a zip"):
        p.write_bytes(cut)
        with pytest.raises(DatasetError, match="g.npz: expected a gnn-benchmark .npz"):
            read_npz(p)

def test_corrupt_mat(tmp_path):
    import scipy.io
    import scipy.sparse as sp

    p = tmp_path / "g.mat"
    scipy.io.savemat(p, {"network": sp.csc_matrix(np.ones((30, 30))), "group": sp.csc_matrix(np.eye(30))},
                     do_compression=True)
    assert load_mat(p).num_nodes == 30
    data = p.read_bytes()
    flipped = data[:200] + bytes(b ^ 0x5A for b in data[200:260]) + data[260:]  # a corrupt compressed variable
    for bad in (data[: len(data) // 2], flipped):
        p.write_bytes(bad)
        with pytest.raises(DatasetError, match="g.mat: expected a MATLAB v5 .mat file"):
            load_mat(p)
