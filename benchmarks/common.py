"""Shared plumbing for the side-by-side benchmarks: worker subprocesses, memory limits, timing, JSON lines.

Every measurement runs in its own subprocess so that ``ru_maxrss`` (peak resident memory) belongs to one
(impl, model) pair. Peers run in their own virtualenv's python (``benchmarks/.peers/<name>``, made by
``setup_peers.sh``) under an address-space limit, so a memory blow-up surfaces as a ``MemoryError`` that
the worker reports as status ``"oom"`` instead of waking the kernel's OOM killer on a shared machine.

This module imports only the standard library at import time: the peer interpreters load it too, and they
must never import graphscale.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / ".peers"
OUT_DIR = BENCH_DIR / "out"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
OOM_MARKERS = ("can't allocate memory", "out of memory", "cannot allocate memory", "bad_alloc",
               "failed to allocate")


def peer_python(name: str) -> Path:
    """Interpreter of the peer virtualenv ``name`` (``GRAPHSCALE_PEER_PYTHON_<NAME>`` overrides it)."""
    override = os.environ.get(f"GRAPHSCALE_PEER_PYTHON_{name.upper().replace('-', '_')}")
    return Path(override) if override else PEERS_DIR / name / "bin" / "python"


def worker_env(num_threads: int, *, peer: bool, omp_wait_policy: str = "PASSIVE") -> dict[str, str]:
    """Environment for a worker pinned to ``num_threads`` intra-op threads (torch, BLAS, numba).

    ``OMP_WAIT_POLICY`` is set to the same value for every implementation before the worker starts, so no
    library gets a different OpenMP idle policy (graphscale defaults to PASSIVE at import, which only takes
    effect when it is imported before torch); "inherit" leaves the caller's environment as it is.
    A peer interpreter may write bytecode caches into its own virtualenv (importing torch_geometric
    from source every time costs seconds per worker when ``PYTHONDONTWRITEBYTECODE`` is set).
    """
    env = dict(os.environ)
    for key in THREAD_ENV:
        env[key] = str(num_threads)
    if omp_wait_policy.lower() != "inherit":
        env["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    if peer:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def limit_address_space(gigabytes: float) -> None:
    """Cap this process's virtual address space (``RLIMIT_AS``); 0 or less leaves it unlimited."""
    if gigabytes <= 0:
        return
    limit = int(gigabytes * 2**30)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def current_rss_mb() -> float:
    """Current resident set size in MiB (from /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def is_oom(err: BaseException) -> bool:
    """True for allocation failures: ``MemoryError`` or torch's "can't allocate memory" RuntimeError."""
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return any(marker in text for marker in OOM_MARKERS)


def failure_status(err: BaseException) -> str:
    """Status string for a failed measurement: ``"oom"`` or ``"error: <type>: <first line>"``."""
    if is_oom(err):
        return "oom"
    first_line = (str(err).strip().splitlines() or [""])[0]
    # the interpreter's install prefix says nothing about the failure and names this machine's folders
    first_line = first_line.replace(sys.prefix, "<venv>")[:300]
    return f"error: {type(err).__name__}: {first_line}"


def time_epochs(step: Callable[[], Any], count: int) -> tuple[list[float], list[float]]:
    """Run ``step`` ``count`` times; return the wall-clock and the process CPU seconds of every run.

    CPU seconds (all threads of this process) are less sensitive than wall time to other processes on a
    shared machine, but count spin-waiting threads too: report wall time, use CPU time to read noise.
    """
    wall, cpu = [], []
    for _ in range(count):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def summarize_times(wall: list[float], cpu: list[float]) -> dict[str, float]:
    """Median wall time (the reported number), its min and max, and the median CPU time."""
    return {"epoch_time_s": round(statistics.median(wall), 4), "epoch_time_min_s": round(min(wall), 4),
            "epoch_time_max_s": round(max(wall), 4), "epoch_cpu_s": round(statistics.median(cpu), 4)}


def emit(record: dict[str, Any], stream=None) -> None:
    """Print one JSON line (flushed, so a parent reading the pipe sees it at once)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(record, sort_keys=False) + "\n")
    stream.flush()


RECORDS_DIR = BENCH_DIR / "records"


def append_record(bench: str, name: str, record: dict[str, Any]) -> Path:
    """Append ``record`` as one JSON line to the committed ``benchmarks/records/<bench>/<name>.jsonl``.

    Lines that lack them gain the machine's core count, its 1-minute load when the line was written and the
    commit (``git_commit`` / ``git_dirty``), so every figure in RESULTS.md traces to a line saying where and
    on what code it was measured. Returns the file's path.
    """
    line = dict(record)
    line.setdefault("cpus", os.cpu_count())
    try:
        line.setdefault("load_1m", round(os.getloadavg()[0], 2))
    except OSError:
        pass
    if "git_commit" not in line:
        line.update(git_state())
    path = RECORDS_DIR / bench / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=False) + "\n")
    return path


def machine_info() -> dict[str, Any]:
    """CPU count, total memory and Python version of the machine running the benchmark."""
    info: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "platform": platform.platform(terse=True)}
    try:
        with open("/proc/meminfo") as handle:
            total_kib = int(handle.readline().split()[1])
        info["mem_total_gb"] = round(total_kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


def git_state(paths: tuple[str, ...] = ("graphscale",)) -> dict[str, Any]:
    """Commit of the checkout and whether ``paths`` hold uncommitted changes (what exactly was measured)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": sorted(line[3:] for line in dirty if line.strip())}


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that is a JSON object (a worker's or a ``--json`` command's summary)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-400:]


def run_worker(python: Path | str, args: Iterable[str], *, base: dict[str, Any], num_threads: int,
               timeout_s: float, omp_wait_policy: str = "PASSIVE", cwd: Path = REPO_ROOT) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON record.

    The worker prints one JSON object as its last stdout line. Whatever goes wrong (missing interpreter,
    crash, signal, timeout, garbage output) comes back as a record with ``status`` "oom", "timeout" or
    "error: ...", filled from ``base`` so it still names the impl and model; this never raises.
    """
    python = Path(python)
    if not python.exists():
        shown = python.relative_to(REPO_ROOT) if python.is_relative_to(REPO_ROOT) else python.name
        return {**base, "status": f"error: interpreter {shown} not found; run bash benchmarks/setup_peers.sh"}
    command = [str(python), *args]
    start = time.perf_counter()
    try:
        env = worker_env(num_threads, peer=python.resolve() != Path(sys.executable).resolve(),
                         omp_wait_policy=omp_wait_policy)
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**base, "status": f"timeout (>{timeout_s:.0f} s)"}
    except OSError as err:
        return {**base, "status": f"error: cannot start {python}: {err}"}
    wall = round(time.perf_counter() - start, 2)
    record = last_json(proc.stdout)
    if proc.returncode == 0 and record is not None:
        return {**base, **record, "worker_wall_s": wall}
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        status = "oom (killed by SIGKILL)" if name == "SIGKILL" else f"error: worker killed by {name}"
    elif is_oom(RuntimeError(proc.stderr[-4000:])):
        status = "oom"
    else:
        status = f"error: worker exit code {proc.returncode}: {_tail(proc.stderr) or _tail(proc.stdout)}"
    return {**base, **(record or {}), "status": status, "worker_wall_s": wall}


def add_worker_arguments(parser: Any, *extra: str) -> None:
    """The hidden flags an orchestrator passes to its worker processes: ``--worker``, ``--impl``, ``--data`` and
    one ``--<name>`` per ``extra`` name."""
    import argparse

    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("impl", "data", *extra):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)


def worker_or_orchestrate(args: Any, worker: Callable[[Any], dict[str, Any]], orchestrate: Callable[[Any], int]) -> int:
    """A benchmark's ``main``: in a worker process emit its one record, else run the orchestrator."""
    if args.worker:
        emit(worker(args))
        return 0
    return orchestrate(args)


def read_npy_arrays(data_dir: Path, meta_name: str, names: Iterable[str]) -> dict[str, Any]:
    """``meta_name`` (JSON) of ``data_dir`` plus one torch tensor per ``<name>.npy`` (what an orchestrator wrote)."""
    import numpy as np
    import torch

    data: dict[str, Any] = json.loads((data_dir / meta_name).read_text())
    for name in names:
        data[name] = torch.from_numpy(np.load(data_dir / f"{name}.npy"))
    return data


def run_impls(script: str, impls: Iterable[str], peer_venv: dict[str, str], *, data_dir: Path, flags: list[str],
              base: dict[str, Any], num_threads: int, timeout_s: float,
              emit_record: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Run ``script --worker --impl <impl> --data <data_dir> <flags>`` once per implementation, graphscale's in
    this interpreter and a peer's in its virtualenv (``peer_venv[impl]``), emitting and returning the records."""
    records = []
    for impl in impls:
        python = sys.executable if impl.startswith("graphscale") else peer_python(peer_venv[impl])
        record = run_worker(python, [str(Path(script).resolve()), "--worker", "--impl", impl, "--data",
                                     str(data_dir), *flags], base={**base, "impl": impl}, num_threads=num_threads,
                            timeout_s=timeout_s)
        records.append(record)
        emit_record(record)
    return records
