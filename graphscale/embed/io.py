"""Saving and loading embeddings: ``<name>.npy`` (``[N, D]`` float32) + ``<name>.nodes.txt`` (node id map)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import GraphscaleError
from ..train.checkpoint import write_text_atomic


def save_embeddings(embeddings: np.ndarray, folder: str | os.PathLike[str], node_ids: list[str] | None = None,
                    name: str = "embeddings") -> Path:
    """Write ``folder/<name>.npy`` atomically and, with ``node_ids``, ``folder/<name>.nodes.txt`` (row ``i`` of
    the array is the node on line ``i``). Returns the ``.npy`` path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npy"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp.npy", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.ascontiguousarray(embeddings, dtype=np.float32))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if node_ids is not None:
        if len(node_ids) != embeddings.shape[0]:
            raise GraphscaleError(f"save_embeddings: expected {embeddings.shape[0]} node ids (one per row), got "
                                  f"{len(node_ids)}.")
        write_text_atomic("".join(f"{node}\n" for node in node_ids), folder / f"{name}.nodes.txt")
    return path


def save_word2vec(embeddings: np.ndarray, node_ids: list[str], path: str | os.PathLike[str]) -> Path:
    """The word2vec text format (``N D`` then ``<node id> v_1 ... v_D`` per row; gensim's
    ``KeyedVectors.load_word2vec_format`` reads it), written atomically."""
    if len(node_ids) != embeddings.shape[0]:
        raise GraphscaleError(f"save_word2vec: expected {embeddings.shape[0]} node ids (one per row), got "
                              f"{len(node_ids)}.")
    bad = next((node for node in node_ids if not node or any(c.isspace() for c in node)), None)
    if bad is not None:
        raise GraphscaleError(f"save_word2vec: expected node ids without whitespace (the format separates fields "
                              f"by spaces), got {bad!r}.")
    rows = (f"{node} " + " ".join(f"{v:.6g}" for v in row) for node, row in zip(node_ids, embeddings.tolist(),
                                                                               strict=True))
    text = f"{embeddings.shape[0]} {embeddings.shape[1]}\n" + "\n".join(rows) + "\n"
    path = Path(path)
    write_text_atomic(text, path)
    return path


def save_labels(labels: np.ndarray, folder: str | os.PathLike[str], classes: list[str] | None = None) -> Path:
    """``folder/labels.npy`` (``[N]`` class ids, ``-1`` unlabelled, or ``[N, C]`` 0/1) and, with ``classes``,
    ``folder/classes.txt`` (class ``k``'s name on line ``k``): what ``graphscale visualize --run`` colours by."""
    folder = Path(folder)
    path = folder / "labels.npy"
    tmp = folder / ".labels.tmp.npy"
    np.save(tmp, np.asarray(labels))
    os.replace(tmp, path)
    if classes:
        write_text_atomic("".join(f"{name}\n" for name in classes), folder / "classes.txt")
    return path


def load_embeddings(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str] | None]:
    """``(embeddings [N, D], node ids or None)`` from a ``.npy`` written by :func:`save_embeddings`."""
    path = Path(path)
    if not path.is_file():
        raise GraphscaleError(f"load_embeddings: expected an existing .npy file, got '{path}'.")
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2:
        raise GraphscaleError(f"load_embeddings: expected a 2-D array [N, D] in '{path}', got shape {array.shape}.")
    ids_path = path.with_suffix(".nodes.txt")
    ids = ids_path.read_text(encoding="utf-8").splitlines() if ids_path.is_file() else None
    return array, ids
