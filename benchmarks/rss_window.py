"""Peak RSS of the measured part of a benchmark only, so that library pages count for nobody.

A worker's ``ru_maxrss`` includes the interpreter and every shared library it loaded: a CUDA build of torch
used on CPU (the DGL peer's torch 2.2.1) maps and touches far more library pages than a CPU build, which says
nothing about how much memory the library needs to train or sample. ``MeasuredWindow`` therefore also reports
how far the resident set grew during the measured part: the resident set after warm-up against the peak
reached after it. On Linux the kernel's peak (``VmHWM``) is reset to the current RSS when the window opens
(``/proc/self/clear_refs`` = 5) and read when it closes, which makes the window's peak exact; where that file
is not writable the whole-run peak stands in for it (``rss_window_exact: false``, an upper bound).

Worker processes alive or started during the window (e.g. a data loader's ``num_workers``) are reported
apart: their peak RSS (the largest single worker; each counts the pages it shares with its parent by fork)
and the sum of the growth of those already alive when the window opened (``workers_started_in_window``
counts the others, whose growth is unknown); ``total_rss_growth_mb`` adds that sum to the process's own.

Standard library only: the peer interpreters import it too.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any


def _status_mb(pid: int | str, key: str) -> float | None:
    """``VmHWM`` / ``VmRSS`` of a process from /proc, in MiB (None when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak(pid: int | str) -> bool:
    """Set the process's ``VmHWM`` (and so ``ru_maxrss``) to its current RSS; False where not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _ru_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def peak_mb() -> float:
    """This process's peak RSS so far (``VmHWM`` where readable, else ``ru_maxrss``), MiB."""
    value = _status_mb("self", "VmHWM")
    return value if value is not None else _ru_maxrss_mb()


def current_mb() -> float:
    value = _status_mb("self", "VmRSS")
    return value if value is not None else _ru_maxrss_mb()


def descendants(pid: int | None = None) -> list[int]:
    """Live descendant process ids of ``pid`` (default: this process), from /proc's parent links."""
    root = os.getpid() if pid is None else pid
    parents: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class MeasuredWindow:
    """``open()`` after warm-up, ``close()`` after the measured part; ``close`` returns the record fields."""

    def __init__(self) -> None:
        self.peak_before = self.rss_open = 0.0
        self.exact = False
        self.children_open: dict[int, float] = {}

    def open(self) -> None:
        self.peak_before = peak_mb()  # setup + warm-up (resetting the kernel's peak forgets it)
        self.rss_open = current_mb()
        self.exact = _reset_peak("self")
        self.children_open = {}
        for pid in descendants():
            rss = _status_mb(pid, "VmRSS")
            if rss is not None and _reset_peak(pid):
                self.children_open[pid] = rss

    def close(self) -> dict[str, Any]:
        window_peak = peak_mb()  # since open() when exact, else the whole run's
        fields: dict[str, Any] = {
            "peak_rss_mb": round(max(self.peak_before, window_peak), 1),
            "rss_after_warmup_mb": round(self.rss_open, 1),
            "measured_peak_rss_mb": round(window_peak, 1),
            "rss_growth_mb": round(max(window_peak - self.rss_open, 0.0), 1),
            "rss_window_exact": self.exact,
        }
        peaks, growth, started = [], 0.0, 0
        for pid in descendants():
            peak = _status_mb(pid, "VmHWM")
            if peak is None:
                continue
            peaks.append(peak)
            if pid in self.children_open:
                growth += max(peak - self.children_open[pid], 0.0)
            else:  # forked inside the window: its RSS starts with its parent's pages, so no growth is known
                started += 1
        if peaks:
            fields.update(workers=len(peaks), worker_peak_rss_mb=round(max(peaks), 1),
                          workers_rss_growth_mb=round(growth, 1), workers_started_in_window=started)
        # what the ratios compare: this process's growth plus its workers' (work done in a worker counts too)
        fields["total_rss_growth_mb"] = round(fields["rss_growth_mb"] + growth, 1)
        return fields
