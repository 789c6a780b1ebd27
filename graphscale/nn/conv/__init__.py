"""Message-passing layers, one per file, each built only on the public SAGA API.

Every layer is a ``torch.nn.Module`` with ``forward(graph, x, ...)`` where ``x`` is ``[N, F]`` for a
``Graph``/``BatchedGraph`` or ``(x_src, x_dst)`` for a ``Block``.
"""

from .appnp import APPNP
from .cheb import ChebConv
from .egc import EGConv
from .gat import GATConv
from .gated_gcn import GatedGCNConv
from .gatv2 import GATv2Conv
from .gcn import GCNConv
from .gin import GINConv
from .gine import GINEConv
from .hetero import HeteroConv
from .hgt import HGTConv
from .rgcn import RGCNConv
from .sage import SAGEConv
from .sgc import SGConv
from .typed_linear import TypedLinear

__all__ = [
           "APPNP",
           "ChebConv",
           "EGConv",
           "GATConv",
           "GATv2Conv",
           "GCNConv",
           "GINConv",
           "GINEConv",
           "GatedGCNConv",
           "HGTConv",
           "HeteroConv",
           "RGCNConv",
           "SAGEConv",
           "SGConv",
           "TypedLinear",
]
