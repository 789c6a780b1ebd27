"""SAGA message passing: the ``saga`` call, builtins (``fn``), edge softmax and segment ops.

``saga()`` is the one door to message passing: its fused path runs the gSpMM / gSDDMM kernels of
:mod:`graphscale.saga.ops`, which are internal (layers and the scale mechanisms never call them directly).
"""

from . import fn
from .edges import Edges
from .engine import saga
from .hetero import hetero_saga
from .ops import edge_softmax
from .relational import gather_mm, relational_saga, segment_mm
from .segment import (
           scatter_reduce,
           segment_max,
           segment_mean,
           segment_min,
           segment_reduce,
           segment_softmax,
           segment_sum,
)

__all__ = [
           "Edges",
           "edge_softmax",
           "fn",
           "gather_mm",
           "hetero_saga",
           "relational_saga",
           "saga",
           "scatter_reduce",
           "segment_max",
           "segment_mean",
           "segment_min",
           "segment_mm",
           "segment_reduce",
           "segment_softmax",
           "segment_sum",
]
