"""MATLAB v5 ``.mat`` node-embedding benchmarks: BlogCatalog and PPI (Homo sapiens), as used by DeepWalk,
node2vec and GraphVite.

Each file holds ``network`` (``N x N`` sparse symmetric adjacency) and ``group`` (``N x C`` sparse 0/1 label
matrix). The loaders return a ``NodeDataset`` with the graph as stored (both directions of every edge; PPI's
894 self-loops kept, as in the published file), multi-label ``y`` of shape ``[N, C]`` (float32 0/1),
structural degree features ``x`` and no split (node-embedding evaluation draws its own random splits).
Edge weights other than 1 become ``edge_weight``.

Example:
    >>> from graphscale.datasets.mat import load_mat_named
    >>> blog = load_mat_named("blogcatalog")     # 10,312 nodes, 667,966 directed edges, 39 labels
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp
import torch

from ..errors import DatasetError
from ..graph import Graph
from .base import NodeDataset
from .io import data_root, open_binary, require_files
from .parse import structural_features


@dataclass(frozen=True)
class MatSpec:
    """One published ``.mat`` dataset: folder, file, canonical URL and citation."""

    folder: str
    file: str
    url: str
    citation: str


DEEPWALK_URL = "https://raw.githubusercontent.com/phanein/deepwalk/6e6dff245e4692e9bea47e9017c1034e51afbf29"
SPECS = {
    "blogcatalog": MatSpec("blogcatalog", "blogcatalog.mat", f"{DEEPWALK_URL}/example_graphs/blogcatalog.mat",
                           "Tang & Liu, Relational Learning via Latent Social Dimensions, KDD 2009"),
    "ppi": MatSpec("ppi-homo-sapiens", "Homo_sapiens.mat", "https://snap.stanford.edu/node2vec/Homo_sapiens.mat",
                   "Grover & Leskovec, node2vec, KDD 2016 (BioGRID + MSigDB hallmark labels)"),
}


def _sparse(data: dict, key: str, where: str, shape0: int | None = None) -> sp.csr_matrix:
    if key not in data:
        found = sorted(k for k in data if not k.startswith("__"))
        raise DatasetError(f"{where}: expected a variable {key!r} in the MAT file, got only {found}. "
                           "Use the published file (variables 'network' and 'group').")
    value = data[key]
    matrix = sp.csr_matrix(value) if sp.issparse(value) or isinstance(value, np.ndarray) else None
    if matrix is None or matrix.ndim != 2 or (shape0 is not None and matrix.shape[0] != shape0):
        shape = getattr(value, "shape", type(value).__name__)
        raise DatasetError(f"{where}: expected {key!r} as a 2-D matrix with {shape0 or 'N'} rows, got {shape}.")
    return matrix


def load_mat(path: str | os.PathLike[str], *, name: str | None = None, features: str = "degree") -> NodeDataset:
    """Load a ``.mat`` (or ``.mat.xz``) file with ``network`` and ``group`` as a multi-label NodeDataset.

    Args:
        path: The file.
        name: Dataset name (default: the file stem).
        features: Structural node features, ``"degree"`` or ``"ones"`` (the files carry none).

    Shapes:
        y: ``[N, C]`` float32 0/1; x: ``[N, F]`` float32; edge_weight: ``[E]`` float32 or None.
    """
    path = Path(path)
    where = path.name
    try:
        with open_binary(path) as handle:
            data = scipy.io.loadmat(io.BytesIO(handle.read()))
    except DatasetError:  # a corrupt .xz / .gz around it, already named
        raise
    except (OSError, ValueError, EOFError, NotImplementedError, zlib.error) as err:
        raise DatasetError(f"{where}: expected a MATLAB v5 .mat file, got unreadable data ({err}). "
                           "Check that the file is complete.") from None
    network = _sparse(data, "network", where)
    num_nodes = network.shape[0]
    if network.shape[1] != num_nodes:
        raise DatasetError(f"{where}: expected 'network' as a square N x N adjacency, got shape {network.shape}.")
    group = _sparse(data, "group", where, shape0=num_nodes)
    coo = network.tocoo()
    order = np.lexsort((coo.col, coo.row))
    src, dst, weight = coo.row[order], coo.col[order], coo.data[order].astype(np.float32)
    graph = Graph(torch.from_numpy(src.astype(np.int64)), torch.from_numpy(dst.astype(np.int64)), num_nodes)
    edge_weight = None if np.all(weight == 1.0) else torch.from_numpy(weight)
    y = torch.from_numpy((group.toarray() != 0).astype(np.float32))
    meta = {"file": str(path), "multi_label": True, "self_loops": int((src == dst).sum()),
            "symmetric": bool(abs(network - network.T).sum() == 0),
            "features": f"structural features={features!r} (the file has none)"}
    x = structural_features(graph, features, f"load_mat({where})")
    return NodeDataset(name=name or path.name.split(".")[0], graph=graph, x=x, y=y, num_classes=int(y.shape[1]),
                       edge_weight=edge_weight, meta=meta)


def load_mat_named(name: str, root: str | os.PathLike[str] | None = None, *, download: bool = False,
                   features: str = "degree") -> NodeDataset:
    """Load ``"blogcatalog"`` or ``"ppi"`` from ``<root>/<folder>/`` (``.xz`` variants read transparently)."""
    if name not in SPECS:
        raise DatasetError(f"load_mat_named: expected one of {sorted(SPECS)}, got {name!r}.")
    spec = SPECS[name]
    folder = data_root(root) / spec.folder
    path = require_files(folder, [spec.file], {spec.file: spec.url}, download=download, dataset=name)[spec.file]
    dataset = load_mat(path, name=name, features=features)
    dataset.meta["citation"] = spec.citation
    return dataset
