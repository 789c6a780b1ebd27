"""The reproduction configs shipped inside the package (``graphscale/configs/*.yaml``).

File names follow ``<task>-<model>-<dataset>.yaml`` (``node-gcn-cora.yaml``); the top-level
``configs/`` folder of the repository is a link to the same files.
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


def find_shipped(task: str, model: str, dataset: str) -> Path | None:
    """Path of ``<task>-<model>-<dataset>.yaml`` when shipped (names matched case-insensitively), else None."""
    stem = f"{normalize_key(task)}-{normalize_key(model)}-{normalize_key(dataset)}"
    path = config_dir() / f"{stem}.yaml"
    return path if path.is_file() else None
