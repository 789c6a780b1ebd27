"""The process heap: hand freed memory back to the operating system between phases of a computation."""

from __future__ import annotations

import functools


def release_free_memory() -> None:
    """Hand the allocator's free heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Freed temporaries (a streamed chunk's, a reversible block's recomputed activations) otherwise stay resident
    in glibc's heap, interleaved with live tensors, and the resident set grows although live memory does not
    (measured: ~40-90 MB per phase of a streamed pass on the arxiv-shaped graph; RevGNN on synthetic-arxiv,
    hidden 64, 3.0 GB at 12 blocks against 1.0 GB with the trim). Costs well under a millisecond per call.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


__all__ = ["release_free_memory"]
