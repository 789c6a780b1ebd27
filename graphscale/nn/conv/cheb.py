"""ChebConv: Chebyshev spectral graph convolution (Defferrard, Bresson & Vandergheynst, NeurIPS 2016)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, require_square, split_features
from .normalization import symmetric_norm, without_self_loops


class ChebConv(nn.Module):
    r"""Chebyshev convolution of Defferrard et al., "Convolutional Neural Networks on Graphs with Fast
    Localized Spectral Filtering", NeurIPS 2016 (arXiv:1606.09375).

    .. math::
        H' = \sum_{k=0}^{K-1} T_k(\tilde L)\, X\, \Theta_k + b, \qquad
        \tilde L = \frac{2}{\lambda_{max}} L - I, \qquad L = I - D^{-1/2} A D^{-1/2}

    with :math:`T_0 = I`, :math:`T_1 = \tilde L`, :math:`T_k = 2 \tilde L T_{k-1} - T_{k-2}`. Self-loops of
    the input graph are ignored (``A`` has a zero diagonal); degrees are out-degrees of the source and
    in-degrees of the destination (identical on an undirected graph). ``lambda_max = 2`` (the default,
    as in Kipf & Welling's comparison) gives :math:`\tilde L = -D^{-1/2} A D^{-1/2}`.

    Dataflow (NGra): when ``out_dim < in_dim`` the ``K`` projections run first and the sum of polynomials
    is evaluated with Clenshaw's recurrence on ``F_out``-wide features (``K - 1`` sparse products, like
    the forward recurrence on ``F_in``-wide features used otherwise).

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F_out``.
        K: Number of Chebyshev terms (filter of order ``K - 1``, ``K``-hop localised).
        lambda_max: Largest eigenvalue of ``L`` used for rescaling (at most 2 for the normalised Laplacian).
        bias: Learn an additive bias.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes (a ``Block`` only with ``N_src == N_dst``).
        x: ``[N, F_in]``; returns ``[N, F_out]``.

    Raises:
        GraphFormatError: A Block with more source than destination nodes.
    """

    def __init__(self, in_dim: int, out_dim: int, K: int = 3, *, lambda_max: float = 2.0,
                 bias: bool = True) -> None:
        super().__init__()
        if int(K) < 1:
            raise ConfigError(f"ChebConv: expected K >= 1, got {K}.")
        self.in_dim, self.out_dim, self.K, self.lambda_max = in_dim, out_dim, int(K), float(lambda_max)
        self.weight = nn.Parameter(torch.empty(self.K, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for k in range(self.K):
            nn.init.xavier_uniform_(self.weight[k].T)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: NodeInput) -> Tensor:
        where = "ChebConv.forward"
        require_square(graph, where, x)
        x, _ = split_features(graph, x, self.in_dim, where)
        graph = without_self_loops(graph)
        norm = symmetric_norm(graph, x.dtype)
        scale = 2.0 / self.lambda_max

        def laplacian(h: Tensor) -> Tensor:  # L~ h = (2/lambda - 1) h - (2/lambda) D^-1/2 A D^-1/2 h
            return (scale - 1.0) * h - scale * saga(graph, src=h, edge=norm, apply_edge=fn.src_mul_edge)

        if self.out_dim < self.in_dim:
            out = self._clenshaw(x, laplacian)
        else:
            out = self._forward_recurrence(x, laplacian)
        return out if self.bias is None else out + self.bias

    def _forward_recurrence(self, x: Tensor, laplacian) -> Tensor:
        t_prev, t_cur = x, None
        out = x @ self.weight[0]
        for k in range(1, self.K):
            t_next = laplacian(t_prev) if t_cur is None else 2.0 * laplacian(t_cur) - t_prev
            if t_cur is not None:
                t_prev = t_cur
            t_cur = t_next
            out = out + t_cur @ self.weight[k]
        return out

    def _clenshaw(self, x: Tensor, laplacian) -> Tensor:
        projected = (x @ self.weight.permute(1, 0, 2).reshape(self.in_dim, -1)).view(-1, self.K, self.out_dim)
        b_next = b_next2 = None  # b_{k+1}, b_{k+2}
        for k in range(self.K - 1, 0, -1):
            b_k = projected[:, k]
            if b_next is not None:
                b_k = b_k + 2.0 * laplacian(b_next)
            if b_next2 is not None:
                b_k = b_k - b_next2
            b_next, b_next2 = b_k, b_next
        out = projected[:, 0]
        if b_next is not None:
            out = out + laplacian(b_next)
        if b_next2 is not None:
            out = out - b_next2
        return out

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, K={self.K}, lambda_max={self.lambda_max}"
