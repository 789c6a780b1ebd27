"""Builtin edge functions and reducers of the SAGA call, written out so grep and IDEs see them.

An edge function names what one edge computes from what Scatter declared (``src=``, ``dst=``,
``edge=``). When ``apply_edge`` and ``gather`` are both builtins, ``saga`` runs one fused kernel:

* gSpMM family (message from the source node and/or the edge, reduced at dst):
  ``copy_src``, ``copy_edge``, ``src_mul_edge``, ``src_add_edge``, ``src_sub_edge``, ``src_div_edge``.
* gSDDMM family (one value per edge from both endpoints):
  ``src_add_dst``, ``src_sub_dst``, ``src_mul_dst``, ``src_dot_dst``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinEdgeFunction:
    """A builtin ApplyEdge: ``kernel`` is "spmm" or "sddmm", ``op`` the binary operator, ``lhs``/``rhs``
    the Scatter slots it reads ("src", "dst", "edge" or None)."""

    name: str
    kernel: str
    op: str
    lhs: str | None
    rhs: str | None

    def __repr__(self) -> str:
        return f"fn.{self.name}"


@dataclass(frozen=True)
class BuiltinReducer:
    """A builtin Gather: sum, mean, max or min over the incoming edges of each destination."""

    name: str

    def __repr__(self) -> str:
        return f"fn.{self.name}"


copy_src = BuiltinEdgeFunction("copy_src", "spmm", "copy_lhs", "src", None)
copy_edge = BuiltinEdgeFunction("copy_edge", "spmm", "copy_rhs", None, "edge")
src_mul_edge = BuiltinEdgeFunction("src_mul_edge", "spmm", "mul", "src", "edge")
src_add_edge = BuiltinEdgeFunction("src_add_edge", "spmm", "add", "src", "edge")
src_sub_edge = BuiltinEdgeFunction("src_sub_edge", "spmm", "sub", "src", "edge")
src_div_edge = BuiltinEdgeFunction("src_div_edge", "spmm", "div", "src", "edge")
src_add_dst = BuiltinEdgeFunction("src_add_dst", "sddmm", "add", "src", "dst")
src_sub_dst = BuiltinEdgeFunction("src_sub_dst", "sddmm", "sub", "src", "dst")
src_mul_dst = BuiltinEdgeFunction("src_mul_dst", "sddmm", "mul", "src", "dst")
src_dot_dst = BuiltinEdgeFunction("src_dot_dst", "sddmm", "dot", "src", "dst")

sum = BuiltinReducer("sum")
mean = BuiltinReducer("mean")
max = BuiltinReducer("max")
min = BuiltinReducer("min")

EDGE_FUNCTIONS = {f.name: f for f in (copy_src, copy_edge, src_mul_edge, src_add_edge, src_sub_edge,
                                      src_div_edge, src_add_dst, src_sub_dst, src_mul_dst, src_dot_dst)}
REDUCERS = {r.name: r for r in (sum, mean, max, min)}

__all__ = ["EDGE_FUNCTIONS", "REDUCERS", "BuiltinEdgeFunction", "BuiltinReducer", "copy_edge", "copy_src",
           "max", "mean", "min", "src_add_dst", "src_add_edge", "src_div_edge", "src_dot_dst", "src_mul_dst",
           "src_mul_edge", "src_sub_dst", "src_sub_edge", "sum"]
assert set(__all__) >= {*EDGE_FUNCTIONS, *REDUCERS}  # every builtin is exported
