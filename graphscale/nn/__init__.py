"""Neural-network layers, readouts and model registries built on the SAGA message-passing API.

* ``graphscale.nn.conv``: one message-passing layer per file (GCN, GraphSAGE, GAT, GATv2, GIN, GINE,
  GatedGCN, APPNP, SGC, Chebyshev).
* ``graphscale.nn.pool``: sum / mean / max readouts and attention pooling over a ``BatchedGraph``.
* ``build_node_model`` / ``build_graph_model``: name -> model with paper defaults.
"""

from . import conv, graph_models, pool
from .conv import APPNP, ChebConv, GATConv, GatedGCNConv, GATv2Conv, GCNConv, GINConv, GINEConv, SAGEConv, SGConv
from .models import GRAPH_MODELS, NODE_MODELS, build_graph_model, build_node_model
from .pool import GlobalAttentionPooling, MaxPooling, MeanPooling, SumPooling, readout

__all__ = [
           "APPNP",
           "GRAPH_MODELS",
           "NODE_MODELS",
           "ChebConv",
           "GATConv",
           "GATv2Conv",
           "GCNConv",
           "GINConv",
           "GINEConv",
           "GatedGCNConv",
           "GlobalAttentionPooling",
           "MaxPooling",
           "MeanPooling",
           "SAGEConv",
           "SGConv",
           "SumPooling",
           "build_graph_model",
           "build_node_model",
           "conv",
           "graph_models",
           "pool",
           "readout",
]
from . import pprgo as pprgo  # registers "pprgo" in NODE_MODELS
