"""TypedLinear: one linear map per node (or edge) type, as one segment matmul over type-sorted rows."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ...saga.relational import segment_mm


class TypedLinear(nn.Module):
    r"""``y_i = W_{t(i)} x_i + b_{t(i)}`` for rows grouped by type (HGT's per-type K / Q / V / A maps).

    Args:
        in_dim, out_dim: Feature sizes.
        num_types: Number of types ``T``.
        bias: Learn one bias per type.

    Shapes:
        x: ``[M, F_in]`` with rows grouped by type; counts: ``[T]`` rows per type (summing to ``M``);
        returns ``[M, F_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_types: int, *, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.num_types = in_dim, out_dim, num_types
        self.weight = nn.Parameter(torch.empty(num_types, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(num_types, out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for t in range(self.num_types):
            nn.init.xavier_uniform_(self.weight[t])
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, counts: Sequence[int]) -> Tensor:
        out = segment_mm(x, self.weight, counts)
        if self.bias is not None:
            out = out + torch.repeat_interleave(self.bias, torch.tensor(list(counts), device=x.device), dim=0)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, num_types={self.num_types}"
