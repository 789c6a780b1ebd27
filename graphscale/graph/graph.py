"""The immutable ``Graph``: COO edges ``src -> dst`` plus lazily cached CSR / CSC.

Data spec (jraph-style; the docstring is the contract):

* ``src``, ``dst``: ``[E]`` integer tensors (int32 when every id fits, else int64), edge ``e`` goes
  ``src[e] -> dst[e]``. Edge order is the user's order; edge features ``[E, ...]`` follow it.
* ``num_src_nodes`` / ``num_dst_nodes``: node counts of the two sides. A plain graph has both equal
  to ``num_nodes``; a ``Block`` (bipartite message-flow graph) may differ.
* ``csr()``: rows are source nodes: ``(indptr [N_src+1] int64, dst ids [E], edge ids [E] int64)``.
* ``csc()``: rows are destination nodes: ``(indptr [N_dst+1] int64, src ids [E], edge ids [E] int64)``.
  The edge ids are the permutation back to edge order (``edge_feat[eids]`` is in CSC order).

Features are never stored on a graph: they travel beside it. Derived structures (CSR/CSC,
degrees, self-loop graph, GCN normalisation) are cached on first use; a graph is never mutated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import GraphFormatError

INT32_MAX = 2**31 - 1


def index_dtype(num_nodes: int) -> torch.dtype:
    """int32 when every node id fits into it, else int64 (halves bandwidth on most graphs)."""
    return torch.int32 if num_nodes <= INT32_MAX else torch.int64


def _as_index_tensor(value: Any, name: str, device: torch.device | None = None) -> Tensor:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise GraphFormatError(
                f"Graph: expected {name} to hold integer node ids, got numpy dtype {value.dtype}. "
                f"Convert with {name}.astype(np.int64)."
            )
        value = torch.from_numpy(np.ascontiguousarray(value).astype(np.int64, copy=False))
    elif not isinstance(value, Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise GraphFormatError(
                f"Graph: expected {name} to be a 1-D tensor of node ids, got {type(value).__name__}."
            ) from err
        if value.numel() == 0:
            value = value.to(torch.int64)
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise GraphFormatError(
            f"Graph: expected {name} to hold integer node ids, got dtype {value.dtype}. "
            f"Convert with {name}.long()."
        )
    if value.dim() != 1:
        raise GraphFormatError(
            f"Graph: expected {name} with 1 dim [E], got shape {tuple(value.shape)}. "
            "Pass edge_index[0] and edge_index[1] separately, or use Graph.from_edge_index."
        )
    if device is not None:
        value = value.to(device)
    return value


def _split_edge_index(edge_index: Any, num_nodes: Any) -> tuple[Tensor, Tensor, Any]:
    """``(sources, destinations, num_nodes)`` of a ``[2, E]`` edge_index given as ``Graph``'s only edge argument.

    Raises:
        GraphFormatError: Anything but a ``[2, E]`` array (an ``[E, 2]`` edge list is named as such).
    """
    ei = torch.from_numpy(edge_index) if isinstance(edge_index, np.ndarray) else torch.as_tensor(edge_index)
    if ei.dim() == 2 and ei.shape[0] == 2:
        return ei[0], ei[1], num_nodes
    hint = " Transpose the [E, 2] edge list with .t()." if ei.dim() == 2 and ei.shape[1] == 2 else ""
    raise GraphFormatError(f"Graph: expected src and dst ([E] each) or one edge_index of shape [2, E], got one "
                           f"argument of shape {tuple(ei.shape)}.{hint} Call Graph(src, dst, num_nodes) or "
                           "Graph(edge_index, num_nodes=N).")


class Graph:
    """Immutable directed graph with edges ``src -> dst``.

    Args:
        src: Source node id of every edge, or a PyG-style ``edge_index [2, E]`` (row 0 the sources, row 1 the
            destinations) with ``dst`` left out: ``Graph(edge_index, num_nodes=N)``.
        dst: Destination node id of every edge.
        num_nodes: Number of nodes; defaults to ``max(id) + 1`` (0 for an empty edge list).
        validate: Check ids are in ``[0, num_nodes)`` (cheap; disable only for trusted input).

    Shapes:
        src, dst: ``[E]`` integer (any int dtype; stored as int32 where ids fit); or src ``[2, E]``.

    Raises:
        GraphFormatError: Non-integer, mismatched, negative or out-of-range ids.

    Example:
        >>> g = Graph(torch.tensor([0, 1]), torch.tensor([1, 2]))
        >>> g.num_nodes, g.num_edges
        (3, 2)
        >>> Graph(torch.tensor([[0, 1], [1, 2]]), num_nodes=4).num_nodes  # edge_index, as in PyG
        4
    """

    def __init__(
        self,
        src: Tensor | np.ndarray | Sequence[int],
        dst: Tensor | np.ndarray | Sequence[int] | None = None,
        num_nodes: int | None = None,
        *,
        validate: bool = True,
    ) -> None:
        if dst is None or isinstance(dst, (int, np.integer)):  # Graph(edge_index[, num_nodes])
            src, dst, num_nodes = _split_edge_index(src, dst if dst is not None else num_nodes)
        src_t = _as_index_tensor(src, "src")
        dst_t = _as_index_tensor(dst, "dst", device=src_t.device)
        if src_t.numel() != dst_t.numel():
            raise GraphFormatError(
                f"Graph: expected src and dst of equal length, got {src_t.numel()} and "
                f"{dst_t.numel()}. Every edge needs one source and one destination."
            )
        if num_nodes is None:
            num_nodes = 0
            if src_t.numel():
                num_nodes = int(max(int(src_t.max()), int(dst_t.max()))) + 1
        self._init(src_t, dst_t, int(num_nodes), int(num_nodes), validate)

    # -- construction helpers -------------------------------------------------------------------
    def _init(self, src: Tensor, dst: Tensor, num_src: int, num_dst: int, validate: bool) -> None:
        if num_src < 0 or num_dst < 0:
            raise GraphFormatError(f"Graph: expected num_nodes >= 0, got {min(num_src, num_dst)}.")
        if validate:
            _check_range(src, num_src, "src")
            _check_range(dst, num_dst, "dst")
        dtype = index_dtype(max(num_src, num_dst))
        self._src = src.to(dtype).contiguous()
        self._dst = dst.to(dtype).contiguous()
        self._num_src = num_src
        self._num_dst = num_dst
        self._cache: dict[str, Any] = {}

    @classmethod
    def _trusted(cls, src: Tensor, dst: Tensor, num_src: int, num_dst: int) -> Graph:
        """Build without validation from tensors this library produced itself."""
        g = cls.__new__(cls)
        g._init(src, dst, num_src, num_dst, validate=False)
        return g

    @classmethod
    def from_edge_index(cls, edge_index: Tensor | np.ndarray, num_nodes: int | None = None) -> Graph:
        """From a PyG-style ``edge_index [2, E]`` (row 0 = source, row 1 = destination)."""
        ei = torch.as_tensor(edge_index) if not isinstance(edge_index, np.ndarray) else torch.from_numpy(edge_index)
        if ei.dim() != 2 or ei.shape[0] != 2:
            raise GraphFormatError(
                f"Graph.from_edge_index: expected edge_index of shape [2, E], got {tuple(ei.shape)}. "
                "Transpose an [E, 2] edge list with .t()."
            )
        return cls(ei[0], ei[1], num_nodes)

    @classmethod
    def from_scipy(cls, matrix: Any) -> Graph:
        """From a square scipy sparse matrix: entry ``(i, j)`` is the edge ``i -> j`` (its values as edge weights:
        :func:`graphscale.interop.from_scipy`)."""
        from ..interop import from_scipy

        return from_scipy(matrix)[0]

    @classmethod
    def from_networkx(cls, nx_graph: Any) -> Graph:
        """From any networkx graph; nodes are relabelled ``0..N-1`` in ``nx_graph.nodes`` order and undirected
        graphs give both directions of every edge (weights and node attributes:
        :func:`graphscale.interop.from_networkx`)."""
        from ..interop import from_networkx

        return from_networkx(nx_graph)[0]

    # -- basic properties -----------------------------------------------------------------------
    @property
    def src(self) -> Tensor:
        """``[E]`` source node ids."""
        return self._src

    @property
    def dst(self) -> Tensor:
        """``[E]`` destination node ids."""
        return self._dst

    @property
    def num_nodes(self) -> int:
        """Number of nodes (of the source side for a bipartite block)."""
        return self._num_src

    @property
    def num_src_nodes(self) -> int:
        return self._num_src

    @property
    def num_dst_nodes(self) -> int:
        return self._num_dst

    @property
    def num_edges(self) -> int:
        return int(self._src.numel())

    @property
    def device(self) -> torch.device:
        return self._src.device

    @property
    def idtype(self) -> torch.dtype:
        """Index dtype of ``src``/``dst`` (int32 or int64)."""
        return self._src.dtype

    @property
    def is_block(self) -> bool:
        return False

    @property
    def edge_index(self) -> Tensor:
        """PyG-style ``[2, E]`` int64 edge index."""
        return torch.stack([self._src.long(), self._dst.long()])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_nodes={self.num_nodes}, num_edges={self.num_edges}, device={self.device})"

    def __len__(self) -> int:
        return self.num_nodes

    # -- cached sparse formats ------------------------------------------------------------------
    def cached(self, key: str, build: Any) -> Any:
        """Return ``self._cache[key]``, computing it with ``build()`` on first use."""
        value = self._cache.get(key)
        if value is None:
            value = build()
            self._cache[key] = value
        return value

    def csr(self) -> tuple[Tensor, Tensor, Tensor]:
        """Rows = source nodes: ``(indptr [N_src+1] int64, dst [E], edge ids [E] int64)``."""
        return self.cached("csr", lambda: _compress(self._src, self._dst, self._num_src))

    def csc(self) -> tuple[Tensor, Tensor, Tensor]:
        """Rows = destination nodes: ``(indptr [N_dst+1] int64, src [E], edge ids [E] int64)``."""
        return self.cached("csc", lambda: _compress(self._dst, self._src, self._num_dst))

    def in_degrees(self) -> Tensor:
        """``[N_dst]`` int64 number of incoming edges per node."""
        return self.cached("in_deg", lambda: self.csc()[0].diff())

    def out_degrees(self) -> Tensor:
        """``[N_src]`` int64 number of outgoing edges per node."""
        return self.cached("out_deg", lambda: self.csr()[0].diff())

    def has_self_loops(self) -> bool:
        return bool((self._src == self._dst).any()) if self.num_edges else False

    # -- conversions ----------------------------------------------------------------------------
    def to(self, device: torch.device | str) -> Graph:
        """Copy to ``device`` (cached sparse formats move along); returns self when already there."""
        device = torch.device(device)
        if device == self.device:
            return self
        g = self.__class__.__new__(self.__class__)
        g.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_cache"})
        g._src = self._src.to(device)
        g._dst = self._dst.to(device)
        g._cache = {}
        for key in ("csr", "csc"):
            if key in self._cache:
                g._cache[key] = tuple(t.to(device) for t in self._cache[key])
        for name, value in list(g.__dict__.items()):
            if isinstance(value, Tensor) and name not in ("_src", "_dst"):
                setattr(g, name, value.to(device))
        return g

    def pin_memory(self) -> Graph:
        g = self.__class__.__new__(self.__class__)
        g.__dict__.update(self.__dict__)
        g._src, g._dst, g._cache = self._src.pin_memory(), self._dst.pin_memory(), {}
        return g

    def to_scipy(self, edge_weight: Tensor | None = None, fmt: str = "csr") -> Any:
        """Adjacency as a scipy sparse matrix ``[N_src, N_dst]`` (duplicates are summed)."""
        import scipy.sparse as sp

        data = np.ones(self.num_edges, dtype=np.float32) if edge_weight is None else edge_weight.detach().cpu().numpy()
        mat = sp.coo_matrix(
            (data, (self._src.cpu().numpy(), self._dst.cpu().numpy())), shape=(self._num_src, self._num_dst)
        )
        return mat.asformat(fmt)

    def to_networkx(self, edge_weight: Tensor | None = None, **node_data: Tensor) -> Any:
        """A ``networkx.MultiDiGraph`` with nodes ``0..N-1``, one edge per graph edge (:func:`graphscale.interop.
        to_networkx`: ``edge_weight`` as the ``weight`` attribute, ``node_data`` tensors as node attributes)."""
        from ..interop import to_networkx

        return to_networkx(self, edge_weight, **node_data)

    # -- transforms (functional; each returns a new graph) ---------------------------------------
    def reverse(self) -> Graph:
        from .transform import reverse

        return reverse(self)

    def add_self_loops(self) -> Graph:
        from .transform import add_self_loops

        return add_self_loops(self)

    def remove_self_loops(self) -> Graph:
        from .transform import remove_self_loops

        return remove_self_loops(self)

    def to_undirected(self) -> Graph:
        from .transform import to_undirected

        return to_undirected(self)

    def subgraph(self, nodes: Tensor) -> Graph:
        from .transform import subgraph

        return subgraph(self, nodes)

    def edge_subgraph(self, edge_ids: Tensor) -> Graph:
        from .transform import edge_subgraph

        return edge_subgraph(self, edge_ids)


def _check_range(ids: Tensor, num_nodes: int, name: str) -> None:
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0:
        pos = int((ids < 0).nonzero()[0, 0])
        raise GraphFormatError(
            f"Graph: {name} holds a negative node id {int(ids[pos])} at position {pos}. "
            "Node ids must be in [0, num_nodes)."
        )
    if high >= num_nodes:
        pos = int((ids >= num_nodes).nonzero()[0, 0])
        raise GraphFormatError(
            f"Graph: {name} node id {int(ids[pos])} at position {pos} is out of range for a graph with "
            f"{num_nodes} nodes. Check that num_nodes covers every id."
        )


def _compress(rows: Tensor, cols: Tensor, num_rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sort edges by ``rows`` (stable) into ``(indptr, cols in row order, edge ids)``."""
    if rows.device.type == "cpu" and rows.numel() > 0:
        from .sort import counting_sort  # (numba loads on first use)

        return counting_sort(rows, cols, num_rows)
    rows_long = rows.long()
    perm = torch.sort(rows_long, stable=True).indices
    counts = torch.bincount(rows_long, minlength=num_rows)
    indptr = torch.zeros(num_rows + 1, dtype=torch.int64, device=rows.device)
    torch.cumsum(counts, 0, out=indptr[1:])
    return indptr, cols[perm].contiguous(), perm
