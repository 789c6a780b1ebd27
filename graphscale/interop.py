"""Round trips with networkx, scipy and PyG-style ``edge_index``, keeping node order, edge order where the
other side has one, and edge weights (features never live on a :class:`~graphscale.graph.Graph`: they travel
beside it, so these functions take and return them explicitly).

    >>> nx_graph = to_networkx(graph, edge_weight=w, x=x, y=y)    # MultiDiGraph, attributes "weight", "x", "y"
    >>> graph, w, nodes = from_networkx(nx_graph)                 # nodes["x"], nodes["y"] stacked as tensors
    >>> graph, w = from_scipy(to_scipy(graph, w))                 # weights kept (duplicates summed)
    >>> graph = Graph(to_edge_index(graph), num_nodes=graph.num_nodes)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import GraphFormatError
from .graph import Graph


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


__all__ = ["from_networkx", "from_scipy", "to_edge_index", "to_networkx", "to_scipy"]
