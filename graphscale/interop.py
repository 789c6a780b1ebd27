"""Round trips with networkx, scipy and PyG-style ``edge_index``, keeping node order, edge order where the
other side has one, and edge weights (features never live on a :class:`~graphscale.graph.Graph`: they travel
beside it, so these functions take and return them explicitly).

    >>> nx_graph = to_networkx(graph, edge_weight=w, x=x, y=y)    # MultiDiGraph, attributes "weight", "x", "y"
    >>> graph, w, nodes = from_networkx(nx_graph)                 # nodes["x"], nodes["y"] stacked as tensors
    >>> graph, w = from_scipy(to_scipy(graph, w))                 # weights kept (duplicates summed)
    >>> graph = Graph(to_edge_index(graph), num_nodes=graph.num_nodes)
    >>> dataset = from_pyg(data); data = to_pyg(dataset)           # PyG Data <-> NodeDataset (also from_dgl / to_dgl)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import GraphFormatError
from .graph import Graph
from .graph.hetero import HeteroGraph


def to_edge_index(graph: Graph) -> Tensor:
    """``[2, E]`` int64 (row 0 the sources), the edges in the graph's order."""
    return torch.stack([graph.src.long(), graph.dst.long()])


def to_networkx(graph: Graph, edge_weight: Tensor | None = None, **node_data: Tensor) -> Any:
    """A ``networkx.MultiDiGraph`` with nodes ``0..N-1`` and one edge per graph edge, in the graph's edge order;
    ``edge_weight`` becomes the edge attribute ``weight``, each ``node_data`` tensor (``[N, ...]``) the node
    attribute of its name (rows as Python lists, scalars as numbers)."""
    import networkx as nx

    out = nx.MultiDiGraph()
    n = graph.num_nodes
    attrs = {}
    for name, value in node_data.items():
        if value is None:
            continue
        if value.shape[0] != n:
            raise GraphFormatError(f"to_networkx: expected {name} with one row per node ({n}), got shape "
                                   f"{tuple(value.shape)}.")
        attrs[name] = value.detach().cpu().tolist()
    out.add_nodes_from((i, {k: v[i] for k, v in attrs.items()}) for i in range(n))
    src, dst = graph.src.tolist(), graph.dst.tolist()
    if edge_weight is None:
        out.add_edges_from(zip(src, dst, strict=True))
    else:
        weights = edge_weight.detach().cpu().tolist()
        out.add_edges_from((u, v, {"weight": w}) for u, v, w in zip(src, dst, weights, strict=True))
    return out


def from_networkx(nx_graph: Any, edge_attr: str | None = "weight") -> tuple[Graph, Tensor | None, dict[str, Tensor]]:
    """``(graph, edge weights, node attributes)`` of any networkx graph (Graph, DiGraph, MultiGraph,
    MultiDiGraph).

    Nodes are numbered ``0..N-1`` in ``nx_graph.nodes`` order; edges keep networkx's order (parallel edges
    too); an undirected graph gives both directions of every edge (the reverse edges after the forward
    ones). ``edge_attr`` of every edge becomes the weights (None when no edge has it); node attributes that
    every node has become tensors stacked in node order (floats as float32; non-numeric ones are left out).
    """
    mapping = {node: i for i, node in enumerate(nx_graph.nodes)}
    edges = list(nx_graph.edges(data=True))
    src = torch.tensor([mapping[u] for u, _, _ in edges], dtype=torch.int64)
    dst = torch.tensor([mapping[v] for _, v, _ in edges], dtype=torch.int64)
    weight = None
    if edge_attr is not None and edges and any(edge_attr in data for _, _, data in edges):
        weight = torch.tensor([float(data.get(edge_attr, 1.0)) for _, _, data in edges], dtype=torch.float32)
    if not nx_graph.is_directed():
        src, dst = torch.cat([src, dst]), torch.cat([dst, src])
        weight = None if weight is None else torch.cat([weight, weight])
    nodes: dict[str, Tensor] = {}
    data = [attributes for _, attributes in nx_graph.nodes(data=True)]
    for name in set.intersection(*(set(d) for d in data)) if data else ():
        try:
            value = torch.as_tensor(np.asarray([d[name] for d in data]))
            nodes[name] = value.float() if value.dtype.is_floating_point else value
        except (TypeError, ValueError, RuntimeError):
            continue  # not numeric: stays in networkx
    return Graph(src, dst, len(mapping)), weight, nodes


def to_scipy(graph: Graph, edge_weight: Tensor | None = None, fmt: str = "csr") -> Any:
    """The adjacency ``[N_src, N_dst]`` as a scipy sparse matrix (entry ``(i, j)``: the edge ``i -> j``, its
    weight or 1; parallel edges summed)."""
    return graph.to_scipy(edge_weight, fmt)


def from_scipy(matrix: Any) -> tuple[Graph, Tensor]:
    """``(graph, edge weights)`` of a square scipy sparse matrix: one edge per stored entry, row-major order."""
    import scipy.sparse as sp

    if not sp.issparse(matrix):
        raise GraphFormatError(f"from_scipy: expected a scipy sparse matrix, got {type(matrix).__name__}.")
    if matrix.shape[0] != matrix.shape[1]:
        raise GraphFormatError(f"from_scipy: expected a square adjacency matrix, got shape {matrix.shape}.")
    coo = sp.coo_matrix(matrix)
    order = np.lexsort((coo.col, coo.row))
    return (Graph(torch.from_numpy(coo.row[order].astype(np.int64)), torch.from_numpy(coo.col[order].astype(np.int64)),
                  matrix.shape[0]),
            torch.from_numpy(np.asarray(coo.data[order], dtype=np.float32)))


# -- PyG and DGL (their packages imported only by to_pyg / to_dgl) ---------------------------------------------
NODE_KEYS = {"x": ("x", "feat"), "y": ("y", "label"), "train_mask": ("train_mask",), "val_mask": ("val_mask",),
             "test_mask": ("test_mask",)}


def _dataset(name: str, graph: Graph, found: dict[str, Tensor | None], edge_weight: Tensor | None) -> Any:
    from .datasets.base import NodeDataset

    n = graph.num_nodes
    x = found["x"] if found["x"] is not None else torch.zeros(n, 0)
    y = found["y"] if found["y"] is not None else torch.full((n,), -1, dtype=torch.int64)
    y = y.long() if not y.dtype.is_floating_point or y.dim() == 1 else y.float()
    classes = int(y.shape[1]) if y.dim() == 2 else int(y.max()) + 1 if y.numel() and int(y.max()) >= 0 else 0
    return NodeDataset(name, graph, x.float(), y, classes, found["train_mask"], found["val_mask"],
                       found["test_mask"], edge_weight=None if edge_weight is None else edge_weight.float())


def require(module: str, where: str, fix: str) -> Any:
    """Import ``module`` (a peer package) or raise GraphscaleError naming ``where`` and how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        from .errors import GraphscaleError

        raise GraphscaleError(f"{where}: expected {module.split('.')[0]} installed, got none. {fix}") from None


def from_pyg(data: Any, name: str = "pyg") -> Any:
    """A PyTorch Geometric ``Data`` as a :class:`~graphscale.datasets.NodeDataset` (edges in PyG's order;
    ``x``, ``y``, the split masks and ``edge_weight`` when present; anything with ``edge_index`` and
    ``num_nodes`` attributes works, so torch_geometric is not imported). A ``HeteroData`` (it has
    ``edge_types``) becomes a :class:`~graphscale.datasets.HeteroNodeDataset` (:func:`graphscale.interop_hetero.
    from_pyg_hetero`)."""
    if hasattr(data, "edge_types") and hasattr(data, "node_types"):
        from .interop_hetero import from_pyg_hetero

        return from_pyg_hetero(data, name)
    graph = Graph(torch.as_tensor(data.edge_index), num_nodes=int(data.num_nodes))
    found = {key: next((getattr(data, n) for n in names if getattr(data, n, None) is not None), None)
             for key, names in NODE_KEYS.items()}
    return _dataset(name, graph, found, getattr(data, "edge_weight", None))


def to_pyg(dataset: Any) -> Any:
    """A :class:`~graphscale.datasets.NodeDataset` as a PyG ``Data`` (``edge_index``, ``num_nodes``, ``x``, ``y``,
    the masks, ``edge_weight``).

    Raises:
        GraphscaleError: torch_geometric is not installed.
    """
    if isinstance(dataset.graph, HeteroGraph):
        from .interop_hetero import to_pyg_hetero

        return to_pyg_hetero(dataset)
    Data = require("torch_geometric.data", "to_pyg", "Install it (pip install torch_geometric) to convert to "
                   "PyG.").Data
    fields = {"train_mask": dataset.train_mask, "val_mask": dataset.val_mask, "test_mask": dataset.test_mask,
              "edge_weight": dataset.edge_weight}
    return Data(edge_index=to_edge_index(dataset.graph), num_nodes=dataset.num_nodes, x=dataset.x, y=dataset.y,
                **{k: v for k, v in fields.items() if v is not None})


def from_dgl(graph: Any, name: str = "dgl") -> Any:
    """A homogeneous ``dgl.DGLGraph`` as a :class:`~graphscale.datasets.NodeDataset` (``ndata`` ``feat`` / ``x``,
    ``label`` / ``y``, the split masks; ``edata["weight"]``); dgl is not imported. A heterograph (several node or
    edge types) becomes a :class:`~graphscale.datasets.HeteroNodeDataset` (:func:`graphscale.interop_hetero.
    from_dgl_hetero`)."""
    if len(getattr(graph, "ntypes", ())) > 1 or len(getattr(graph, "canonical_etypes", ())) > 1:
        from .interop_hetero import from_dgl_hetero

        return from_dgl_hetero(graph, name)
    src, dst = graph.edges()
    out = Graph(torch.as_tensor(src), torch.as_tensor(dst), int(graph.num_nodes()))
    ndata = graph.ndata
    found = {key: next((ndata[n] for n in names if n in ndata), None) for key, names in NODE_KEYS.items()}
    return _dataset(name, out, found, graph.edata.get("weight"))


def to_dgl(dataset: Any) -> Any:
    """A :class:`~graphscale.datasets.NodeDataset` as a ``dgl.DGLGraph`` (``ndata`` feat, label, masks;
    ``edata["weight"]``).

    Raises:
        GraphscaleError: dgl is not installed.
    """
    if isinstance(dataset.graph, HeteroGraph):
        from .interop_hetero import to_dgl_hetero

        return to_dgl_hetero(dataset)
    dgl = require("dgl", "to_dgl", "Install it (see dgl.ai) to convert to DGL.")
    out = dgl.graph((dataset.graph.src.long(), dataset.graph.dst.long()), num_nodes=dataset.num_nodes)
    out.ndata["feat"], out.ndata["label"] = dataset.x, dataset.y
    for key in ("train_mask", "val_mask", "test_mask"):
        if getattr(dataset, key) is not None:
            out.ndata[key] = getattr(dataset, key)
    if dataset.edge_weight is not None:
        out.edata["weight"] = dataset.edge_weight
    return out


__all__ = ["from_dgl", "from_networkx", "from_pyg", "from_scipy", "to_dgl", "to_edge_index", "to_networkx",
           "to_pyg", "to_scipy"]
