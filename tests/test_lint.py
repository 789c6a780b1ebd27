"""``ruff check graphscale`` passes (the rules and line length of pyproject.toml's [tool.ruff]): CI installs ruff
with the test extra, so a lint regression fails the suite like any other."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff_command() -> list[str]:
    if shutil.which("ruff"):
        return ["ruff"]
    try:
        import ruff  # noqa: F401
    except ImportError:
        from graphscale.datasets.io import in_ci

        if in_ci():
            pytest.fail("ruff is missing (CI=true): install the test extra, pip install -e '.[test]'")
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_passes():
    proc = subprocess.run([*ruff_command(), "check", "graphscale", "--output-format", "concise"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
