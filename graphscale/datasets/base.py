"""Dataset containers shared by every loader, trainer and benchmark."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..graph import Graph


@dataclass
class NodeDataset:
    """One graph with node features, labels and split masks (node classification).

    Attributes:
        name: Registry name ("cora", "synthetic", or the folder name of a custom dataset).
        graph: The graph; undirected datasets store both directions of every edge.
        x: ``[N, F]`` float32 node features.
        y: ``[N]`` int64 class ids (``-1`` = unlabelled), or ``[N, C]`` float 0/1 for multi-label.
        train_mask, val_mask, test_mask: ``[N]`` bool, or ``[N, S]`` bool for ``S`` published splits
            (Geom-GCN sets have 10); None when the dataset has no split.
        num_classes: Number of classes ``C``.
        edge_weight: ``[E]`` float32 edge weights, or None.
        meta: Free-form facts (source file, citation, split name ...).
    """

    name: str
    graph: Graph
    x: Tensor
    y: Tensor
    num_classes: int
    train_mask: Tensor | None = None
    val_mask: Tensor | None = None
    test_mask: Tensor | None = None
    edge_weight: Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_splits(self) -> int:
        """Number of published splits (1 for a single split, 0 when there is none)."""
        if self.train_mask is None:
            return 0
        return 1 if self.train_mask.dim() == 1 else int(self.train_mask.shape[1])

    def split(self, index: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """``(train, val, test)`` ``[N]`` bool masks of split ``index``."""
        masks = (self.train_mask, self.val_mask, self.test_mask)
        if masks[0] is None:
            raise ValueError(f"{self.name}: the dataset has no split; make one with random_split().")
        if masks[0].dim() == 1:
            return masks  # type: ignore[return-value]
        return tuple(m[:, index % m.shape[1]] for m in masks)  # type: ignore[return-value]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> NodeDataset:
        """A copy with the graph, features, labels, masks and edge weights on ``device`` (``meta`` shared)."""
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return dataclasses.replace(self, graph=self.graph.to(device), x=move(self.x), y=move(self.y),
                                   train_mask=move(self.train_mask), val_mask=move(self.val_mask),
                                   test_mask=move(self.test_mask), edge_weight=move(self.edge_weight))

    def __repr__(self) -> str:
        return (f"NodeDataset({self.name!r}, num_nodes={self.num_nodes}, num_edges={self.graph.num_edges}, "
                f"num_features={self.num_features}, num_classes={self.num_classes}, splits={self.num_splits})")


@dataclass
class GraphDataset:
    """Many small graphs with a label each (graph classification).

    Attributes:
        graphs: One ``Graph`` per sample (undirected graphs store both directions).
        xs: Node features per graph, ``[N_i, F]`` float32 (one-hot node labels and/or attributes).
        y: ``[B]`` int64 graph labels in ``[0, num_classes)``.
        edge_attrs: Edge features per graph ``[E_i, F_e]`` float32, or None.
    """

    name: str
    graphs: list[Graph]
    xs: list[Tensor]
    y: Tensor
    num_classes: int
    edge_attrs: list[Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.graphs)

    @property
    def num_features(self) -> int:
        return int(self.xs[0].shape[1]) if self.xs else 0

    @property
    def num_edge_features(self) -> int:
        return int(self.edge_attrs[0].shape[1]) if self.edge_attrs else 0

    def to(self, device: torch.device | str, non_blocking: bool = False) -> GraphDataset:
        """A copy with every graph, feature and label tensor on ``device``."""
        return dataclasses.replace(
            self, graphs=[g.to(device) for g in self.graphs], xs=[x.to(device, non_blocking=non_blocking)
                                                                 for x in self.xs],
            y=self.y.to(device, non_blocking=non_blocking),
            edge_attrs=None if self.edge_attrs is None else [e.to(device, non_blocking=non_blocking)
                                                             for e in self.edge_attrs])

    def __repr__(self) -> str:
        return (f"GraphDataset({self.name!r}, num_graphs={len(self)}, num_features={self.num_features}, "
                f"num_classes={self.num_classes})")


def normalize_features(dataset: NodeDataset) -> NodeDataset:
    """A copy whose feature rows are divided by their sum (zero rows stay zero): the GCN paper's preprocessing of
    the Planetoid sets (PyG's ``NormalizeFeatures``); ``data.normalize_features: true`` in a config."""
    return dataclasses.replace(dataset, x=normalize_rows(dataset.x))


def normalize_rows(x: Tensor) -> Tensor:
    """``x`` (float) with every row divided by its sum; zero rows stay zero."""
    x = x.float()
    return x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)


def random_split(num_nodes: int, train: float = 0.6, val: float = 0.2, seed: int = 0,
                 labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded random ``(train, val, test)`` masks; nodes with label ``-1`` are left out."""
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.arange(num_nodes) if labels is None or labels.dim() != 1 else (labels >= 0).nonzero().view(-1)
    perm = candidates[torch.randperm(candidates.numel(), generator=generator)]
    n_train, n_val = round(train * perm.numel()), round(val * perm.numel())
    masks = [torch.zeros(num_nodes, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_train]] = True
    masks[1][perm[n_train:n_train + n_val]] = True
    masks[2][perm[n_train + n_val:]] = True
    return masks[0], masks[1], masks[2]


def per_class_split(labels: Tensor, num_train_per_class: int = 20, num_val_per_class: int = 30,
                    seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded ``(train, val, test)`` masks with ``num_train_per_class`` / ``num_val_per_class`` nodes of every
    class (fewer when a class is small); all other labelled nodes are test, label ``-1`` nodes are left out."""
    generator = torch.Generator().manual_seed(seed)
    num_nodes = labels.shape[0]
    masks = [torch.zeros(num_nodes, dtype=torch.bool) for _ in range(3)]
    for cls in torch.unique(labels[labels >= 0]).tolist():
        members = (labels == cls).nonzero().view(-1)
        members = members[torch.randperm(members.numel(), generator=generator)]
        masks[0][members[:num_train_per_class]] = True
        masks[1][members[num_train_per_class:num_train_per_class + num_val_per_class]] = True
        masks[2][members[num_train_per_class + num_val_per_class:]] = True
    return masks[0], masks[1], masks[2]
