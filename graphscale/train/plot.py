"""Training-curve plot (matplotlib, Agg backend: works without a display)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import write_text_atomic


def _mean_curve(curves: list[dict[str, list[float]]], key: str) -> np.ndarray | None:
    series = [c[key] for c in curves if c.get(key)]
    if not series:
        return None
    length = max(len(s) for s in series)
    padded = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        padded[i, :len(s)] = s
    with np.errstate(all="ignore"):
        return np.nanmean(padded, axis=0)


def plot_curves(curves: list[dict[str, list[float]]], path: str | os.PathLike, title: str,
                selected: list[int] | None = None) -> Path | None:
    """Save loss (left) and accuracy (right) per epoch, averaged over runs, as a PNG; None when nothing to draw.

    Runs that stopped early are averaged over the runs still going at each epoch. ``selected``: each run's kept
    epoch (0-based), marked by a dashed line (the epoch whose weights were evaluated on test).
    """
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train_loss", "val_loss", "test_loss"):
        values = _mean_curve(curves, key)
        if values is not None:
            ax_loss.plot(np.arange(1, len(values) + 1), values, label=key)
    for key in ("train_acc", "val_acc", "test_acc"):
        values = _mean_curve(curves, key)
        if values is not None:
            ax_acc.plot(np.arange(1, len(values) + 1), values, label=key)
    for n, epoch in enumerate(sorted(set(selected or []))):
        for ax in (ax_loss, ax_acc):
            ax.axvline(epoch + 1, color="grey", linestyle="--", linewidth=0.8, alpha=0.7,
                       label="selected epoch" if n == 0 else None)
    ax_loss.set_xlabel("epoch"), ax_loss.set_ylabel("loss"), ax_loss.legend()
    ax_acc.set_xlabel("epoch"), ax_acc.set_ylabel("accuracy"), ax_acc.legend()
    fig.suptitle(title)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename)."""
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_kg_curves(records: list[dict[str, Any]], path: str | os.PathLike, title: str) -> Path | None:
    """A KG run's loss per epoch (left) and validation MRR at each evaluation (right) as a PNG; None when no
    epoch was recorded."""
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_mrr) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot([r["epoch"] for r in records], [r["loss"] for r in records], label="train loss")
    evaluated = [(r["epoch"], r["valid"]["mrr"]) for r in records if isinstance(r.get("valid"), dict)
                 and r["valid"].get("mrr") is not None]
    if evaluated:
        ax_mrr.plot(*zip(*evaluated, strict=True), marker="o", label="valid MRR (filtered)")
        ax_mrr.legend()
    ax_loss.set_xlabel("epoch"), ax_loss.set_ylabel("loss"), ax_loss.legend()
    ax_mrr.set_xlabel("epoch"), ax_mrr.set_ylabel("MRR")
    fig.suptitle(title)
    return _save(fig, plt, path)


def save_json(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically (NaN becomes null)."""
    import json

    write_text_atomic(json.dumps(clean_json(data), indent=2, allow_nan=False) + "\n", path)


def clean_json(value: Any) -> Any:
    """``value`` with non-finite floats as None and NumPy scalars as Python numbers (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic):
        return clean_json(value.item())
    return value
