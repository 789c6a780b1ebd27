"""PyG ``HeteroData`` and DGL heterographs to and from :class:`~graphscale.datasets.HeteroNodeDataset`.

Reading never imports torch_geometric or dgl (anything with their attributes works); writing imports them and
names the package to install when it is missing. The target type is the node type that carries labels (``y`` in
PyG, ``label`` in DGL); the split masks are read from and written to it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .errors import GraphFormatError
from .graph.hetero import HeteroGraph
from .interop import require

MASKS = ("train_mask", "val_mask", "test_mask")


def _target(labelled: list[str], where: str) -> str:
    if len(labelled) != 1:
        raise GraphFormatError(f"{where}: expected labels on exactly one node type (the target), got "
                               f"{labelled or 'none'}. Keep y / label on the type to classify.")
    return labelled[0]


def _dataset(name: str, graph: HeteroGraph, x: dict[str, Tensor], target: str, y: Tensor,
             masks: dict[str, Tensor | None]) -> Any:
    from .datasets.hetero import HeteroNodeDataset

    y = y.long()
    classes = int(y.max()) + 1 if y.numel() and int(y.max()) >= 0 else 0
    return HeteroNodeDataset(name, graph, {t: v.float() for t, v in x.items()}, target, y, classes,
                             *(masks.get(k) for k in MASKS))


def from_pyg_hetero(data: Any, name: str = "pyg") -> Any:
    """A PyG ``HeteroData``: ``data.node_types`` with ``data[t].num_nodes`` (and ``x``), ``data.edge_types`` with
    ``data[e].edge_index``, ``y`` and the masks on one node type."""
    counts = {t: int(data[t].num_nodes) for t in data.node_types}
    edges = {tuple(e): (torch.as_tensor(data[e].edge_index)[0], torch.as_tensor(data[e].edge_index)[1])
             for e in data.edge_types}
    graph = HeteroGraph(counts, edges)
    x = {t: data[t].x for t in data.node_types if getattr(data[t], "x", None) is not None}
    target = _target([t for t in data.node_types if getattr(data[t], "y", None) is not None], "from_pyg")
    masks = {k: getattr(data[target], k, None) for k in MASKS}
    return _dataset(name, graph, x, target, data[target].y, masks)


def to_pyg_hetero(dataset: Any) -> Any:
    """A :class:`~graphscale.datasets.HeteroNodeDataset` as a PyG ``HeteroData``."""
    data = require("torch_geometric.data", "to_pyg", "Install it (pip install torch_geometric) to convert to "
                   "PyG.").HeteroData()
    for t in dataset.graph.ntypes:
        data[t].num_nodes = dataset.graph.num_nodes(t)
        if t in dataset.x:
            data[t].x = dataset.x[t]
    for etype, rel in dataset.graph.relations():
        data[etype].edge_index = torch.stack([rel.src.long(), rel.dst.long()])
    data[dataset.target].y = dataset.y
    for key in MASKS:
        if getattr(dataset, key) is not None:
            setattr(data[dataset.target], key, getattr(dataset, key))
    return data


def from_dgl_hetero(graph: Any, name: str = "dgl") -> Any:
    """A DGL heterograph: ``graph.ntypes``, ``graph.canonical_etypes``, ``graph.num_nodes(t)``,
    ``graph.edges(etype=e)`` and ``graph.nodes[t].data`` (``feat`` / ``x``, ``label`` / ``y``, the masks)."""
    counts = {t: int(graph.num_nodes(t)) for t in graph.ntypes}
    edges = {}
    for etype in graph.canonical_etypes:
        src, dst = graph.edges(etype=etype)
        edges[tuple(etype)] = (torch.as_tensor(src), torch.as_tensor(dst))
    out = HeteroGraph(counts, edges)
    data = {t: graph.nodes[t].data for t in graph.ntypes}
    x = {t: next(d[k] for k in ("feat", "x") if k in d) for t, d in data.items() if "feat" in d or "x" in d}
    target = _target([t for t, d in data.items() if "label" in d or "y" in d], "from_dgl")
    labels = data[target]["label"] if "label" in data[target] else data[target]["y"]
    return _dataset(name, out, x, target, labels, {k: data[target][k] if k in data[target] else None  # noqa: SIM401
                                                   for k in MASKS})


def to_dgl_hetero(dataset: Any) -> Any:
    """A :class:`~graphscale.datasets.HeteroNodeDataset` as a DGL heterograph (``feat``, ``label``, masks)."""
    dgl = require("dgl", "to_dgl", "Install it (see dgl.ai) to convert to DGL.")
    graph = dataset.graph
    out = dgl.heterograph({e: (r.src.long(), r.dst.long()) for e, r in graph.relations()},
                          num_nodes_dict=graph.num_nodes_dict)
    for t, value in dataset.x.items():
        out.nodes[t].data["feat"] = value
    out.nodes[dataset.target].data["label"] = dataset.y
    for key in MASKS:
        if getattr(dataset, key) is not None:
            out.nodes[dataset.target].data[key] = getattr(dataset, key)
    return out


__all__ = ["from_dgl_hetero", "from_pyg_hetero", "to_dgl_hetero", "to_pyg_hetero"]
