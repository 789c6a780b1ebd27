"""Compiled kernels are cached in the user's cache folder, not in the package; a user's NUMBA_CACHE_DIR wins."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import os, torch, graphscale as gs
from graphscale.sampling import NeighborSampler
g = gs.Graph(torch.arange(6), (torch.arange(6) + 1) % 6)
NeighborSampler(g, [2]).sample_blocks(torch.tensor([0, 1]))
print(os.environ["NUMBA_CACHE_DIR"])
"""


def run(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env={**clean, **env},
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_kernels_are_cached_under_the_user_cache_folder(tmp_path):
    where = run({"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert where == str(tmp_path / "cache" / "graphscale" / "numba")
    assert any(p.suffix == ".nbi" for p in (tmp_path / "cache").rglob("*"))  # the sampler's kernels landed there
    mine = tmp_path / "mine"
    assert run({"XDG_CACHE_HOME": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": str(mine)}) == str(mine)
