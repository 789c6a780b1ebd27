"""SAGA message passing: the ``saga`` call, builtins (``fn``), sparse ops and segment ops."""

from . import fn
from .edges import Edges
from .engine import saga
from .ops import edge_softmax, gsddmm, gspmm
from .segment import scatter_reduce, segment_max, segment_mean, segment_min, segment_reduce, segment_softmax, segment_sum

__all__ = ["saga", "fn", "Edges", "gspmm", "gsddmm", "edge_softmax", "segment_reduce", "scatter_reduce",
           "segment_sum", "segment_mean", "segment_max", "segment_min", "segment_softmax"]
