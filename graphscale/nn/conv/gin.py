"""GINConv: graph isomorphism network layer (Xu, Hu, Leskovec & Jegelka, ICLR 2019)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, split_features


def default_mlp(in_dim: int, out_dim: int, hidden_dim: int | None = None, batch_norm: bool = False) -> nn.Sequential:
    """The paper's 2-layer MLP ``Linear -> [BatchNorm] -> ReLU -> Linear`` (hidden size ``out_dim`` by default)."""
    hidden = out_dim if hidden_dim is None else hidden_dim
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(), nn.Linear(hidden, out_dim)]
    return nn.Sequential(*layers)


def leading_linear(mlp: nn.Module) -> tuple[nn.Linear, nn.Module] | None:
    """``(first Linear, rest)`` when ``mlp`` is a Sequential that starts with a narrowing Linear.

    A linear first layer commutes with the sum aggregation, so it can run on the nodes before
    the sparse product (NGra's rule: aggregate the narrower side).
    """
    if isinstance(mlp, nn.Sequential) and len(mlp) > 0 and isinstance(mlp[0], nn.Linear):
        first = mlp[0]
        if first.out_features < first.in_features:
            return first, mlp[1:]
    return None


class GINConv(nn.Module):
    r"""Graph isomorphism layer of Xu et al., "How Powerful are Graph Neural Networks?", ICLR 2019
    (arXiv:1810.00826).

    .. math::
        h'_v = \mathrm{MLP}\Big((1 + \epsilon)\, x_v + \sum_{u \to v} x_u\Big)

    ``eps`` is a fixed number (GIN-0 with 0) or learnt (``learn_eps``, GIN-eps). When the MLP starts
    with a ``Linear`` that narrows the features, that linear map is applied on the nodes before the
    sum (it commutes with it) so the sparse product runs on the narrower width.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F_out`` (of the default MLP).
        mlp: The update network ``F_in -> F_out``; default ``Linear -> ReLU -> Linear``.
        eps: Initial value of epsilon.
        learn_eps: Make epsilon a trainable parameter.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``; returns ``[N_dst, F_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, mlp: nn.Module | None = None, eps: float = 0.0,
                 learn_eps: bool = False) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.learn_eps = in_dim, out_dim, learn_eps
        self.mlp = default_mlp(in_dim, out_dim) if mlp is None else mlp
        if learn_eps:
            self.eps = nn.Parameter(torch.tensor([float(eps)]))
        else:
            self.register_buffer("eps", torch.tensor([float(eps)]))

    def forward(self, graph: Graph, x: NodeInput) -> Tensor:
        x_src, x_dst = split_features(graph, x, self.in_dim, "GINConv.forward")
        split = leading_linear(self.mlp)
        if split is None:
            combined = (1 + self.eps) * x_dst + saga(graph, src=x_src, apply_edge=fn.copy_src)
            return self.mlp(combined)
        first, rest = split
        h_src = nn.functional.linear(x_src, first.weight)
        h_dst = h_src[: graph.num_dst_nodes] if isinstance(x, Tensor) else nn.functional.linear(x_dst, first.weight)
        combined = (1 + self.eps) * h_dst + saga(graph, src=h_src, apply_edge=fn.copy_src)
        if first.bias is not None:
            combined = combined + first.bias
        return rest(combined)

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, learn_eps={self.learn_eps}"
