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


@pytest.fixture
def graphscale_cli():
    """``run(command, args, cwd, ranks=1)``: ``python -m graphscale <command> <args>`` in a subprocess, under
    ``torchrun --nproc-per-node ranks`` on 127.0.0.1 (a free port) when ``ranks > 1``; the CompletedProcess.
    ``run.summary(proc)``: its one JSON stdout line (rank 0 alone reports), after asserting it succeeded;
    ``run.command(name)``: ``run`` for one command."""
    import functools
    import json
    import socket
    import subprocess
    import sys

    def run(command: str, args: list[str], cwd, ranks: int = 1, timeout: int = 300) -> subprocess.CompletedProcess:
        launch = []
        if ranks > 1:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            launch = ["-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--master-addr", "127.0.0.1",
                      "--master-port", str(port)]
        return subprocess.run([sys.executable, *launch, "-m", "graphscale", command, *args], capture_output=True,
                              text=True, cwd=cwd, timeout=timeout, check=False)

    def summary(proc: subprocess.CompletedProcess) -> dict:
        assert proc.returncode == 0, proc.stderr[-3000:]
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1  # rank 0 alone reports
        return json.loads(lines[0])

    def command(name: str):
        """``run`` bound to one command: ``(args, cwd, ranks=1)``, with ``.summary``."""
        bound = functools.partial(run, name)
        bound.summary = summary
        return bound

    run.summary, run.command = summary, command
    return run
