"""CUDA kernels: torch ops (no E x F buffers where avoidable); Triton where it pays."""

from . import reference

# Temporary: the fused numba kernels replace these (same semantics as reference.py).
def gspmm(graph, op, reduce, lhs, rhs):
    return reference.gspmm(graph.src, graph.dst, graph.num_dst_nodes, op, reduce, lhs, rhs)


def gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
    return reference.gsddmm(graph.src, graph.dst, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph, logits):
    return reference.edge_softmax(graph.dst, graph.num_dst_nodes, logits)

