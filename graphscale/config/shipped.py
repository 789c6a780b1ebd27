"""The reproduction configs shipped inside the package (``graphscale/configs/*.yaml``).

File names follow ``<task>-<model>-<dataset>.yaml`` (``node-gcn-cora.yaml``), and
``<task>-<model>-<sampler>-<dataset>.yaml`` for mini-batch configs (``node-sage-neighbor-citeseer.yaml``);
the top-level ``configs/`` folder of the repository is a link to the same files.
"""

from __future__ import annotations

from pathlib import Path

from .registry import normalize_key


def config_dir() -> Path:
    """Folder holding the shipped YAML configs (inside the installed package)."""
    return Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> list[str]:
    """Names (without ``.yaml``) of every shipped config, sorted."""
    folder = config_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def shipped_name(task: str, model: str, dataset: str, sampler: str | None = None) -> str:
    """``<task>-<model>[-<sampler>]-<dataset>`` (no sampler part for None or ``none``)."""
    parts = [task, model] + ([sampler] if sampler and normalize_key(sampler) != "none" else []) + [dataset]
    return "-".join(normalize_key(part) for part in parts)


def find_shipped(task: str, model: str, dataset: str, sampler: str | None = None) -> Path | None:
    """Path of the shipped config for ``task``, ``model``, ``dataset`` (and ``sampler``), else None.

    Names are matched case-insensitively; with a sampler (other than ``none``) the file is
    ``<task>-<model>-<sampler>-<dataset>.yaml``.
    """
    path = config_dir() / f"{shipped_name(task, model, dataset, sampler)}.yaml"
    return path if path.is_file() else None
