"""Mini-batch samplers (numba, parallel, seeded): neighbour sampling into Blocks, ClusterGCN, GraphSAINT.

Every sampler is driven by ``graphscale.loader.NodeLoader`` through ``plan`` / ``sample`` and emits a
``MiniBatch``; the functional entry points (``sample_neighbors``, ``in_edge_walks``, ``metis_partition``)
work without a loader. Randomness is counter-based (``rng.py``): a batch depends on its seed only, never
on the number of threads.
"""

from .base import MiniBatch, Sampler
from .cluster import ClusterSampler, cluster_cache_dir, graph_hash, metis_partition
from .neighbor import NeighborSampler, sample_neighbors
from .rng import mix_seed
from .saint import SaintEdgeSampler, SaintNodeSampler, SaintRandomWalkSampler, SaintSampler
from .subgraph import induced_subgraph
from .walks import in_edge_walks

__all__ = [
    "ClusterSampler",
    "MiniBatch",
    "NeighborSampler",
    "SaintEdgeSampler",
    "SaintNodeSampler",
    "SaintRandomWalkSampler",
    "SaintSampler",
    "Sampler",
    "cluster_cache_dir",
    "graph_hash",
    "in_edge_walks",
    "induced_subgraph",
    "metis_partition",
    "mix_seed",
    "sample_neighbors",
]
