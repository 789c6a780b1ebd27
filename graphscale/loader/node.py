"""``NodeLoader``: iterate a sampler's mini-batches with background-thread prefetch.

Sampling runs on ``num_workers`` threads while the caller trains: the numba kernels release the GIL, so
the threads sample in parallel with the model's forward and backward. At most ``prefetch`` batches are in
flight (sampled or being sampled, not yet consumed); batches come out in plan order whatever the thread
count. Epoch ``e`` of a loader with seed ``s`` is fixed by ``(s, e)``: its plan (shuffled seed chunks,
cluster groups ...) uses ``numpy.random.default_rng([s, e])`` and batch ``i`` is sampled with the seed
``mix_seed(s, e, i)``, so one, two or eight threads give the same batches. Each ``iter(loader)`` is a new
epoch (``set_epoch`` picks one explicitly, as with ``DistributedSampler``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import torch

from ..errors import SamplingError, warn_once
from ..sampling.base import MiniBatch, Sampler, as_node_ids
from ..sampling.rng import mix_seed


@numba.njit(cache=True, nogil=True, parallel=True)
def _probe(values):
    total = 0.0
    for i in numba.prange(values.shape[0]):
        total += values[i]
    return total


def threadsafe_numba() -> bool:
    """Whether numba's threading layer (chosen at the first parallel call) accepts concurrent launches
    from several threads: omp and tbb do, workqueue aborts the process."""
    _probe(np.zeros(2))
    return numba.threading_layer() != "workqueue"


class NodeLoader:
    """Mini-batches of a sampler over ``seeds``, sampled ahead on background threads.

    Args:
        sampler: A sampler with ``plan`` / ``sample`` (``NeighborSampler``, ``ClusterSampler``, the GraphSAINT
            samplers).
        seeds: Nodes the batches are built for (ids or a ``[N]`` bool mask; the training nodes); None = all.
        batch_size: Seeds per batch (neighbour sampling), clusters per batch (ClusterGCN), None (GraphSAINT).
        shuffle: Reshuffle the plan every epoch.
        seed: Seed of the plans and of every batch.
        num_workers: Sampling threads; 0 samples in the iterating thread.
        prefetch: Batches in flight (>= ``num_workers``; raised to it when smaller).
        pin_memory: Page-lock each batch in its worker (for asynchronous GPU copies); None = when CUDA is
            available.
        device: Move each batch there (``non_blocking`` from pinned memory) before yielding it; None keeps
            the CPU tensors.
        threads_per_worker: numba threads each worker's kernels use (thread-local setting); None shares
            ``numba.get_num_threads()`` between the workers.

    Yields:
        ``MiniBatch(graph, input_ids, output_ids, output_index, loss_weight, edge_weight, edge_ids)``.

    Raises:
        SamplingError: Invalid arguments (or any error a sampler raises, re-raised in the iterating thread).

    Example:
        >>> loader = NodeLoader(NeighborSampler(graph, [15, 10]), train_mask, 1024, num_workers=2)
        >>> for batch in loader:
        ...     logits = model(batch.graph, x[batch.input_ids])
        ...     loss = F.cross_entropy(logits, y[batch.output_ids])
    """

    def __init__(self, sampler: Sampler, seeds: Any = None, batch_size: int | None = None, *, shuffle: bool = True,
                 seed: int = 0, num_workers: int = 1, prefetch: int = 2, pin_memory: bool | None = None,
                 device: torch.device | str | None = None, threads_per_worker: int | None = None) -> None:
        where = "NodeLoader"
        for name, value, low in (("num_workers", num_workers, 0), ("prefetch", prefetch, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SamplingError(f"{where}: expected {name} as an int >= {low}, got {value!r}.")
        if threads_per_worker is not None and (not isinstance(threads_per_worker, int) or threads_per_worker < 1):
            raise SamplingError(f"{where}: expected threads_per_worker >= 1 or None, got {threads_per_worker!r}.")
        self.sampler = sampler
        num_nodes = sampler.num_nodes
        self.seeds = np.arange(num_nodes, dtype=np.int64) if seeds is None else as_node_ids(seeds, num_nodes, where)
        self.batch_size, self.shuffle, self.seed = batch_size, bool(shuffle), int(seed)
        if num_workers > 0 and not threadsafe_numba():
            warn_once("NodeLoader: numba's workqueue threading layer cannot run kernels from several threads at "
                      "once; sampling in the iterating thread (num_workers=0). Install tbb or use the omp layer "
                      "(NUMBA_THREADING_LAYER=omp) for background sampling.")
            num_workers = 0
        self.num_workers, self.prefetch = num_workers, max(prefetch, num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.device = None if device is None else torch.device(device)
        if threads_per_worker is None and num_workers > 0:
            threads_per_worker = max(1, numba.get_num_threads() // num_workers)
        self.threads_per_worker = threads_per_worker
        self.epoch = 0
        self.plan(0)  # validates batch_size against the sampler now, not at the first batch

    def plan(self, epoch: int) -> list[Any]:
        """The work items of ``epoch`` (deterministic in ``(seed, epoch)``)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        return self.sampler.plan(self.seeds, self.batch_size, self.shuffle, rng)

    def __len__(self) -> int:
        return len(self.plan(self.epoch))

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` produce epoch ``epoch``."""
        self.epoch = int(epoch)

    def _produce(self, item: Any, batch_seed: int) -> MiniBatch:
        if self.threads_per_worker is not None:
            numba.set_num_threads(min(self.threads_per_worker, numba.config.NUMBA_NUM_THREADS))
        batch = self.sampler.sample(item, batch_seed)
        if self.pin_memory:
            batch = batch.pin_memory()
        return batch

    def _deliver(self, batch: MiniBatch) -> MiniBatch:
        if self.device is None:
            return batch
        return batch.to(self.device, non_blocking=self.pin_memory)

    def __iter__(self) -> Iterator[MiniBatch]:
        epoch = self.epoch
        self.epoch += 1
        items = self.plan(epoch)
        seeds = [mix_seed(self.seed, epoch, index) for index in range(len(items))]
        if self.num_workers == 0:
            for item, batch_seed in zip(items, seeds):
                yield self._deliver(self.sampler.sample(item, batch_seed))
            return
        yield from self._iterate_threaded(items, seeds)

    def _iterate_threaded(self, items: list[Any], seeds: list[int]) -> Iterator[MiniBatch]:
        pool = ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="graphscale-loader")
        pending: deque[Future] = deque()
        submitted = 0
        try:
            while submitted < len(items) or pending:
                while submitted < len(items) and len(pending) < self.prefetch:
                    pending.append(pool.submit(self._produce, items[submitted], seeds[submitted]))
                    submitted += 1
                batch = pending.popleft().result()  # re-raises a worker's exception here
                yield self._deliver(batch)
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
