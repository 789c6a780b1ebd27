"""Reading partition folders written by :func:`graphscale.distributed.partition.write_partitions`, checked.

Every read goes through the manifest: a missing or unreadable ``manifest.json``, another format, a missing
file, or a file whose size, checksum, shape or dtype differs from its manifest entry is a
:class:`~graphscale.errors.DatasetError` naming the file and what was expected (a folder modified or copied
in part, or parts of two different partitionings mixed). Arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from .partition import FORMAT, MANIFEST, sha256_of

REQUIRED = ("format", "num_nodes", "num_edges", "num_features", "num_classes", "num_parts", "files")
FIX = "Re-run graphscale partition into a new folder."


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked ``manifest.json`` of a partition folder.

    Raises:
        DatasetError: No manifest (not a partition folder, or an interrupted write), invalid JSON, another
            format or a missing key.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{path}: expected the manifest of a partition folder, got no such file (a folder "
                           f"graphscale partition did not finish writing, or another folder). {FIX}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: expected JSON, got an unreadable file ({err}). {FIX}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise DatasetError(f"{path}: expected format {FORMAT!r}, got {got!r}. {FIX}")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise DatasetError(f"{path}: expected the keys {', '.join(REQUIRED)}, got none for {', '.join(missing)}. "
                           f"{FIX}")
    return manifest


def _load(path: Path, entry: dict[str, Any], verify: bool) -> np.ndarray:
    """The array at ``path``, checked against its manifest ``entry``."""
    if not path.is_file():
        raise DatasetError(f"{path}: expected a file the manifest lists, got no such file. {FIX}")
    if verify:
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise DatasetError(f"{path}: expected {entry['bytes']} bytes (the manifest's), got {size}: the file was "
                               f"changed or copied in part. {FIX}")
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            raise DatasetError(f"{path}: expected sha256 {entry['sha256'][:16]}... (the manifest's), got "
                               f"{digest[:16]}...: the file was changed, or comes from another partitioning. {FIX}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: expected a .npy array, got an unreadable file ({err}). {FIX}") from None
    if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
        raise DatasetError(f"{path}: expected {entry['dtype']} of shape {entry['shape']} (the manifest's), got "
                           f"{array.dtype} of shape {list(array.shape)}. {FIX}")
    return array


@dataclass
class PartitionBook:
    """Global node id <-> (part, local id).

    Shapes:
        node_part: ``[N]`` int64; node_local: ``[N]`` int64; owner(ids) ``[B]`` -> ``([B], [B])``.
    """

    node_part: Tensor
    node_local: Tensor
    num_parts: int

    def owner(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """``(part, local id)`` of global ``ids``."""
        ids = ids.long()
        return self.node_part[ids], self.node_local[ids]

    def part_sizes(self) -> Tensor:
        return torch.bincount(self.node_part, minlength=self.num_parts)


def load_book(folder: str | os.PathLike[str], verify: bool = True) -> PartitionBook:
    """The partition book of a folder (checked against its manifest)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    book = manifest["files"]["book"]
    part = _load(folder / "node_part.npy", book["node_part.npy"], verify)
    local = _load(folder / "node_local.npy", book["node_local.npy"], verify)
    return PartitionBook(torch.from_numpy(part.astype(np.int64)), torch.from_numpy(local), manifest["num_parts"])


@dataclass
class Partition:
    """One part as a rank holds it (see :mod:`.partition` for each array's meaning).

    Shapes:
        nodes: ``[N_k]`` int64 owned global ids; indptr ``[N_k + 1]``, indices ``[E_k]`` (global source ids),
        edge_ids ``[E_k]``; halo ``[H_k]``; out_degree ``[N_k]`` (full graph); x ``[N_k, F]``; y ``[N_k]`` (or ``[N_k, C]``); masks ``[N_k]`` or
        ``[N_k, S]`` bool, or None.
    """

    part: int
    manifest: dict[str, Any]
    nodes: Tensor
    indptr: Tensor
    indices: Tensor
    edge_ids: Tensor
    halo: Tensor
    out_degree: Tensor
    x: Tensor
    y: Tensor
    train_mask: Tensor | None
    val_mask: Tensor | None
    test_mask: Tensor | None
    edge_weight: Tensor | None

    @property
    def num_parts(self) -> int:
        return int(self.manifest["num_parts"])


def load_partition(folder: str | os.PathLike[str], part: int, verify: bool = True) -> Partition:
    """Part ``part`` of a partition folder, every file checked against the manifest.

    Raises:
        DatasetError: A part the folder does not have, or a file that does not match (named).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if not 0 <= part < manifest["num_parts"]:
        raise DatasetError(f"{folder / MANIFEST}: expected a partitioning with part {part} (one part per rank), got "
                           f"{manifest['num_parts']} parts. Partition into as many parts as ranks.")
    entries = manifest["files"]["parts"][part]
    arrays = {name[:-4]: torch.from_numpy(_load(folder / f"part{part}" / name, entry, verify))
              for name, entry in entries.items()}
    return Partition(part, manifest, arrays["nodes"], arrays["indptr"], arrays["indices"], arrays["edge_ids"],
                     arrays["halo"], arrays["out_degree"], arrays["x"], arrays["y"], arrays.get("train_mask"), arrays.get("val_mask"),
                     arrays.get("test_mask"), arrays.get("edge_weight"))


__all__ = ["Partition", "PartitionBook", "load_book", "load_partition", "read_manifest"]
