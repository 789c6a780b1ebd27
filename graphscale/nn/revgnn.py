"""RevGNN: grouped reversible residual blocks whose backward recomputes activations (Li et al., ICML 2021).

Registers the node model ``revgnn`` in ``NODE_MODELS`` on import (:mod:`.models` imports this module).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..graph import Graph
from ..heap import release_free_memory
from .conv import SAGEConv
from .functional import dropout as fast_dropout
from .models import _COMMON, NODE_MODELS, ModelSpec, per_layer_graphs


def seeded_dropout(x: Tensor, p: float, seed: int, training: bool) -> Tensor:
    """Dropout whose mask is a function of ``seed`` alone (drawn again identically when recomputed).

    Shapes:
        x: ``[N, F]``; returns ``[N, F]``.
    """
    if not training or p == 0.0:
        return x
    generator = torch.Generator(device=x.device).manual_seed(seed)
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * keep / (1.0 - p)


class GroupedReversibleBlock(nn.Module):
    r"""One grouped reversible residual block of Li et al., "Training Graph Neural Networks with 1000 Layers",
    ICML 2021 (arXiv:2106.07476), Eq. 3-4, with the res+ group function (Li et al., 2020).

    .. math::
        X'_0 = \sum_{i=2}^{C} X_i, \qquad X'_i = f_{w_i}(X'_{i-1}, A) + X_i \quad (i = 1 .. C),
        \qquad f_{w_i}(h, A) = \mathrm{SAGE}_{w_i}(\mathrm{Dropout}(\mathrm{ReLU}(\mathrm{LayerNorm}(h))), A)

    and the inverse :math:`X_i = X'_i - f_{w_i}(X'_{i-1}, A)` for ``i = C .. 2``, then
    :math:`X'_0 = \sum_{i \ge 2} X_i` and :math:`X_1 = X'_1 - f_{w_1}(X'_0, A)`. Layer norm (not batch norm)
    keeps the recomputation exact: it has no running statistics that a second forward would update.

    Args:
        hidden_dim: Feature size ``F``, split into ``num_groups`` groups of ``F / C``.
        num_groups: Groups ``C >= 2``.
        dropout: Dropout before every group's convolution.

    Shapes:
        x: ``[N, F]``; returns ``[N, F]``.
    """

    def __init__(self, hidden_dim: int, num_groups: int, dropout: float) -> None:
        super().__init__()
        if num_groups < 2 or hidden_dim % num_groups:
            raise ConfigError(f"RevGNN: expected hidden_dim divisible by num_groups >= 2, got hidden_dim={hidden_dim}, "
                              f"num_groups={num_groups}. Pick hidden_dim as a multiple of num_groups.")
        width = hidden_dim // num_groups
        self.num_groups, self.dropout = num_groups, dropout
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(num_groups))
        self.convs = nn.ModuleList(SAGEConv(width, width) for _ in range(num_groups))

    def group(self, i: int, graph: Graph, h: Tensor, seed: int) -> Tensor:
        """``f_{w_i}(h, A)``: layer norm, ReLU, dropout (mask from ``seed + i``), SAGE. Shapes: ``[N, F/C]``."""
        h = seeded_dropout(F.relu(self.norms[i](h)), self.dropout, seed + i, self.training)
        return self.convs[i](graph, h)

    def forward(self, graph: Graph, x: Tensor, seed: int) -> Tensor:
        """The block's output ``[X'_1 .. X'_C]`` (plain autograd: stores every activation)."""
        xs = x.chunk(self.num_groups, dim=1)
        previous = sum(xs[1:])                                             # X'_0 [N, F/C]
        outputs = []
        for i in range(self.num_groups):
            previous = self.group(i, graph, previous, seed) + xs[i]
            outputs.append(previous)
        return torch.cat(outputs, dim=1)

    def inverse(self, graph: Graph, y: Tensor, seed: int) -> Tensor:
        """The input ``x`` of ``forward`` rebuilt from its output ``y`` (same ``seed``). Shapes: ``[N, F]``."""
        ys = y.chunk(self.num_groups, dim=1)
        xs = [None] * self.num_groups
        for i in range(self.num_groups - 1, 0, -1):
            xs[i] = ys[i] - self.group(i, graph, ys[i - 1], seed)
        xs[0] = ys[0] - self.group(0, graph, sum(xs[1:]), seed)
        return torch.cat(xs, dim=1)


class _Reversible(torch.autograd.Function):
    """Runs a block without storing activations: forward frees the input's storage, backward rebuilds the
    input from the output (:meth:`GroupedReversibleBlock.inverse`), recomputes the block under autograd and
    back-propagates through that one block. Memory stays one block's activations at any depth."""

    @staticmethod
    def forward(ctx, block: GroupedReversibleBlock, graph: Graph, seed: int, x: Tensor, *params: Tensor) -> Tensor:
        ctx.block, ctx.graph, ctx.seed, ctx.params = block, graph, seed, params
        with torch.no_grad():
            y = block(graph, x.detach(), seed)
        ctx.input, ctx.output = x, y.detach()      # plain references: x's storage is freed just below
        ctx.input_size = x.numel()
        x.untyped_storage().resize_(0)
        release_free_memory()
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        block, graph, seed, x, y = ctx.block, ctx.graph, ctx.seed, ctx.input, ctx.output
        with torch.no_grad():
            rebuilt = block.inverse(graph, y, seed)
            x.untyped_storage().resize_(ctx.input_size * x.element_size())
            x.copy_(rebuilt.view_as(x))
            y.untyped_storage().resize_(0)          # this block's output is no longer needed
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            out = block(graph, x_in, seed)
        params = [p for p in ctx.params if p.requires_grad]
        grads = torch.autograd.grad(out, [x_in, *params], grad_y, allow_unused=True)
        it = iter(grads[1:])
        param_grads = [next(it) if p.requires_grad else None for p in ctx.params]
        del out, x_in
        release_free_memory()
        return (None, None, None, grads[0], *param_grads)


class RevGNN(nn.Module):
    """Deep reversible GNN (Li et al., ICML 2021): ``Linear`` encoder, ``num_layers`` grouped reversible blocks,
    LayerNorm -> ReLU -> dropout, ``Linear`` head.

    With ``reversible`` (default) and autograd on, the blocks run through :class:`_Reversible`: training memory
    does not grow with ``num_layers``. ``reversible=False`` runs the same blocks with plain autograd (the
    reference the tests compare to). Each block draws one dropout seed per call from torch's generator.

    Shapes:
        x: ``[N, F_in]`` on a full ``Graph`` (not a list of Blocks); returns ``[N, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden_dim: int, num_layers: int, dropout: float,
                 input_dropout: float, num_groups: int, reversible: bool = True) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_dim, hidden_dim)
        self.blocks = nn.ModuleList(GroupedReversibleBlock(hidden_dim, num_groups, dropout)
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(hidden_dim)
        self.head = nn.Linear(hidden_dim, out_dim)
        self.dropout, self.input_dropout, self.reversible = dropout, input_dropout, reversible

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        if not isinstance(graph, Graph) or graph.num_src_nodes != graph.num_dst_nodes:
            raise ShapeError("RevGNN.forward: expected one full Graph (reversible blocks keep the node set), got "
                             f"{type(graph).__name__}. Train revgnn full batch, without a sampler.")
        (graph,) = per_layer_graphs(graph, 1, "RevGNN")
        h = self.encoder(fast_dropout(x, self.input_dropout, self.training))      # [N, F]
        for block in self.blocks:
            seed = int(torch.randint(0, 2**62, ()))
            if self.reversible and torch.is_grad_enabled():
                params = tuple(block.parameters())
                h = _Reversible.apply(block, graph, seed, h, *params)
            else:
                h = block(graph, h, seed)
        h = fast_dropout(F.relu(self.norm(h)), self.dropout, self.training)
        return self.head(h)


NODE_MODELS.register("revgnn", ModelSpec(RevGNN, {**_COMMON, "hidden_dim": 128, "num_layers": 3, "num_groups": 2}))

__all__ = ["GroupedReversibleBlock", "RevGNN", "seeded_dropout"]
