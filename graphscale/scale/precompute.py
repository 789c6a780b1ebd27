"""Precomputed propagation: SGC (Wu et al., ICML 2019) and SIGN (Frasca et al., 2020, arXiv:2004.11198).

Both models move all message passing into a preprocessing step run once, then train a graph-free model
on node mini-batches (or one full batch):

* SGC: logistic regression on :math:`S^K X`, with :math:`S = \\hat D^{-1/2}(A + I)\\hat D^{-1/2}` (hparam
  ``norm: gcn``, the papers') or the neighbour mean :math:`S = D^{-1} A` (``norm: mean``);
* SIGN: the operators :math:`[X, S X, \\dots, S^K X]` (optionally also the personalised-PageRank
  diffusion :math:`\\Pi X`, :math:`\\Pi = \\alpha \\sum_t ((1 - \\alpha) S)^t` truncated at ``ppr_steps``),
  each through its own linear branch, concatenated, then an MLP.

With edge weights ``w`` (``NodeDataset.edge_weight``, the weight column of a custom ``edges.csv``) ``A`` is the
weighted adjacency: "gcn" normalises ``A_w + I`` by its weighted degrees (as ``GCNConv`` / ``SGConv`` do with
``edge_weight``), "mean" takes the weighted mean ``sum_u w_uv h_u / sum_u w_uv``. All-one weights give the
unweighted operators exactly.

``propagate`` computes :math:`S h` in chunks of destination rows through ``saga()`` (its fused weighted-sum kernel):
a chunk is a ``Block`` holding the in-edges of its rows (sources are all ``N`` nodes), so the working set
is one chunk of edges plus one chunk of output rows. ``precompute_features`` keeps the operators in
memory, or, when they do not fit in half of ``memory_budget``, writes each to a ``.npy`` memmap in a
temporary folder and trains from those files (out of core). The adjacency itself stays in memory. The
training run around the operators is :func:`graphscale.train.precomputed.train_precomputed`.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..config.schema import parse_size
from ..errors import ConfigError, ShapeError
from ..graph import Block, Graph, add_self_loops
from ..nn.conv.normalization import symmetric_norm
from ..nn.models import check_edge_weight
from ..saga import fn, saga
from .sign import NORMS, PRECOMPUTED_MODELS, SIGN, SGCHead

DEFAULT_CHUNK_EDGES = 1 << 22
ROW_CACHE_BYTES = 256 * 2**20


def budget_bytes(value: float | str | None, where: str = "memory_budget") -> int | None:
    """Bytes of a memory budget (None: no budget): a size string read by :func:`graphscale.config.parse_size`
    (``"6GB"``, ``"512MB"``, ``"1.5G"``; binary units) or a number of bytes.

    Raises:
        ConfigError: Naming ``where``, for anything else or a size that is not positive.
    """
    if value is None:
        return None
    if isinstance(value, float) and value >= 1:
        value = int(value)
    try:
        return parse_size(value)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}. Write a size such as 6GB, 512MB or a number of bytes.") from None


class PropagationOperator:
    """The propagation operator ``S`` in CSC form: :math:`\\hat D^{-1/2}(A + I)\\hat D^{-1/2}` (``norm="gcn"``,
    the one ``SGConv`` propagates with) or :math:`D^{-1} A` (``norm="mean"``: the mean over in-neighbours,
    GraphSAGE's aggregator, no self-loops).

    With ``edge_weight`` (``[E]``, finite and non-negative) ``A`` is the weighted adjacency: "gcn" adds
    self-loops of weight 1 and normalises by the weighted degrees, "mean" divides each weight by the sum of
    its destination's in-edge weights (0 where that sum is 0).

    Attributes:
        indptr: ``[N+1]`` int64; src: ``[E']`` source ids by destination; weight: ``[E']`` float32 (``E' = E + N``
        with "gcn"'s self-loops, ``E`` with "mean").
    """

    def __init__(self, graph: Graph, norm: str = "gcn", edge_weight: Tensor | None = None) -> None:
        self.num_nodes = graph.num_nodes
        weight = None if edge_weight is None else edge_weight.detach().float()
        if norm == "gcn":
            if weight is None:
                looped = add_self_loops(graph)
            else:
                looped, weight = add_self_loops(graph, weight)
            indptr, src, edge_ids = looped.csc()
            self.weight = symmetric_norm(looped, torch.float32, weight).index_select(0, edge_ids)
        elif norm == "mean":
            indptr, src, edge_ids = graph.csc()
            degree = indptr.diff()
            if weight is None:
                self.weight = torch.repeat_interleave(1.0 / degree.clamp(min=1).float(), degree)
            else:
                weight = weight.index_select(0, edge_ids)  # CSC order
                total = torch.repeat_interleave(torch.segment_reduce(weight, "sum", lengths=degree), degree)
                self.weight = torch.where(total > 0, weight / total.clamp(min=torch.finfo(torch.float32).tiny),
                                          torch.zeros_like(weight))
        else:
            raise ConfigError(f"precompute: norm: expected one of {list(NORMS)}, got {norm!r}.")
        self.indptr, self.src = indptr, src

    def chunks(self, max_edges: int) -> list[tuple[int, int]]:
        """Consecutive destination-row ranges ``[start, end)`` holding at most ``max_edges`` edges each
        (a single row with more edges is its own chunk)."""
        indptr = self.indptr.numpy()
        bounds, start = [], 0
        while start < self.num_nodes:
            end = int(np.searchsorted(indptr, indptr[start] + max_edges, side="right")) - 1
            end = min(max(end, start + 1), self.num_nodes)
            bounds.append((start, end))
            start = end
        return bounds

    def block(self, start: int, end: int) -> tuple[Block, Tensor]:
        """Rows ``[start, end)`` as a Block (sources: all nodes) and its ``[E_chunk]`` weights."""
        first, last = int(self.indptr[start]), int(self.indptr[end])
        local_ptr = self.indptr[start:end + 1] - first
        dst = torch.repeat_interleave(torch.arange(end - start), local_ptr.diff())
        src = self.src[first:last]
        block = Block(src, dst.to(src.dtype), self.num_nodes, end - start, validate=False)
        block.cached("csc", lambda: (local_ptr, src, torch.arange(last - first)))  # already sorted by row
        return block, self.weight[first:last]


def propagate(adjacency: PropagationOperator, h: Tensor, out: Tensor, max_edges: int = DEFAULT_CHUNK_EDGES,
              scale: float = 1.0, add: Tensor | None = None, add_scale: float = 1.0) -> Tensor:
    """``out = scale * S h (+ add_scale * add)``, one chunk of destination rows at a time.

    ``h``, ``out`` and ``add`` may be views of memmaps (``torch.from_numpy``); ``out`` must not alias
    ``h``.

    Shapes:
        h: ``[N, F]`` float32; out: ``[N, F]``; add: ``[N, F]`` or None.
    """
    for start, end in adjacency.chunks(max_edges):
        block, weight = adjacency.block(start, end)
        part = saga(block, src=h, edge=weight, apply_edge=fn.src_mul_edge)  # [end - start, F]
        if scale != 1.0:
            part.mul_(scale)
        if add is not None:
            part.add_(add[start:end], alpha=add_scale)
        out[start:end] = part
    return out


class PrecomputedFeatures:
    """The operator outputs ``[X_0, X_1, ...]`` (each ``[N, F]``), in memory or as ``.npy`` memmaps.

    ``rows(ids)`` gathers a batch from every operator; ``folder`` (out of core) is deleted by ``close``
    or when the object is garbage-collected.
    """

    def __init__(self, operators: list[Tensor], folder: Path | None = None) -> None:
        self.operators, self.folder = operators, folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True) if folder is not None else None

    out_of_core = property(lambda self: self.folder is not None, doc="Whether the operators are memmaps.")

    def rows(self, ids: Tensor, device: torch.device | str = "cpu") -> list[Tensor]:
        """``[op[ids] for op in operators]`` on ``device``; ``ids`` ``[B]`` int64."""
        ids = ids.cpu()
        if self.out_of_core:  # read the files in ascending row order, then restore the batch order
            order = torch.argsort(ids)
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(order.numel())
            rows = [op.index_select(0, ids[order]).index_select(0, inverse) for op in self.operators]
        else:
            rows = [op.index_select(0, ids) for op in self.operators]
        return [r.to(device, non_blocking=True) for r in rows]

    def close(self) -> None:
        """Drop the operators and delete the memmap folder."""
        self.operators = []
        if self._cleanup is not None:
            self._cleanup()


def precompute_features(graph: Graph, x: Tensor, hops: int, *, keep_all: bool = True, ppr_alpha: float | None = None,
                        ppr_steps: int = 10, memory_budget: int | str | None = None,
                        folder: str | Path | None = None, out_of_core: bool | None = None,
                        norm: str = "gcn", edge_weight: Tensor | None = None) -> PrecomputedFeatures:
    """``[X, S X, ..., S^hops X]`` (or only ``S^hops X`` when not ``keep_all``), plus ``Pi X`` with ``ppr_alpha``.

    Args:
        graph: The full graph (CPU).
        x: Node features (CPU).
        hops: Largest power ``K`` of ``S`` (0 keeps ``X`` alone).
        keep_all: Keep every power (SIGN); False keeps ``S^K X`` only (SGC).
        ppr_alpha: Teleport probability of an extra PPR operator; None: none.
        ppr_steps: Power-iteration steps of the PPR operator.
        memory_budget: Bytes (or "6GB") for the operators and the chunk work; None: no limit (in memory).
        folder: Where memmaps go (a temporary folder inside it is made and later removed); None: the
            system's temporary folder.
        out_of_core: Force memmaps (True) or memory (False); None decides from ``memory_budget``.
        norm: The operator ``S``: "gcn" (``D^-1/2 (A + I) D^-1/2``) or "mean" (``D^-1 A``, no self-loops).
        edge_weight: Weights of the graph's edges (``A`` becomes the weighted adjacency); None: all 1.

    Shapes:
        x: ``[N, F]``; edge_weight: ``[E]``; every operator: ``[N, F]`` float32.

    Raises:
        ShapeError: ``x`` without one row per node, ``edge_weight`` not ``[E]`` float.
        DatasetError: NaN, infinite or negative edge weights.
    """
    if x.dim() != 2 or x.shape[0] != graph.num_nodes:
        raise ShapeError(f"precompute_features: expected x of shape [{graph.num_nodes}, F], got {tuple(x.shape)}.")
    if edge_weight is not None:
        check_edge_weight(graph, edge_weight, "precompute_features: edge_weight")
    budget = budget_bytes(memory_budget)
    num_nodes, width = x.shape
    kept = (hops if keep_all else 1) + (ppr_alpha is not None)  # outputs besides X
    row_bytes = 4 * width
    if out_of_core is None:
        out_of_core = budget is not None and (kept + 1) * num_nodes * row_bytes > budget // 2
    max_edges = DEFAULT_CHUNK_EDGES
    if budget is not None:  # a chunk: its edges (ids, weights, kernel scratch) plus its output rows
        average_degree = max(1.0, (graph.num_edges + num_nodes) / max(num_nodes, 1))
        max_edges = max(1, min(max_edges, budget // 8 // int(32 + row_bytes / average_degree)))
    adjacency = PropagationOperator(graph, norm, edge_weight)
    directory = Path(tempfile.mkdtemp(prefix="graphscale-precompute-", dir=folder)) if out_of_core else None

    def new(name: str) -> Tensor:
        if directory is None:
            return torch.empty(num_nodes, width, dtype=torch.float32)
        array = np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+", dtype=np.float32,
                                          shape=(num_nodes, width))
        return torch.from_numpy(array)

    def drop(tensor: Tensor, name: str) -> None:
        if directory is not None and tensor is not base:
            (directory / f"{name}.npy").unlink(missing_ok=True)

    try:
        base = x.detach().float().contiguous()  # the caller's tensor, never copied to disk
        operators, h, h_name = [base] if keep_all or hops == 0 else [], base, "x"
        for k in range(1, hops + 1):
            out = propagate(adjacency, h, new(f"s{k}"), max_edges)
            if keep_all or k == hops:
                operators.append(out)
            if not keep_all and h is not base:
                drop(h, h_name)
            h, h_name = out, f"s{k}"
        if ppr_alpha is not None:  # z <- (1 - alpha) S z + alpha x, from z = x
            z, z_name = base, "x"
            for t in range(ppr_steps):
                out = propagate(adjacency, z, new(f"ppr{t}"), max_edges, 1.0 - ppr_alpha, base, ppr_alpha)
                if z is not base:
                    drop(z, z_name)
                z, z_name = out, f"ppr{t}"
            operators.append(z)
    except BaseException:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return PrecomputedFeatures(operators, directory)


_FEATURES: dict[tuple, tuple[weakref.ref, weakref.ref, weakref.ref | None, PrecomputedFeatures]] = {}


def cached_features(graph: Graph, x: Tensor, key: tuple, build: Callable[[], PrecomputedFeatures],
                    edge_weight: Tensor | None = None) -> PrecomputedFeatures:
    """``build()``, reused while the same graph, feature and edge-weight tensor objects (or no weights) come
    back with the same ``key`` (one entry: the runs of a multi-seed experiment share one precomputation)."""
    entry = _FEATURES.get(key)
    if entry is not None and entry[0]() is graph and entry[1]() is x and (
            entry[2] is None if edge_weight is None else entry[2] is not None and entry[2]() is edge_weight):
        return entry[3]
    for old in _FEATURES.values():
        old[3].close()
    _FEATURES.clear()
    features = build()
    _FEATURES[key] = (weakref.ref(graph), weakref.ref(x), None if edge_weight is None else weakref.ref(edge_weight),
                      features)
    return features


__all__ = [
    "PRECOMPUTED_MODELS",
    "SIGN",
    "PrecomputedFeatures",
    "PropagationOperator",
    "SGCHead",
    "budget_bytes",
    "cached_features",
    "precompute_features",
    "propagate",
]
