"""``train_embeddings``: walks / edges -> sample pools (background thread) -> SGD on vertex and context tables.

The run is a sequence of pools (episodes), each one epoch of the training engine (:mod:`graphscale.train.loop`).
Pool ``b`` is a pure function of ``(seed, b)``; a background thread fills pool ``b + 1`` (numba kernels, GIL
released) while the trainer consumes pool ``b`` (double buffering with two pool buffers). A checkpoint (the
engine's, every ``checkpoint_every_s`` seconds) holds the tables, the samples done and the index of the next
pool, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

from ..errors import ConfigError, GraphscaleError, warn_once
from ..graph import Graph
from ..loader.node import threadsafe_numba
from ..sampling.alias import build_alias, negative_weights
from ..sampling.rng import mix_seed
from ..train.checkpoint import load_checkpoint
from ..train.loop import FORMAT, Checkpoints, Task, fit
from ..train.runtime import progress_bar
from .feed import Feed, Schedule
from .pool import Pool, fill_edges, fill_walks, keep_probabilities
from .sgd import TorchSGD, sgd_numba
from .walks import WalkGraph, walk_plan

MODELS = ("deepwalk", "node2vec", "line")


@dataclass
class EmbedSettings:
    """Hyper-parameters of one embedding run (see :func:`train_embeddings` for each one's meaning)."""

    model: str = "deepwalk"
    dim: int = 128
    num_walks: int = 80
    walk_length: int = 40
    window: int = 10
    subsample: float = 0.0
    p: float = 1.0
    q: float = 1.0
    order: int = 2
    num_samples: int | None = None
    negatives: int = 3
    negative_weight: float = 2.0
    lr: float = 0.025
    min_lr_fraction: float = 1e-4
    pool_size: int = 1 << 20
    walk_mode: str = "auto"
    backend: str = "numba"
    device: str = "cpu"
    batch_size: int = 65536
    partitions: int = 1
    seed: int = 0

    def check(self) -> None:
        def need(ok: bool, key: str, what: str) -> None:
            if not ok:
                raise ConfigError(f"train_embeddings.{key}: expected {what}, got {getattr(self, key)!r}.")

        need(self.model in MODELS, "model", "one of " + ", ".join(MODELS))
        for key in ("dim", "num_walks", "walk_length", "window", "negatives", "pool_size", "batch_size", "partitions"):
            value = getattr(self, key)
            need(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1, key,
                 "an int >= 1")
        need(self.walk_length >= 2, "walk_length", "an int >= 2")
        for key in ("p", "q", "lr", "negative_weight"):
            need(isinstance(getattr(self, key), (int, float)) and getattr(self, key) > 0, key, "a number > 0")
        need(0 <= self.min_lr_fraction <= 1, "min_lr_fraction", "a number in [0, 1]")
        need(self.order in (1, 2), "order", "1 or 2")
        need(0 <= self.subsample < 1, "subsample", "a number in [0, 1) (0 = off)")
        need(self.num_samples is None or self.num_samples >= 1, "num_samples", "an int >= 1 or None")
        need(self.backend in ("numba", "torch"), "backend", "'numba' or 'torch'")
        need(self.walk_mode in ("auto", "alias", "rejection"), "walk_mode", "'auto', 'alias' or 'rejection'")
        need(self.partitions == 1 or self.backend == "numba", "partitions", "1 with backend 'torch' (partitioned "
             "tables train with the numba trainer)")


@dataclass
class EmbeddingResult:
    """What :func:`train_embeddings` returns.

    Attributes:
        embeddings: ``[N, dim]`` float32 vertex table (the node embeddings).
        context: ``[N, dim]`` float32 context table (the same array for first-order LINE).
        sample_time_s: Seconds spent filling pools (walks, augmentation, negatives); overlapped with training.
        train_time_s: Seconds the trainer spent on SGD.
        total_time_s: Wall time of sampling + training (setup included, compile warm-up excluded).
        setup_time_s: Seconds to build CSR, alias tables and the node2vec tables.
        num_samples: Positive samples trained on.
        samples_per_s: ``num_samples / total_time_s``.
        cpu_time_s: CPU seconds of the process (all threads) over the same span as ``total_time_s``: on a
            shared machine the work done, independent of how much of the cores the run was given.
        loss: Mean SGNS loss of each pool (sampled every 64th sample).
        settings: The hyper-parameters used.
    """

    embeddings: np.ndarray
    context: np.ndarray
    sample_time_s: float
    train_time_s: float
    total_time_s: float
    setup_time_s: float
    num_samples: int
    samples_per_s: float
    loss: list[float] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    walk_mode: str = "uniform"
    cpu_time_s: float = 0.0
    group: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: str | Path, node_ids: list[str] | None = None, name: str = "embeddings") -> Path:
        """Write ``<name>.npy`` (vertex table) and ``<name>.nodes.txt`` (one original node id per row)."""
        from .io import save_embeddings

        return save_embeddings(self.embeddings, folder, node_ids, name)


def _check_settings(model: str, dim: int, settings: dict[str, Any]) -> EmbedSettings:
    unknown = sorted(set(settings) - set(EmbedSettings.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"train_embeddings: expected settings among {sorted(EmbedSettings.__dataclass_fields__)}, "
                          f"got unknown {unknown}.")
    s = EmbedSettings(model=str(model).lower(), dim=dim, **settings)
    s.check()
    return s


def _sampling(graph: Graph | WalkGraph, s: EmbedSettings, edge_weight: Any,
              group: tuple[int, int] = (0, 1)) -> tuple[Any, Schedule, Callable]:
    """The walk plan, the pool schedule and ``fill(pool, b)`` (pool ``b`` as a pure function of the seed; in a
    group of ``(rank, world)`` rank ``r`` fills its share of it: every ``world``-th walk, or its slice of edges)."""
    rank, world = group
    pq = (s.p, s.q) if s.model == "node2vec" else (1.0, 1.0)
    plan = walk_plan(graph, *pq, edge_weight=edge_weight, mode=s.walk_mode, where="train_embeddings")
    wg = plan.graph
    n, degree = wg.num_nodes, wg.row_weight
    neg_prob, neg_alias = build_alias(negative_weights(degree))
    has_edges = np.flatnonzero(wg.out_degrees() > 0)
    if has_edges.size == 0:
        raise GraphscaleError("train_embeddings: expected a graph with at least one edge, got none.")
    schedule = Schedule(s, has_edges)
    if s.model == "line":
        src = np.repeat(np.arange(n, dtype=np.int32), wg.out_degrees())
        edge_prob, edge_alias = build_alias(wg.weight) if wg.weighted else (np.ones(1, np.float32),
                                                                           np.zeros(1, np.int32))

        def fill(pool: Pool, b: int) -> None:
            count = schedule.count(b)
            fill_edges(pool, src, wg.indices, edge_prob, edge_alias, wg.weighted, neg_prob, neg_alias, n,
                       count * (rank + 1) // world - count * rank // world, s.seed, b * world + rank)
    else:
        keep = keep_probabilities(degree / degree.sum(), s.subsample) if s.subsample > 0 else None

        def fill(pool: Pool, b: int) -> None:
            fill_walks(pool, plan, schedule.starts(b)[rank::world], s.walk_length, s.window, neg_prob, neg_alias,
                       s.seed, b * world + rank, keep)
    return plan, schedule, fill


def _resumable(checkpoint: Path | None, resume: bool, header: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: start afresh).

    Raises:
        GraphscaleError: A checkpoint of other settings, another graph or another trainer.
    """
    saved = load_checkpoint(checkpoint) if resume and checkpoint is not None else None
    if saved is None:
        return None
    if saved.get("format") != FORMAT or {k: saved.get(k) for k in header} != header:
        raise GraphscaleError(f"checkpoint '{checkpoint}': expected a run with the same settings and graph "
                              f"({header['num_nodes']} nodes), got {saved.get('settings')}. Delete it or drop "
                              "--resume.")
    return saved


class _Tables:
    """The vertex and context tables and the SGD that trains them, pool by pool: the engine task's state."""

    def __init__(self, s: EmbedSettings, num_nodes: int, total: int) -> None:
        rng = np.random.default_rng(mix_seed(s.seed, 17))
        self.vertex = ((rng.random((num_nodes, s.dim), dtype=np.float32) - 0.5) / s.dim).astype(np.float32)
        self.context = (self.vertex if (s.model == "line" and s.order == 1)
                        else np.zeros((num_nodes, s.dim), dtype=np.float32))
        self.torch_sgd = TorchSGD(self.vertex, self.context, s.device, s.batch_size) if s.backend == "torch" else None
        self.s, self.total = s, total
        self.done, self.sample_time, self.train_time = 0, 0.0, 0.0
        self.feed: Feed | None = None

    def train_pool(self, b: int) -> dict[str, float]:
        """One engine epoch: SGD over pool ``b``."""
        s = self.s
        pool, seconds = self.feed.take(b)
        self.sample_time += seconds
        start = time.perf_counter()
        args = (pool.center, pool.context, pool.negatives, pool.count, s.negatives, s.lr, s.min_lr_fraction,
                self.done, self.total, s.negative_weight)
        if self.torch_sgd is not None:
            loss_sum, counted = self.torch_sgd.step(*args)
        else:
            loss_sum, counted = sgd_numba(self.vertex, self.context, *args, 64, numba.get_num_threads())
        self.train_time += time.perf_counter() - start
        self.done += pool.count
        self.feed.give_back(pool)
        return {"train_loss": float(loss_sum / max(counted, 1))}

    def finish(self) -> None:
        """Bring the tables up to date (the torch trainer copies them back from the device)."""
        if self.torch_sgd is not None:
            self.torch_sgd.finish()

    def state(self) -> dict[str, Any]:
        self.finish()
        return {"vertex": torch.from_numpy(self.vertex.copy()), "context": torch.from_numpy(self.context.copy()),
                "done": self.done}

    def load(self, state: dict[str, Any], epoch: int) -> None:
        self.vertex[...] = state["vertex"].numpy()
        if self.context is not self.vertex:
            self.context[...] = state["context"].numpy()
        self.done = int(state["done"])


def train_embeddings(graph: Graph | WalkGraph, model: str = "deepwalk", dim: int = 128, *, edge_weight: Any = None,
                     progress: bool = False, checkpoint: str | Path | None = None, resume: bool = False,
                     checkpoint_every_s: float = 60.0, overlap: bool = True, sampler_threads: int | None = None,
                     group: tuple[int, int] = (0, 1), on_epoch: Callable[[dict[str, Any]], None] | None = None,
                     **settings: Any) -> EmbeddingResult:
    """Train node embeddings with DeepWalk, node2vec or LINE (GraphVite-style engine).

    Each pool is one epoch of the training engine (:func:`graphscale.train.loop.fit`): its checkpoints
    (the tables, the samples done, the loss curve) and resume, its progress bar.

    Args:
        graph: The graph (undirected graphs store both directions); ``WalkGraph`` to reuse a prepared one.
        model: ``"deepwalk"`` (uniform walks), ``"node2vec"`` (``p``, ``q``) or ``"line"`` (edge samples;
            ``order`` 1 or 2).
        dim: Embedding size.
        edge_weight: ``[E]`` non-negative weights (walk steps and LINE edges proportional to them).
        progress: tqdm bar on stderr (one step per pool).
        checkpoint: File to write the tables to every ``checkpoint_every_s`` seconds and at the end.
        resume: Continue from ``checkpoint`` when it exists (same settings required).
        overlap: Fill the next pool on a background thread while training (double buffering); off under
            numba's workqueue threading layer, which cannot run kernels from two threads.
        sampler_threads: numba threads of the pool-filling thread; None = 1 for the numba trainer (which
            keeps the cores busy itself), all for the torch trainer (the GPU trains, the CPU samples).
        **settings: num_walks (80), walk_length (40), window (10, the augmentation distance), p, q (1),
            order (2), subsample (0 = off; word2vec's frequent-node threshold, e.g. 1e-3), num_samples
            (positive samples; default from the walk settings), negatives (3), negative_weight (2.0), lr
            (0.025), min_lr_fraction (1e-4), pool_size (2**20 samples), walk_mode ("auto" / "alias" /
            "rejection"), backend ("numba" | "torch"), device ("cpu"), batch_size (torch path), partitions
            (1; > 1 trains the tables in partitions, block by block: :mod:`graphscale.embed.partitioned`),
            seed (0).
        on_epoch: Called after every pool with ``{"epoch", "train_loss"}`` (e.g. a TensorBoard log).
        group: ``(rank, world size)`` of the torchrun group that trains the partitioned tables together (every
            rank calls this with the same arguments; all return the whole tables).

    Returns:
        :class:`EmbeddingResult` with the ``[N, dim]`` embeddings and the timings.
    """
    s = _check_settings(model, dim, settings)
    world = group[1]
    t0, cpu0 = time.perf_counter(), time.process_time()
    plan, schedule, fill = _sampling(graph, s, edge_weight, group)
    n = plan.graph.num_nodes
    settings_dict = {k: getattr(s, k) for k in EmbedSettings.__dataclass_fields__}
    header = {"kind": "embed", "num_nodes": n,
              "settings": {k: v for k, v in settings_dict.items() if k not in ("backend", "device", "batch_size")},
              **({"world_size": world} if world > 1 else {})}
    path = Path(checkpoint) if checkpoint is not None else None
    tables, checkpoints, saved = _tables_for(s, plan, schedule, header, path, resume, checkpoint_every_s, group)
    setup = time.perf_counter() - t0
    if sampler_threads is None:
        sampler_threads = 1 if getattr(tables, "torch_sgd", None) is None else numba.get_num_threads()
    if overlap and not threadsafe_numba():
        warn_once("train_embeddings: numba's workqueue threading layer cannot run kernels from two threads; "
                  "pools are filled between training steps instead (install tbb or use OpenMP to overlap).")
        overlap = False
    task = Task(None, None, None, tables.train_pool, dict, torch.device(s.device), extra_state=tables.state,
                load_extra_state=tables.load, evaluate_every=0)
    tables.feed = Feed(fill, saved["epoch"] if saved else 0, schedule.num_pools, schedule.pool_capacity(),
                        s.negatives, overlap, sampler_threads)
    bar = progress_bar(schedule.num_pools, f"{s.model} ({n} nodes)", progress)
    try:
        _, history = fit(task, schedule.num_pools, lambda fitted: {"num_samples": tables.done},
                         checkpoints=checkpoints, saved=saved, bar=bar, on_epoch=on_epoch)
    finally:
        tables.feed.close()
        bar.close()
    tables.finish()
    group_summary: dict[str, Any] = {}
    if isinstance(tables, _Tables):
        vertex, context = tables.vertex, tables.context
    else:
        vertex, context = tables.assemble()
        group_summary = {"world_size": world, "partitions": tables.parts,
                         "bytes_sent_per_pool": tables.bytes_sent() / max(schedule.num_pools, 1)}
    total = time.perf_counter() - t0
    return EmbeddingResult(vertex, context, tables.sample_time, tables.train_time, total, setup,
                           tables.done, tables.done / max(total, 1e-9), list(history.get("train_loss", [])),
                           settings_dict, plan.mode_name, time.process_time() - cpu0, group_summary)


def _tables_for(s: EmbedSettings, plan: Any, schedule: Schedule, header: dict[str, Any], path: Path | None,
                resume: bool, every_s: float, group: tuple[int, int]) -> tuple[Any, Checkpoints | None, Any]:
    """``(the tables, their checkpoints, the checkpoint to continue from)``: whole tables in one process, or
    partitioned ones (:mod:`graphscale.embed.partitioned`) with one checkpoint shard per rank."""
    n = plan.graph.num_nodes
    if s.partitions > 1 or group[1] > 1:
        from .partitioned import PartitionedTables

        tables: Any = PartitionedTables(s, n, schedule.total, plan.graph.row_weight, s.partitions, *group)
        if group[1] > 1:  # one shard per rank
            return (tables, *_sharded(path, header, group, resume, schedule.num_pools))
    else:
        tables = _Tables(s, n, schedule.total)
    checkpoints = Checkpoints(path, 0, header, every_s=every_s) if path else None
    return tables, checkpoints, _resumable(path, resume, header)


def _sharded(path: Path | None, header: dict[str, Any], group: tuple[int, int], resume: bool,
             num_pools: int) -> tuple[Checkpoints | None, dict[str, Any] | None]:
    """Checkpoints of a partitioned run: one shard per rank plus a manifest under ``<checkpoint>-shards/``
    (:mod:`graphscale.train.shards`), every tenth of the pools (a collective: all ranks save alike)."""
    if path is None:
        return None, None
    from ..train.shards import ShardedCheckpoints, load_shard

    folder = path.with_name(path.stem + "-shards")
    shards = ShardedCheckpoints(folder, max(1, num_pools // 10), header, rank=group[0], world_size=group[1])
    saved = load_shard(folder, group[0], group[1], None, "embed",
                       check=lambda shard: _resumable(shard, True, header)) if resume else None
    return shards, saved
