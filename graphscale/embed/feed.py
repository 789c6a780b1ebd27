"""Which samples each pool holds (:class:`Schedule`) and the pools' double-buffered feed (:class:`Feed`): the
next pool is filled on a background thread while the trainer consumes this one."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from ..sampling.rng import mix_seed
from .pool import Pool, pairs_per_walk


class Schedule:
    """Which samples pool ``b`` holds: walk starts (walk models) or an edge count (LINE)."""

    def __init__(self, s: Any, starts_from: np.ndarray) -> None:
        self.s = s
        self.nodes = starts_from
        if s.model == "line":
            per_node = pairs_per_walk(s.walk_length, s.window) * s.num_walks
            self.total = int(s.num_samples or per_node * max(len(starts_from), 1))
            self.per_pool = s.pool_size
            self.num_pools = -(-self.total // self.per_pool)
        else:
            self.per_walk = pairs_per_walk(s.walk_length, s.window)
            self.walks_per_pool = max(1, s.pool_size // self.per_walk)
            self.num_walks_total = s.num_walks * len(starts_from)
            if s.num_samples is not None:
                self.num_walks_total = max(1, -(-int(s.num_samples) // self.per_walk))
            self.total = self.num_walks_total * self.per_walk
            self.num_pools = -(-self.num_walks_total // self.walks_per_pool)
        self._perm: dict[int, np.ndarray] = {}

    def pool_capacity(self) -> int:
        return self.per_pool if self.s.model == "line" else self.walks_per_pool * self.per_walk

    def _pass(self, r: int) -> np.ndarray:
        if r not in self._perm:
            self._perm = {r: np.random.default_rng(mix_seed(self.s.seed, 31, r)).permutation(self.nodes)}
        return self._perm[r]

    def starts(self, b: int) -> np.ndarray:
        lo = b * self.walks_per_pool
        hi = min(self.num_walks_total, lo + self.walks_per_pool)
        n = len(self.nodes)
        parts = [self._pass(r)[max(lo, r * n) - r * n:min(hi, (r + 1) * n) - r * n]
                 for r in range(lo // n, (hi - 1) // n + 1)]
        return np.concatenate(parts).astype(np.int64)

    def count(self, b: int) -> int:
        return min(self.per_pool, self.total - b * self.per_pool)


class Feed:
    """Pools ``first .. last - 1`` in order: filled on a background thread while the previous one trains
    (double buffering with two buffers), or inline between training steps (``overlap`` False)."""

    def __init__(self, fill: Callable[[Pool, int], None], first: int, last: int, capacity: int, negatives: int,
                 overlap: bool, threads: int | None) -> None:
        self.fill, self.overlap = fill, overlap
        self.buffers = [Pool.empty(capacity, negatives) for _ in range(2 if overlap else 1)]
        self.out: queue.Queue = queue.Queue()
        self.free: queue.Queue = queue.Queue()
        for pool in self.buffers:
            self.free.put(pool)
        self.stop = threading.Event()
        self.worker = None
        if overlap:
            self.worker = threading.Thread(target=self._produce, args=(first, last, threads), daemon=True,
                                           name="embed-pool")
            self.worker.start()

    def _produce(self, first: int, last: int, threads: int | None) -> None:
        try:
            if threads:
                numba.set_num_threads(threads)
            for b in range(first, last):
                pool = self.free.get()
                if self.stop.is_set():
                    return
                start = time.perf_counter()
                self.fill(pool, b)
                self.out.put((pool, time.perf_counter() - start))
        except BaseException as err:  # noqa: BLE001  (handed to the consumer, which re-raises it)
            self.out.put((err, 0.0))

    def take(self, b: int) -> tuple[Pool, float]:
        """Pool ``b`` (the next one) and the seconds spent filling it."""
        if self.overlap:
            pool, seconds = self.out.get()
            if isinstance(pool, BaseException):
                raise pool
            return pool, seconds
        pool = self.free.get()
        start = time.perf_counter()
        self.fill(pool, b)
        return pool, time.perf_counter() - start

    def give_back(self, pool: Pool) -> None:
        self.free.put(pool)

    def close(self) -> None:
        self.stop.set()
        self.free.put(self.buffers[0])
        if self.worker is not None:
            self.worker.join(timeout=60)


__all__ = ["Feed", "Schedule"]
