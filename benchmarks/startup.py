"""First-run experience: how long ``import graphscale``, ``graphscale --help`` and the first and second
``graphscale train`` take, wall clock, each in a fresh process.

"First" is a fresh install's first run: an empty numba cache folder (``NUMBA_CACHE_DIR`` pointed at a new
temporary folder), so every kernel the command uses compiles; "second" repeats it with that cache filled.
The import and help figures are the median of ``--repeats`` runs. Targets (this machine): import < 1 s, first
train < 15 s, second < 5 s. The train command is the README's main job with ``train.epochs`` lowered
(``--epochs``, default the config's 200; the synthetic default graph).

One JSON line per measurement (``bench`` startup, ``impl`` graphscale, ``step``, ``wall_s``), appended to
``benchmarks/records/startup/<host kind>.jsonl`` (``--no-records`` for smoke runs).

Usage:
    python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

TARGETS = {"import": 1.0, "first_train": 15.0, "second_train": 5.0}


def timed(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    """Wall seconds of ``python args`` and its status."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - start
    return wall, "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {common._tail(proc.stderr)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, help="train.epochs of the train runs (default: the config's)")
    parser.add_argument("--no-records", action="store_true")
    args = parser.parse_args()
    info = {"bench": "startup", "record": "setup", **common.machine_info(), **common.git_state()}
    common.emit(info)
    lines = []
    with tempfile.TemporaryDirectory(prefix="graphscale-startup-") as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / "numba"), "GRAPHSCALE_PROGRESS": "0"}
        for step, command in (("import", ["-c", "import graphscale"]), ("help", ["-m", "graphscale", "--help"])):
            walls, status = [], "ok"
            for _ in range(args.repeats):
                wall, status = timed(command, env, tmp)
                walls.append(wall)
            lines.append({"bench": "startup", "impl": "graphscale", "step": step, "status": status,
                          "wall_s": round(statistics.median(walls), 3), "repeats": args.repeats})
        train = ["-m", "graphscale", "train", "--json", *([f"train.epochs={args.epochs}"] if args.epochs else [])]
        for step in ("first_train", "second_train"):
            wall, status = timed([*train, "--out", str(Path(tmp) / step)], env, tmp)
            lines.append({"bench": "startup", "impl": "graphscale", "step": step, "status": status,
                          "wall_s": round(wall, 3), "epochs": args.epochs or "config"})
    for line in lines:
        if line["step"] in TARGETS and line["status"] == "ok":
            line.update(target_s=TARGETS[line["step"]], meets_target=line["wall_s"] < TARGETS[line["step"]])
    for line in [info, *lines]:
        if line is not info:
            common.emit(line)
        if not args.no_records:
            common.append_record("startup", "cpu", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
