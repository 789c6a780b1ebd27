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

from ..errors import GraphFormatError, ShapeError

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


class Graph:
    """Immutable directed graph with edges ``src -> dst``.

    Args:
        src: Source node id of every edge.
        dst: Destination node id of every edge.
        num_nodes: Number of nodes; defaults to ``max(id) + 1`` (0 for an empty edge list).
        validate: Check ids are in ``[0, num_nodes)`` (cheap; disable only for trusted input).

    Shapes:
        src, dst: ``[E]`` integer (any int dtype; stored as int32 where ids fit).

    Raises:
        GraphFormatError: Non-integer, mismatched, negative or out-of-range ids.

    Example:
        >>> g = Graph(torch.tensor([0, 1]), torch.tensor([1, 2]))
        >>> g.num_nodes, g.num_edges
        (3, 2)
    """

    def __init__(
        self,
        src: Tensor | np.ndarray | Sequence[int],
        dst: Tensor | np.ndarray | Sequence[int],
        num_nodes: int | None = None,
        *,
        validate: bool = True,
    ) -> None:
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
        """From a square scipy sparse matrix: entry ``(i, j)`` is the edge ``i -> j``."""
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise GraphFormatError(f"Graph.from_scipy: expected a scipy sparse matrix, got {type(matrix).__name__}.")
        if matrix.shape[0] != matrix.shape[1]:
            raise GraphFormatError(
                f"Graph.from_scipy: expected a square adjacency matrix, got shape {matrix.shape}."
            )
        coo = matrix.tocoo()
        return cls(coo.row.astype(np.int64), coo.col.astype(np.int64), matrix.shape[0])

    @classmethod
    def from_networkx(cls, nx_graph: Any) -> Graph:
        """From a networkx graph; nodes are relabelled ``0..N-1`` in ``nx_graph.nodes`` order.

        Undirected networkx graphs give both directions of every edge.
        """
        mapping = {node: i for i, node in enumerate(nx_graph.nodes)}
        pairs = [(mapping[u], mapping[v]) for u, v in nx_graph.edges]
        src = [p[0] for p in pairs]
        dst = [p[1] for p in pairs]
        if not nx_graph.is_directed():
            src, dst = src + dst, dst + src
        return cls(torch.tensor(src, dtype=torch.int64), torch.tensor(dst, dtype=torch.int64), len(mapping))

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

    def to_networkx(self) -> Any:
        """A ``networkx.MultiDiGraph`` with nodes ``0..N-1`` and one edge per graph edge."""
        import networkx as nx

        g = nx.MultiDiGraph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from(zip(self._src.tolist(), self._dst.tolist()))
        return g

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


def check_node_features(
    graph: Graph, x: Tensor, dim: int | None = None, name: str = "x", *, side: str = "src",
    check_finite: bool = False, where: str = "check_node_features",
) -> None:
    """Validate a node-feature tensor against ``graph``.

    Shapes:
        x: ``[N, F]`` (or ``[N, *]``) with ``N`` = nodes of ``side`` ("src" or "dst").

    Raises:
        ShapeError: Wrong row count, wrong feature size, or NaN/inf when ``check_finite``.
    """
    if not isinstance(x, Tensor):
        raise ShapeError(f"{where}: expected {name} to be a torch.Tensor, got {type(x).__name__}.")
    expected_rows = graph.num_src_nodes if side == "src" else graph.num_dst_nodes
    if x.dim() < 1 or x.shape[0] != expected_rows:
        raise ShapeError(
            f"{where}: expected {name} with one row per node ({expected_rows} rows), got shape "
            f"{tuple(x.shape)}. Features travel beside the graph: pass x[N, F] for this graph."
        )
    if dim is not None and (x.dim() != 2 or x.shape[1] != dim):
        raise ShapeError(
            f"{where}: expected {name} of shape [N, {dim}], got {tuple(x.shape)}. "
            + ("Reshape with x.unsqueeze(-1) if each node has one feature." if x.dim() == 1 else
               "Check the layer's in_dim.")
        )
    if check_finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).nonzero()[0, 0])
        raise ShapeError(f"{where}: {name} holds NaN or inf at row {bad}. Clean or impute the features.")
