"""EGConv: efficient graph convolution, EGC-S and EGC-M (Tailor et al., ICLR 2022)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...config.registry import did_you_mean
from ...errors import ConfigError
from ...graph import Graph
from ...saga import fn, saga
from .inputs import NodeInput, split_features
from .normalization import symmetric_norm, with_self_loops
from .stages import Aggregation, RowContext, Stages

# The aggregators of EGC-M (Tailor et al., Sec. 3.2); "symnorm" alone is EGC-S.
EGC_AGGREGATORS = ("symnorm", "sum", "mean", "max", "min", "var", "std")
STD_EPS = 1e-5  # std = sqrt(relu(var) + eps), as the paper's reference implementation


def check_aggregators(aggregators, where: str) -> tuple[str, ...]:
    """``aggregators`` (a list, or a comma string like ``"sum,mean,max"``) as a tuple of known names.

    Raises:
        ConfigError: An empty list, an unknown name (with the closest one) or a name given twice.
    """
    names = aggregators.split(",") if isinstance(aggregators, str) else list(aggregators)
    names = [str(name).strip().lower() for name in names]
    if not names or "" in names:
        raise ConfigError(f"{where}: expected a non-empty list of aggregators among {list(EGC_AGGREGATORS)}, got "
                          f"{aggregators!r}. Use e.g. aggregators=symnorm (EGC-S) or sum,mean,max (EGC-M).")
    for name in names:
        if name not in EGC_AGGREGATORS:
            raise ConfigError(f"{where}: expected aggregators among {list(EGC_AGGREGATORS)}, got {name!r}."
                              f"{did_you_mean(name, EGC_AGGREGATORS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: expected each aggregator once, got {names}. Remove the duplicate.")
    return tuple(names)


class EGConv(nn.Module):
    r"""Efficient graph convolution of Tailor et al., "Do We Need Anisotropic Graph Neural Networks?",
    ICLR 2022 (arXiv:2104.01481), Eq. 3-5.

    .. math::
        y_i = \big\Vert_{h=1}^{H} \sum_{\oplus \in \mathcal{A}} \sum_{b=1}^{B} w^{h,\oplus,b}_i \,
              \bigoplus_{j \in \mathcal{N}(i) \cup \{i\}} \Theta_b x_j + \beta, \qquad
        w_i = \Phi x_i + b_\Phi \in \mathbb{R}^{H |\mathcal{A}| B}

    Every node mixes ``B`` shared basis aggregations with its own weights ``w_i`` (one set per head ``h``):
    the anisotropy is per node, not per edge. EGC-S uses ``A = {symnorm}``, the GCN weights
    :math:`1/\sqrt{d_j d_i}` of the graph with self-loops; EGC-M several aggregators among sum, mean, symnorm,
    max, min, var and std (``std = sqrt(relu(var) + 1e-5)``, ``var = mean(x^2) - mean(x)^2``).

    Dataflow (NGra): the bases :math:`\Theta_b x_j` are one dense ``[N, B * F/H]`` matmul on the source
    nodes before aggregation; each aggregator is one fused ``saga()`` call of that width (var and std share
    one call over ``[bases, bases^2]``), so no ``E x F`` tensor exists. The weights ``w_i`` are a second
    matmul on the destination nodes, applied after aggregation. With ``symnorm`` alone the layer declares
    SAGA stages (:meth:`stages`), so the streamed executor runs it.

    Args:
        in_dim: Input feature size ``F_in``.
        out_dim: Output feature size ``F``; divisible by ``num_heads``.
        num_heads: Heads ``H`` (each sees the same bases with its own weights).
        num_bases: Bases ``B``.
        aggregators: Names from :data:`EGC_AGGREGATORS` (a list or a comma string).
        add_self_loops: Aggregate over ``N(i) ∪ {i}`` (the paper's neighbourhood).
        bias: Learn the additive bias :math:`\beta`.

    Shapes:
        graph: ``Graph``/``BatchedGraph`` with ``N`` nodes, or a ``Block`` (``N_src`` -> ``N_dst``).
        x: ``[N, F_in]`` or ``([N_src, F_in], [N_dst, F_in])``; returns ``[N_dst, F]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_heads: int = 8, num_bases: int = 4, *,
                 aggregators=("symnorm",), add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__()
        if num_heads < 1 or num_bases < 1 or out_dim % num_heads:
            raise ConfigError(f"EGConv: expected out_dim divisible by num_heads >= 1 and num_bases >= 1, got "
                              f"out_dim={out_dim}, num_heads={num_heads}, num_bases={num_bases}. "
                              "Each head gets out_dim // num_heads features.")
        self.in_dim, self.out_dim, self.num_heads, self.num_bases = in_dim, out_dim, num_heads, num_bases
        self.aggregators = check_aggregators(aggregators, "EGConv.aggregators")
        self.add_self_loops = add_self_loops
        self.head_dim = out_dim // num_heads
        self.bases = nn.Linear(in_dim, num_bases * self.head_dim, bias=False)                  # Theta_1..B
        self.combine = nn.Linear(in_dim, num_heads * num_bases * len(self.aggregators))     # Phi, b_Phi
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.bases.weight)
        nn.init.xavier_uniform_(self.combine.weight)
        # b_Phi = 1/(|A| B): a fresh layer averages its basis aggregations, Phi x_i learns the per-node deviation
        nn.init.constant_(self.combine.bias, 1.0 / (len(self.aggregators) * self.num_bases))
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: NodeInput) -> Tensor:
        x_src, x_dst = split_features(graph, x, self.in_dim, "EGConv.forward")
        bases = self.bases(x_src)                                        # [N_src, B * F/H]
        prop = with_self_loops(graph) if self.add_self_loops else graph
        aggregated = [self._aggregate(prop, bases, name) for name in self.aggregators]   # |A| x [N_dst, B * F/H]
        return self._mix(torch.cat(aggregated, dim=1) if len(aggregated) > 1 else aggregated[0], x_dst)

    def _aggregate(self, graph: Graph, bases: Tensor, name: str) -> Tensor:
        """One aggregator of the bases over the in-edges. Shapes: bases ``[N_src, W]`` -> ``[N_dst, W]``."""
        if name == "symnorm":
            norm = symmetric_norm(graph, bases.dtype)
            return saga(graph, src=bases, edge=norm, apply_edge=fn.src_mul_edge, gather="sum")
        if name in ("sum", "mean", "max", "min"):
            return saga(graph, src=bases, apply_edge=fn.copy_src, gather=name)
        moments = saga(graph, src=torch.cat([bases, bases * bases], dim=1), apply_edge=fn.copy_src, gather="mean")
        mean, mean_sq = moments.chunk(2, dim=1)
        var = mean_sq - mean * mean                                      # [N_dst, W]
        return var if name == "var" else torch.sqrt(torch.relu(var) + STD_EPS)

    def _mix(self, aggregated: Tensor, x_dst: Tensor) -> Tensor:
        """Per-node weighted sum of the aggregated bases, per head, plus the bias.

        Shapes:
            aggregated: ``[N_dst, |A| * B * F/H]``; x_dst: ``[N_dst, F_in]``; returns ``[N_dst, F]``.
        """
        rows, heads, terms = aggregated.shape[0], self.num_heads, len(self.aggregators) * self.num_bases
        weights = self.combine(x_dst).view(rows, heads, terms)                          # [N_dst, H, |A| B]
        out = torch.bmm(weights, aggregated.view(rows, terms, self.head_dim))          # [N_dst, H, F/H]
        out = out.reshape(rows, self.out_dim)
        return out if self.bias is None else out + self.bias

    def stages(self) -> Stages:
        """EGC-S as SAGA stages (:mod:`.stages`): the bases on the nodes, a GCN-weighted sum over the in-edges
        (with self-loops), the per-node mixing of the input rows.

        Raises:
            ConfigError: EGC-M (its max/min/var aggregators have no stage split).
        """
        if self.aggregators != ("symnorm",):
            raise ConfigError(f"EGConv.stages: expected aggregators ['symnorm'] (EGC-S), got "
                              f"{list(self.aggregators)}. Run EGC-M without train.memory_budget.")

        def post(a: Tensor, h: Tensor | None, rows: RowContext) -> Tensor:
            return self._mix(a, h)

        return Stages(self, Aggregation("sum", self.add_self_loops, True), self.num_bases * self.head_dim,
                      self.out_dim, self.bases, post, pre_has_params=True, post_uses_input=True)

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_heads={self.num_heads}, num_bases={self.num_bases}, "
                f"aggregators={list(self.aggregators)}, add_self_loops={self.add_self_loops}")


__all__ = ["EGC_AGGREGATORS", "EGConv", "check_aggregators"]
