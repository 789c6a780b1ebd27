"""Shared pytest set-up.

* ``GRAPHSCALE_DATA`` defaults to ``../shared/datasets`` relative to the repository root (only when unset).
* ``GRAPHSCALE_DOWNLOAD`` defaults to ``0``: tests never reach for the network.
* ``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` (set before any test module imports torch).
* ``require_dataset(name)``: skip a test whose registered dataset is missing locally; under CI (``CI=true``)
  a missing dataset fails the test instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GRAPHSCALE_DATA", str(REPO_ROOT.parent / "shared" / "datasets"))
# Absolute, so that tests which chdir (into tmp_path) still find it; CI passes a relative path.
os.environ["GRAPHSCALE_DATA"] = str(Path(os.environ["GRAPHSCALE_DATA"]).expanduser().resolve())
os.environ.setdefault("GRAPHSCALE_DOWNLOAD", "0")
# Before torch is imported: idle OpenMP threads sleep instead of spinning (see graphscale/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def data_root() -> Path:
    """The real datasets' root (``$GRAPHSCALE_DATA``)."""
    return Path(os.environ["GRAPHSCALE_DATA"]).expanduser()


@pytest.fixture
def require_dataset(data_root: Path):
    """``require_dataset(name)``: skip (locally) or fail (CI) unless every file of ``name`` is present."""

    def check(name: str) -> None:
        from graphscale.datasets.io import in_ci
        from graphscale.datasets.registry import available

        row = next((r for r in available(data_root) if r["name"] == name), None)
        if row is None:
            pytest.fail(f"require_dataset: {name!r} is not a registered dataset")
        if not row["found"]:
            message = f"dataset {name!r} missing under {data_root}: {row.get('missing')}"
            if in_ci():
                pytest.fail(message + " (CI=true: missing data is an error)")
            pytest.skip(message)

    return check
