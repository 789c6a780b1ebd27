"""Graph structures: ``Graph``, ``Block``, ``BatchedGraph`` and functional transforms."""

from .batch import BatchedGraph, batch, unbatch
from .block import Block, to_block
from .checks import check_graph_argument, check_node_features
from .graph import Graph, index_dtype
from .hetero import HeteroGraph
from .hetero_batch import BatchedHeteroGraph, batch_hetero, unbatch_hetero
from .hetero_block import HeteroBlock
from .transform import (
                        add_self_loops,
                        coalesce,
                        edge_subgraph,
                        gcn_norm,
                        remove_self_loops,
                        reverse,
                        subgraph,
                        to_undirected,
)

__all__ = [
                        "BatchedGraph",
                        "BatchedHeteroGraph",
                        "Block",
                        "Graph",
                        "HeteroBlock",
                        "HeteroGraph",
                        "add_self_loops",
                        "batch",
                        "batch_hetero",
                        "check_graph_argument",
                        "check_node_features",
                        "coalesce",
                        "edge_subgraph",
                        "gcn_norm",
                        "index_dtype",
                        "remove_self_loops",
                        "reverse",
                        "subgraph",
                        "to_block",
                        "to_undirected",
                        "unbatch",
                        "unbatch_hetero",
]
