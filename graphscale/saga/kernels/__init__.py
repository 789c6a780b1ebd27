"""Sparse kernels: ``reference`` (torch oracle), ``cpu`` + ``cpu_kernels`` (numba), ``cuda`` (torch ops,
``triton_kernels`` when Triton is installed), and ``autograd`` (the differentiable ops they share)."""
