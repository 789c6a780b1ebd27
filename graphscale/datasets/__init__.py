"""Datasets: loaders of the published files, synthetic graphs, generators and the registry.

``load(name_or_path, root=None, **options)`` returns a ``NodeDataset`` (node classification, with
train/val/test masks), a ``GraphDataset`` (graph classification) or a ``HeteroNodeDataset`` (heterogeneous node
classification: ogbn-mag, synthetic-mag, a folder with ``nodes/`` and ``edges/``); ``available()`` lists every registered
dataset and whether its files are present under the data root (``root`` > ``$GRAPHSCALE_DATA`` >
``~/.cache/graphscale``).

Example:
    >>> import graphscale.datasets as gd
    >>> cora = gd.load("cora")          # NodeDataset, 2708 nodes, public Planetoid split
    >>> mutag = gd.load("mutag")        # GraphDataset, 188 graphs
    >>> toy = gd.load("synthetic")      # no files needed
"""

from __future__ import annotations

from .base import GraphDataset, NodeDataset, normalize_features, per_class_split, random_split
from .custom import load_custom
from .generators import (
    chung_lu,
    degree_corrected_sbm,
    pairs_to_graph,
    power_law_graph,
    power_law_weights,
    rmat,
    stochastic_block_model,
    symmetrize,
)
from .geomgcn import load_geomgcn
from .hetero import HeteroNodeDataset, is_hetero_folder, load_hetero_folder, save_hetero_folder
from .io import data_root, fetch, load_pickle, open_binary, open_text
from .musae import load_musae
from .npz import load_npz
from .ogb_mag import OGB_MAG_URL, find_mag_folder, load_ogb_mag
from .planetoid import load_planetoid
from .registry import REGISTRY, DatasetSpec, available, get_spec, load, names, register
from .synthetic import load_synthetic, load_synthetic_arxiv, load_synthetic_products
from .synthetic_mag import MagSpec, load_synthetic_mag
from .tu import load_tu

__all__ = [
    "OGB_MAG_URL",
    "REGISTRY",
    "DatasetSpec",
    "GraphDataset",
    "HeteroNodeDataset",
    "MagSpec",
    "NodeDataset",
    "available",
    "chung_lu",
    "data_root",
    "degree_corrected_sbm",
    "fetch",
    "find_mag_folder",
    "get_spec",
    "is_hetero_folder",
    "load",
    "load_custom",
    "load_geomgcn",
    "load_hetero_folder",
    "load_musae",
    "load_npz",
    "load_ogb_mag",
    "load_pickle",
    "load_planetoid",
    "load_synthetic",
    "load_synthetic_arxiv",
    "load_synthetic_mag",
    "load_synthetic_products",
    "load_tu",
    "names",
    "normalize_features",
    "open_binary",
    "open_text",
    "pairs_to_graph",
    "per_class_split",
    "power_law_graph",
    "power_law_weights",
    "random_split",
    "register",
    "rmat",
    "save_hetero_folder",
    "stochastic_block_model",
    "symmetrize",
]
