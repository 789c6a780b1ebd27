"""``graphscale visualize``: a LargeVis 2-D layout of embedding vectors, as a scatter plot coloured by label.

    graphscale visualize --embeddings runs/blog/embeddings.npy --labels labels.csv --out runs/blog/plot.png --json

Inputs:

* ``--embeddings X.npy``: ``[N, D]`` float array (``np.save``). When ``X.nodes.txt`` sits beside it (written by
  ``graphscale embed``: one node id per row), label files may name nodes by those ids.
* ``--labels`` (optional): ``.npy`` with ``[N]`` labels (integers or strings) or an ``[N, C]`` 0/1 multi-label
  matrix; or a text file (``.csv``/``.tsv``/``.txt``) with either ``node,label`` rows (node = row number, or an
  id from ``X.nodes.txt``; a first line that names no node is a header) or one label per line in row order
  (a first line ``label`` is a header). A point with several labels takes the first; points without one are
  drawn grey as "unlabelled".

Outputs, each under a name of its own so that a plot inside a run folder never replaces the run's files: the
PNG (``--out``), the ``[N, 2]`` float32 coordinates (``--coords``, default ``--out`` with ``.npy``), the
summary (``--out`` with ``.json``), and with ``--json`` one JSON object as the last stdout line:
kNN recall against exact neighbours (on ``--recall-queries`` sampled points), kNN preservation of the layout,
2-D label agreement, and the time of every step.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DatasetError

UNLABELLED = "unlabelled"
MAX_COLOURS = 20
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


def register(subparsers: Any) -> None:
    """Add the ``visualize`` sub-command to ``graphscale``'s parser."""
    parser = subparsers.add_parser(
        "visualize", help="2-D LargeVis layout of embeddings as a scatter plot coloured by label",
        description="Lay out embedding vectors in 2-D with LargeVis (kNN graph by random-projection trees + "
                    "neighbour exploring, then edge- and negative-sampling SGD) and plot them coloured by label.",
        epilog="Examples: graphscale visualize --run runs/embed-blogcatalog-deepwalk | graphscale visualize "
               "--embeddings runs/blog/embeddings.npy --labels labels.npy --out runs/blog/plot.png --json")
    parser.add_argument("--run", help="a graphscale embed run folder: its embeddings.npy, labels.npy and "
                                      "classes.txt; --out defaults to <run>/largevis.png")
    parser.add_argument("--embeddings", help="[N, D] float .npy file (default with --run: <run>/embeddings.npy)")
    parser.add_argument("--labels", help="labels: .npy ([N] or [N, C] 0/1) or .csv/.tsv/.txt (node,label or one per line)")
    parser.add_argument("--out", help="PNG file to write (default with --run: <run>/largevis.png)")
    parser.add_argument("--coords", help="where to save the [N, 2] coordinates (default: --out with .npy)")
    parser.add_argument("--overwrite", action="store_true", help="replace the plot, coordinates and summary when "
                                                                 "they exist")
    parser.add_argument("--perplexity", type=float, default=30.0, help="perplexity of the edge weights (30)")
    parser.add_argument("--neighbors", type=int, help="k of the kNN graph (default 3 * perplexity)")
    parser.add_argument("--trees", type=int, help="random-projection trees (default by size: 10 / 20 / 50)")
    parser.add_argument("--explore", type=int, default=1, help="neighbour-exploring rounds (1)")
    parser.add_argument("--samples", type=int, help="edge samples of the layout SGD (default 3000 per point)")
    parser.add_argument("--negatives", type=int, default=5, help="negative samples per edge sample (5)")
    parser.add_argument("--gamma", type=float, default=7.0, help="weight of the negative term (7)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--recall-queries", type=int, default=1000,
                        help="points sampled to measure kNN recall and preservation (0 skips them)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


# -- inputs ----------------------------------------------------------------------------------------------
def load_vectors(path: str | os.PathLike) -> np.ndarray:
    """``[N, D]`` float32 array from a ``.npy`` file, or a DatasetError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--embeddings: expected an existing .npy file, got '{path}'. "
                           "Write one with np.save or graphscale embed.")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DatasetError(f"--embeddings '{path}': expected a .npy array, got an unreadable file "
                           f"({' '.join(str(err).split())[:120]}). Save it with np.save(path, array).") from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or min(array.shape) < 1:
        shape = getattr(array, "shape", None)
        raise DatasetError(f"--embeddings '{path}': expected a 2-D array [N, D], got shape {shape}. "
                           "Save one row per node.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DatasetError(f"--embeddings '{path}': expected a numeric array, got dtype {array.dtype}. "
                           "Save the vectors as float32.")
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite)[0, 0])
        raise DatasetError(f"--embeddings '{path}': expected finite values, got NaN or inf in row {row}. "
                           "Repair or drop those rows.")
    return np.ascontiguousarray(array, dtype=np.float32)


def node_id_map(embeddings: str | os.PathLike, num_rows: int) -> dict[str, int] | None:
    """``{node id: row}`` from ``<stem>.nodes.txt`` beside the embeddings, if it exists and fits."""
    path = Path(embeddings).with_suffix(".nodes.txt")
    if not path.is_file():
        return None
    ids = path.read_text(encoding="utf-8").splitlines()
    if len(ids) != num_rows:
        raise DatasetError(f"'{path}': expected one node id per embedding row ({num_rows} lines), got {len(ids)}. "
                           "Write the id map together with the embeddings.")
    return {node.strip(): row for row, node in enumerate(ids)}


def _row_of(token: str, num_rows: int, ids: dict[str, int] | None) -> int | None:
    token = token.strip()
    if ids is not None and token in ids:
        return ids[token]
    try:
        row = int(token)
    except ValueError:
        return None
    return row if 0 <= row < num_rows else -1


def _labels_from_npy(path: Path, num_rows: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DatasetError(f"--labels '{path}': expected a .npy array, got an unreadable file "
                           f"({' '.join(str(err).split())[:120]}). Save it with np.save(path, labels).") from None
    if array.ndim not in (1, 2) or array.shape[0] != num_rows:
        raise DatasetError(f"--labels '{path}': expected {num_rows} rows (one per embedding, [N] or [N, C]), "
                           f"got shape {array.shape}. Save labels in the row order of the embeddings.")
    if array.ndim == 1:
        names = path.with_name("classes.txt")  # written by graphscale embed beside labels.npy
        classes = names.read_text(encoding="utf-8").splitlines() if names.is_file() else []
        integer = array.dtype.kind in "iu"
        return np.array([UNLABELLED if integer and v < 0 else classes[v] if integer and v < len(classes) else str(v)
                         for v in array.tolist()], dtype=object)
    if not np.isin(array, (0, 1)).all():
        raise DatasetError(f"--labels '{path}': expected a 0/1 multi-label matrix [N, C], got values other than "
                           "0 and 1. Pass [N] class ids or an indicator matrix.")
    has = array.any(axis=1)
    first = np.argmax(array != 0, axis=1)
    return np.array([str(c) if h else UNLABELLED for c, h in zip(first.tolist(), has.tolist())], dtype=object)


def _labels_from_text(path: Path, num_rows: int, ids: dict[str, int] | None) -> np.ndarray:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [(number, row) for number, row in enumerate(csv.reader(handle, delimiter=delimiter), 1)
                if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetError(f"--labels '{path}': expected labels, got an empty file. Write node,label rows.")
    width = len(rows[0][1])
    labels = np.full(num_rows, UNLABELLED, dtype=object)
    if width == 1:
        if rows[0][1][0].strip().lower() == "label":
            rows = rows[1:]
        if len(rows) != num_rows:
            raise DatasetError(f"--labels '{path}': expected one label per embedding row ({num_rows} lines), "
                               f"got {len(rows)}. Or write node,label rows.")
        for row_id, (_, row) in enumerate(rows):
            labels[row_id] = row[0].strip()
        return labels
    if _row_of(rows[0][1][0], num_rows, ids) is None:  # header
        rows = rows[1:]
    seen = np.zeros(num_rows, dtype=bool)
    for number, row in rows:
        if len(row) < 2 or not row[1].strip():
            raise DatasetError(f"--labels '{path}' line {number}: expected node,label, got {delimiter.join(row)!r}. "
                               "Give every node a label.")
        node = _row_of(row[0], num_rows, ids)
        if node is None or node < 0:
            known = "a row number in [0, N)" + (" or an id from the .nodes.txt map" if ids else "")
            raise DatasetError(f"--labels '{path}' line {number}, column node: expected {known} with "
                               f"N = {num_rows}, got {row[0].strip()!r}. Check that the labels match the embeddings.")
        if not seen[node]:  # several labels: the first one colours the point
            labels[node] = row[1].strip()
            seen[node] = True
    return labels


def load_labels(path: str | os.PathLike, num_rows: int, ids: dict[str, int] | None = None) -> np.ndarray:
    """One label (string, ``"unlabelled"`` when none) per embedding row, from a ``.npy`` or text file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--labels: expected an existing file, got '{path}'. Pass a .npy or .csv label file.")
    if path.suffix == ".npy":
        return _labels_from_npy(path, num_rows)
    if path.suffix not in TEXT_SUFFIXES:
        raise DatasetError(f"--labels '{path}': expected a .npy, .csv, .tsv or .txt file, got '{path.suffix}'. "
                           "Save the labels in one of those formats.")
    return _labels_from_text(path, num_rows, ids)


# -- outputs ---------------------------------------------------------------------------------------------
def plot_scatter(coords: np.ndarray, labels: np.ndarray | None, path: str | os.PathLike, title: str) -> Path:
    """Scatter plot of ``[N, 2]`` coordinates coloured by label (the 19 most frequent get their own colour,
    the rest "other"), written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    path = Path(path)
    n = coords.shape[0]
    size = float(np.clip(3000.0 / max(n, 1), 0.5, 20.0))
    fig, ax = plt.subplots(figsize=(8, 8))
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, c="tab:blue", linewidths=0)
    else:
        names, counts = np.unique(labels[labels != UNLABELLED].astype(str), return_counts=True)
        order = names[np.argsort(-counts, kind="stable")]
        coloured = list(order[:MAX_COLOURS - 1]) if order.size > MAX_COLOURS else list(order)
        groups = [(UNLABELLED, labels == UNLABELLED, "lightgrey")]
        if order.size > len(coloured):
            groups.append(("other", (labels != UNLABELLED) & ~np.isin(labels, coloured), "dimgrey"))
        palette = distinct_colours(len(coloured))
        groups += [(name, labels == name, palette[i]) for i, name in enumerate(coloured)]
        for name, mask, colour in groups:
            if mask.any():
                ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=colour, label=str(name), linewidths=0)
        ax.legend(markerscale=max(1.0, 12.0 / size) ** 0.5, fontsize=7, loc="best", frameon=False, ncol=2)
    ax.set_title(title)
    ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def distinct_colours(count: int) -> list[Any]:
    """``count`` colours told apart: tab10 up to ten, else tab20's ten strong shades before its ten light ones
    (tab20 in order pairs each colour with its own lighter shade)."""
    import matplotlib.pyplot as plt

    if count <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(count)]
    tab20 = plt.get_cmap("tab20")
    return [tab20(i) for i in [*range(0, 20, 2), *range(1, 20, 2)]][:count]


def save_array(array: np.ndarray, path: Path) -> None:
    """``np.save`` through a temporary file + rename (never a partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def label_agreement(coords: np.ndarray, labels: np.ndarray, k: int = 10, num_queries: int = 1000,
                    seed: int = 0) -> float | None:
    """Fraction of each labelled point's ``k`` nearest 2-D neighbours (labelled ones) sharing its label."""
    from ..embed.largevis_knn import exact_knn

    labelled = np.flatnonzero(labels != UNLABELLED)
    if labelled.size <= k:
        return None
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(labelled.size, size=min(num_queries, labelled.size), replace=False))
    neighbours, _ = exact_knn(coords[labelled], k, queries)
    sub = labels[labelled]
    return float((sub[neighbours] == sub[queries, None]).mean())


def check_outputs(outputs: list[tuple[str, Path]], overwrite: bool) -> None:
    """ConfigError before any work when an output path cannot be written, or exists and ``overwrite`` is off."""
    from ..train.runtime import check_writable_path

    for flag, path in outputs:
        check_writable_path(path, flag.split()[0], kind="file")
        if path.exists() and not overwrite:
            raise ConfigError(f"{flag} '{path}': expected a new file, got an existing one. Pass --overwrite to "
                              "replace it, or pick another name.")


def _defaults_of_run(args: argparse.Namespace) -> None:
    """Fill ``--embeddings``, ``--labels`` and ``--out`` from ``--run DIR`` (an embed run folder).

    Raises:
        ConfigError: Neither ``--run`` nor ``--embeddings`` / ``--out``; a ``--run`` that is no embed run.
    """
    if args.run:
        folder = Path(args.run)
        if not (folder / "embeddings.npy").is_file() and not args.embeddings:
            raise ConfigError(f"--run '{folder}': expected a graphscale embed run folder (with embeddings.npy), got "
                              "none there. Pass the folder `graphscale embed --out` wrote, or --embeddings X.npy.")
        args.embeddings = args.embeddings or str(folder / "embeddings.npy")
        if args.labels is None and (folder / "labels.npy").is_file():
            args.labels = str(folder / "labels.npy")
        args.out = args.out or str(folder / "largevis.png")
    if not args.embeddings or not args.out:
        raise ConfigError("visualize: expected --run DIR (an embed run folder) or --embeddings X.npy with --out "
                          "plot.png, got neither.")


def run(args: argparse.Namespace) -> int:
    """Handler of ``graphscale visualize``; returns the exit code."""

    from ..cli import json_line
    from ..embed.largevis import largevis
    from ..embed.largevis_knn import knn_preservation, sampled_knn_recall
    from ..train.metrics import peak_rss_mb
    from ..train.plot import save_json
    from ..train.runtime import progress_bar

    _defaults_of_run(args)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise DatasetError(f"--out: expected a .png file name, got '{out}'. Pass e.g. --out plot.png.")
    coords_path = Path(args.coords) if args.coords else out.with_suffix(".npy")
    summary_path = out.with_suffix(".json")
    check_outputs([("--out", out), ("--coords", coords_path), ("--out (summary)", summary_path)], args.overwrite)
    for name in ("perplexity", "gamma"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name}: expected a positive number, got {getattr(args, name)}.")
    start = time.perf_counter()
    vectors = load_vectors(args.embeddings)
    labels = None
    if args.labels:
        labels = load_labels(args.labels, vectors.shape[0], node_id_map(args.embeddings, vectors.shape[0]))
    bar = progress_bar(1, "largevis", not args.no_progress, unit="sample", unit_scale=True)

    def progress(step: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_description(f"largevis {step}")
        bar.update(done - bar.n)

    try:
        bar.set_description("largevis knn graph")
        result = largevis(vectors, perplexity=args.perplexity, n_neighbors=args.neighbors, num_trees=args.trees,
                          explore_rounds=args.explore, num_samples=args.samples, num_negatives=args.negatives,
                          gamma=args.gamma, seed=args.seed, progress=progress)
    finally:
        bar.close()
    save_array(result.coords, coords_path)
    title = f"LargeVis of {Path(args.embeddings).name} ({vectors.shape[0]} points)"
    plot_scatter(result.coords, labels, out, title)
    summary: dict[str, Any] = {
        "command": "visualize", "embeddings": str(args.embeddings), "num_points": int(vectors.shape[0]),
        "dim": int(vectors.shape[1]), "n_neighbors": int(result.knn_indices.shape[1]),
        "perplexity": float(min(args.perplexity, result.knn_indices.shape[1])), "num_edges": result.num_edges,
        "num_samples": result.num_samples, "knn_time_s": round(result.times["knn"], 3),
        "weights_time_s": round(result.times["weights"], 3), "layout_time_s": round(result.times["layout"], 3),
    }
    if args.recall_queries > 0:
        eval_start = time.perf_counter()
        summary["knn_recall"] = round(sampled_knn_recall(vectors, result.knn_indices, args.recall_queries,
                                                         args.seed), 4)
        k = min(10, vectors.shape[0] - 1)
        summary[f"knn_preservation_{k}"] = round(knn_preservation(vectors, result.coords, k, args.recall_queries,
                                                                  args.seed), 4)
        if labels is not None:
            agreement = label_agreement(result.coords, labels, k, args.recall_queries, args.seed)
            summary["label_agreement_2d"] = None if agreement is None else round(agreement, 4)
        summary["recall_queries"] = int(min(args.recall_queries, vectors.shape[0]))
        summary["eval_time_s"] = round(time.perf_counter() - eval_start, 3)
    if labels is not None:
        summary["num_labels"] = int(np.unique(labels[labels != UNLABELLED]).size)
    summary.update({"total_time_s": round(time.perf_counter() - start, 3), "plot": str(out),
                    "coords": str(coords_path), "peak_rss_mb": round(peak_rss_mb(), 1)})
    save_json(summary, summary_path)
    if args.json:
        print(json_line(summary))
    else:
        recall = summary.get("knn_recall")
        print(f"LargeVis layout of {summary['num_points']} x {summary['dim']} vectors in "
              f"{summary['total_time_s']:.1f} s (kNN {summary['knn_time_s']:.1f} s, layout "
              f"{summary['layout_time_s']:.1f} s); kNN recall {recall if recall is not None else 'n/a'}")
        print(f"  plot {out}   coordinates {coords_path}   summary {summary_path}")
    return 0
