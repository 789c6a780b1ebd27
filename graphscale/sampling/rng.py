"""Counter-based random numbers for the numba samplers (splitmix64; Steele et al., OOPSLA 2014).

Every random decision of a sampler draws from a stream started by ``stream(seed, a, b)`` inside the
``prange`` body, with ``(a, b)`` naming *what* is sampled (a layer and a node id, a walk number ...) rather
than *which thread* samples it. Results therefore depend on the seed alone, never on the thread count or on
the order in which threads run; no global ``np.random`` state is touched inside a parallel loop.

``mix_seed`` is the same mixing function on Python ints, used to derive per-batch and per-epoch seeds.
"""

from __future__ import annotations

import numba
import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
MASK63 = (1 << 63) - 1


def _finalize_py(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix_seed(*values: int) -> int:
    """Hash integers into one seed in ``[0, 2**63)`` (splitmix64 finaliser chained over ``values``).

    Example:
        >>> mix_seed(0, 3, 7) != mix_seed(0, 7, 3)
        True
    """
    state = 0
    for value in values:
        state = _finalize_py((state + GOLDEN + (int(value) & MASK64)) & MASK64)
    return state & MASK63


@numba.njit(cache=True, nogil=True, inline="always")
def finalize(z):
    """splitmix64 output function on a ``uint64``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def stream(seed, a, b):
    """Initial ``uint64`` state of the stream named ``(a, b)`` under ``seed`` (all integers >= 0)."""
    state = finalize(np.uint64(seed) + np.uint64(GOLDEN))
    state = finalize(state + np.uint64(a) * np.uint64(0xD1B54A32D192ED03) + np.uint64(GOLDEN))
    return finalize(state + np.uint64(b) * np.uint64(0x8CB92BA72F3D8DD7) + np.uint64(GOLDEN))


@numba.njit(cache=True, nogil=True, inline="always")
def uniform(state):
    """One step: ``(new state, float64 uniform in [0, 1))``."""
    state = state + np.uint64(GOLDEN)
    return state, (finalize(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True, inline="always")
def below(state, n):
    """One step: ``(new state, integer uniform in [0, n))`` for ``n >= 1`` (bias below ``n / 2**53``)."""
    state, u = uniform(state)
    k = np.int64(u * n)
    return state, (k if k < n else n - 1)
