"""What every sampler shares: the ``MiniBatch`` it emits, the sampler protocol, CSC arrays, scratch maps.

A sampler is two functions a loader calls (PyG's loader/sampler split):

* ``plan(seeds, batch_size, shuffle, rng) -> list[item]``: the work of one epoch (seed chunks, cluster
  groups, subgraph draws), made in the loader's thread with the epoch's ``numpy`` generator;
* ``sample(item, seed) -> MiniBatch``: one batch, run on a background thread (the numba kernels release
  the GIL); ``seed`` is the batch's own seed, so results do not depend on which thread runs it.

``MiniBatch`` is a NamedTuple, so ``graph, input_ids, output_ids, *_ = batch`` unpacks it.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, Protocol

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..errors import SamplingError, ShapeError
from ..graph import Graph

INT32_LIMIT = 2**31 - 1


class MiniBatch(NamedTuple):
    """One mini-batch: a message-flow graph plus the node ids that connect it to the full graph.

    Attributes:
        graph: A list of ``Block`` s, one per message-passing layer, *input layer first* (neighbour
            sampling), or one subgraph ``Graph`` used by every layer (ClusterGCN, GraphSAINT).
        input_ids: ``[N_in]`` int64 full-graph ids of the model's input rows: ``x_in = x[input_ids]``.
        output_ids: ``[B]`` int64 full-graph ids of the nodes the loss (or the prediction) is taken on.
        output_index: ``[B]`` int64 rows of the model output that belong to ``output_ids``; None when the
            output rows are exactly ``output_ids`` in order (neighbour sampling: the last block's dst nodes).
        loss_weight: ``[B]`` float32 per-node loss weights whose weighted *sum* estimates the mean loss over
            the seed nodes (GraphSAINT's ``1 / lambda_v``), or None for a plain mean.
        edge_weight: ``[E]`` float32 aggregation weights of ``graph``'s edges (GraphSAINT's
            ``alpha``-normalisation), or None.
        edge_ids: ``[E]`` int64 full-graph edge ids of a subgraph's edges; None for blocks (each ``Block``
            carries its own ``edge_ids``).
    """

    graph: Any
    input_ids: Tensor
    output_ids: Tensor
    output_index: Tensor | None = None
    loss_weight: Tensor | None = None
    edge_weight: Tensor | None = None
    edge_ids: Tensor | None = None

    @property
    def num_layers(self) -> int | None:
        """Number of blocks, or None for a subgraph batch."""
        return len(self.graph) if isinstance(self.graph, (list, tuple)) else None

    def _map(self, fn_tensor, fn_graph) -> MiniBatch:
        graph = [fn_graph(g) for g in self.graph] if isinstance(self.graph, (list, tuple)) else fn_graph(self.graph)

        def apply(value: Any) -> Any:  # a tensor, or {node type: tensor} of a heterogeneous batch
            if isinstance(value, dict):
                return {key: fn_tensor(item) for key, item in value.items()}
            return None if value is None else fn_tensor(value)

        return MiniBatch(graph, *(apply(t) for t in self[1:]))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> MiniBatch:
        """Copy every tensor and graph to ``device`` (ids, weights, blocks with their ``src_ids`` ...)."""
        device = torch.device(device)
        return self._map(lambda t: t.to(device, non_blocking=non_blocking), lambda g: g.to(device))

    def pin_memory(self) -> MiniBatch:
        """Page-locked copies of the id and weight tensors (for asynchronous host-to-GPU copies)."""
        return self._map(lambda t: t.pin_memory(), lambda g: _pin_graph(g))


def _pin_graph(graph: Graph) -> Graph:
    pinned = graph.pin_memory()
    for name in ("src_ids", "dst_ids", "edge_ids"):
        value = getattr(pinned, name, None)
        if isinstance(value, Tensor):
            setattr(pinned, name, value.pin_memory())
    return pinned


class Sampler(Protocol):
    """The interface ``NodeLoader`` drives (see the module docstring)."""

    num_nodes: int

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[Any]:
        ...

    def sample(self, item: Any, seed: int) -> MiniBatch:
        ...


def csc_arrays(graph: Graph, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``graph.csc()`` as numpy arrays (no copy): ``(indptr int64 [N+1], src ids [E], edge ids int64 [E])``.

    Raises:
        SamplingError: For a graph that is not on the CPU, a Block, or one with more than 2**31 - 1 nodes.
    """
    if not isinstance(graph, Graph):
        raise SamplingError(f"{where}: expected a graphscale Graph, got {type(graph).__name__}.")
    if graph.is_block:
        raise SamplingError(f"{where}: expected a full Graph, got a Block. Sample from the original graph.")
    if graph.device.type != "cpu":
        raise SamplingError(f"{where}: expected a graph on the CPU, got one on {graph.device}. Samplers run on "
                            "the CPU; sample with graph.to('cpu') and move the batches (the loader does).")
    if graph.num_nodes > INT32_LIMIT:
        raise SamplingError(f"{where}: expected at most {INT32_LIMIT} nodes, got {graph.num_nodes}.")
    indptr, indices, eids = graph.csc()
    return indptr.numpy(), indices.numpy(), eids.numpy()


def as_node_ids(values: Any, num_nodes: int, where: str, name: str = "seeds") -> np.ndarray:
    """Node ids (a tensor, array or sequence of ints, or a bool mask of length ``num_nodes``) as int64 numpy.

    Raises:
        ShapeError: Not 1-D, or not integers / a mask of the right length.
        SamplingError: An id outside ``[0, num_nodes)``.
    """
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ShapeError(f"{where}: expected {name} as a 1-D array of node ids, got shape {array.shape}.")
    if array.dtype == np.bool_:
        if array.shape[0] != num_nodes:
            raise ShapeError(f"{where}: expected a {name} mask of length {num_nodes}, got {array.shape[0]}.")
        return np.flatnonzero(array).astype(np.int64)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise ShapeError(f"{where}: expected integer node ids in {name}, got dtype {array.dtype}. "
                         "Convert with .long() / astype(np.int64).")
    array = np.ascontiguousarray(array, dtype=np.int64)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_nodes:
        bad = low if low < 0 else high
        raise SamplingError(f"{where}: {name} holds node id {bad}, out of range for a graph with {num_nodes} "
                            "nodes. Pass ids in [0, num_nodes).")
    return array


def check_edge_weight(edge_weight: Any, num_edges: int, where: str) -> np.ndarray:
    """Per-edge sampling weights as float64 numpy ``[E]`` (finite, >= 0).

    Raises:
        ShapeError: Wrong length or dims.
        SamplingError: Negative, NaN or infinite weights.
    """
    weight = edge_weight.detach().cpu().double().numpy() if isinstance(edge_weight, Tensor) \
        else np.asarray(edge_weight, dtype=np.float64)
    if weight.ndim != 1 or weight.shape[0] != num_edges:
        raise ShapeError(f"{where}: expected edge_weight of shape [{num_edges}] (one per edge), got "
                         f"{tuple(weight.shape)}.")
    if weight.size and not (np.isfinite(weight).all() and weight.min() >= 0):
        raise SamplingError(f"{where}: expected finite edge weights >= 0, got min {weight.min()} and "
                            f"{int((~np.isfinite(weight)).sum())} non-finite values. Clean the weights.")
    return np.ascontiguousarray(weight)


def chunks(ids: np.ndarray, size: int) -> list[np.ndarray]:
    """``ids`` cut into consecutive pieces of ``size`` (the last one may be shorter)."""
    return [ids[start:start + size] for start in range(0, ids.shape[0], size)]


def check_positive(value: Any, name: str, where: str) -> int:
    """An int >= 1 (bools rejected).

    Raises:
        SamplingError: Otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SamplingError(f"{where}: expected {name} as an int >= 1, got {value!r}.")
    return int(value)


class ScratchMap:
    """One ``int32 [num_nodes]`` array per thread mapping full-graph ids to local ids, ``-1`` when unset.

    Kernels set the entries of the nodes they relabel and reset exactly those before returning, so a batch
    costs O(sampled nodes), not O(num_nodes); the array is allocated once per thread.
    """

    def __init__(self, num_nodes: int) -> None:
        self.num_nodes = num_nodes
        self._local = threading.local()

    def get(self) -> np.ndarray:
        array = getattr(self._local, "array", None)
        if array is None:
            array = np.full(self.num_nodes, -1, dtype=np.int32)
            self._local.array = array
        return array


@numba.njit(cache=True, nogil=True, parallel=True)
def sort_rows(indptr, indices, eids):
    """Sort every compressed row of ``indices`` (and ``eids`` with it) by index, stably and in place.

    Shapes:
        indptr: ``[R + 1]`` int64; indices: ``[E]`` integer column ids; eids: ``[E]`` int64 edge ids.
    """
    for row in prange(indptr.shape[0] - 1):
        lo, hi = indptr[row], indptr[row + 1]
        if hi - lo > 1:
            order = np.argsort(indices[lo:hi], kind="mergesort")
            indices[lo:hi] = indices[lo:hi][order]
            eids[lo:hi] = eids[lo:hi][order]
