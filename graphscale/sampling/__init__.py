"""Mini-batch samplers (numba, parallel, seeded): neighbour sampling into Blocks, ClusterGCN, GraphSAINT.

Every sampler is driven by ``graphscale.loader.NodeLoader`` through ``plan`` / ``sample`` and emits a
``MiniBatch``; the functional entry points (``sample_neighbors``, ``random_walks``, ``metis_partition``)
work without a loader. Randomness is counter-based (``rng.py``): a batch depends on its seed only, never
on the number of threads.
"""

from .base import MiniBatch, Sampler
from .cluster import ClusterSampler, cluster_cache_dir, graph_hash, metis_partition
from .neighbor import NeighborSampler, sample_neighbors
from .rng import mix_seed
from .saint import SaintEdgeSampler, SaintNodeSampler, SaintRandomWalkSampler, SaintSampler
from .subgraph import induced_subgraph
from .walks import random_walks

__all__ = [
    "MiniBatch", "Sampler", "NeighborSampler", "sample_neighbors", "ClusterSampler", "metis_partition",
    "cluster_cache_dir", "graph_hash", "SaintSampler", "SaintNodeSampler", "SaintEdgeSampler",
    "SaintRandomWalkSampler", "random_walks", "induced_subgraph", "mix_seed",
]
