"""Sparse kernels: ``reference`` (torch oracle), ``cpu`` (numba), ``cuda`` (torch ops / Triton)."""
