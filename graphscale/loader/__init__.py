"""Loaders: mini-batch iteration with background-thread prefetch over graphscale's samplers.

``NodeLoader(sampler, seeds, batch_size, ...)`` drives any sampler of :mod:`graphscale.sampling`
(neighbour sampling, ClusterGCN, GraphSAINT) and yields ``MiniBatch`` es.
"""

from ..sampling.base import MiniBatch
from .node import NodeLoader

__all__ = ["MiniBatch", "NodeLoader"]
