r"""Link-prediction models: a message-passing encoder ``z = f(graph, x)`` and a pair decoder ``s(z_u, z_v)``.

* GAE (Kipf & Welling, "Variational Graph Auto-Encoders", NIPS BDL workshop 2016, arXiv:1611.07308):
  :math:`Z = \mathrm{GCN}_2(\mathrm{ReLU}(\mathrm{GCN}_1(X)))` (widths 32 and 16), inner-product decoder
  :math:`\hat A_{uv} = \sigma(z_u^\top z_v)`.
* VGAE: :math:`\mu = \mathrm{GCN}_\mu(H)`, :math:`\log\sigma = \mathrm{GCN}_\sigma(H)` on a shared first layer
  :math:`H`; training draws :math:`z = \mu + \sigma \odot \epsilon`, evaluation uses :math:`\mu`; the loss adds
  :math:`\frac{1}{N} \cdot \frac{-1}{2N}\sum_v \sum_j (1 + 2\log\sigma_{vj} - \mu_{vj}^2 - \sigma_{vj}^2)`, the
  mean per-node KL to :math:`\mathcal N(0, I)` scaled by :math:`1/N` as in the reference code
  (:meth:`LinkModel.kl_loss`).
* ``sage`` / ``gcn``: a :class:`~graphscale.nn.models.ConvStack` of GraphSAGE (mean) or GCN layers.

Decoders: ``dot`` (:math:`z_u^\top z_v`) or ``mlp`` (an MLP on :math:`z_u \odot z_v`, as OGB's link
predictors); both return logits. Every encoder runs on a full graph or on a list of Blocks (one per layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .conv import GCNConv, SAGEConv
from .functional import dropout as fast_dropout
from .models import ConvStack, GraphInput, per_layer_graphs

LINK_MODELS = ("gae", "vgae", "sage", "gcn")
DECODERS = ("dot", "mlp")


class VGAEEncoder(nn.Module):
    """Shared GCN layers, then two GCN heads for ``mu`` and ``log sigma`` (Kipf & Welling 2016).

    Shapes:
        x: ``[N_in, F_in]``; returns ``z [N_out, out_dim]`` (``mu`` in eval mode); ``self.mu`` and
        ``self.logstd`` keep the last forward's ``[N_out, out_dim]`` for :meth:`LinkModel.kl_loss`.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2, dropout: float = 0.0,
                 logstd_max: float = 10.0) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1)
        self.hidden = nn.ModuleList(GCNConv(a, b) for a, b in pairwise(dims))
        self.mu_head, self.logstd_head = GCNConv(dims[-1], out_dim), GCNConv(dims[-1], out_dim)
        self.dropout, self.logstd_max = dropout, logstd_max
        self.mu: Tensor | None = None
        self.logstd: Tensor | None = None

    def forward(self, graph: GraphInput, x: Tensor) -> Tensor:
        graphs = per_layer_graphs(graph, len(self.hidden) + 1, "VGAEEncoder")
        h = x
        for layer_graph, conv in zip(graphs, self.hidden):
            h = F.relu(conv(layer_graph, fast_dropout(h, self.dropout, self.training)))
        h = fast_dropout(h, self.dropout, self.training)
        self.mu = self.mu_head(graphs[-1], h)
        self.logstd = self.logstd_head(graphs[-1], h).clamp(max=self.logstd_max)
        if not self.training:
            return self.mu
        return self.mu + torch.randn_like(self.mu) * torch.exp(self.logstd)


class MLPDecoder(nn.Module):
    """``MLP(z_u * z_v) -> logit``: ``num_layers`` linear layers (ReLU and dropout between them).

    Shapes:
        z_src, z_dst: ``[B, D]``; returns ``[B]``.
    """

    def __init__(self, dim: int, hidden_dim: int, num_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        dims = [dim] + [hidden_dim] * (num_layers - 1) + [1]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
        self.dropout = dropout

    def forward(self, z_src: Tensor, z_dst: Tensor) -> Tensor:
        h = z_src * z_dst
        for i, linear in enumerate(self.linears):
            if i > 0:
                h = fast_dropout(F.relu(h), self.dropout, self.training)
            h = linear(h)
        return h.view(-1)


class LinkModel(nn.Module):
    """An encoder and a pair decoder.

    Args:
        encoder: ``(graph or blocks, x) -> z [N_out, D]``.
        decoder: None for the inner product, else a module ``(z_src [B, D], z_dst [B, D]) -> [B]``.

    Example:
        >>> model = build_link_model("gae", in_dim=1433)
        >>> z = model(split.train_graph, x)             # [N, 16]
        >>> logits = model.score(z, split.val_pos)      # [V]
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    @property
    def variational(self) -> bool:
        return isinstance(self.encoder, VGAEEncoder)

    def forward(self, graph: GraphInput, x: Tensor) -> Tensor:
        """Node embeddings ``z [N_out, D]`` (rows of the last block's destination nodes with blocks)."""
        return self.encoder(graph, x)

    def score(self, z: Tensor, pairs: Tensor) -> Tensor:
        """Logits ``[B]`` of the pairs ``[B, 2]`` (row ids into ``z``)."""
        z_src, z_dst = z[pairs[:, 0]], z[pairs[:, 1]]
        if self.decoder is None:
            return (z_src * z_dst).sum(-1)
        return self.decoder(z_src, z_dst)

    def kl_loss(self, num_nodes: int | None = None) -> Tensor:
        """``(1 / N) KL(q || N(0, I))`` of the last forward (VGAE; 0 for other encoders), ``N`` = rows of ``mu``
        unless ``num_nodes`` is given."""
        if not self.variational or self.encoder.mu is None:
            return torch.zeros(())
        mu, logstd = self.encoder.mu, self.encoder.logstd
        n = num_nodes or mu.shape[0]
        kl = -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu ** 2 - torch.exp(logstd) ** 2, dim=1))
        return kl / n


def _stack(layer: str, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, dropout: float) -> ConvStack:
    dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
    convs = [GCNConv(a, b) if layer == "gcn" else SAGEConv(a, b, aggregator="mean") for a, b in pairwise(dims)]
    return ConvStack(convs, dropout=dropout, input_dropout=dropout)


def build_link_model(name: str, in_dim: int, *, hidden_dim: int | None = None, out_dim: int | None = None,
                     num_layers: int = 2, dropout: float = 0.0, decoder: str = "dot",
                     decoder_hidden: int | None = None, decoder_layers: int = 2,
                     decoder_dropout: float = 0.0) -> LinkModel:
    """A link model by name: ``gae`` / ``vgae`` (GCN encoder, Kipf & Welling widths 32 -> 16 by default),
    ``sage`` / ``gcn`` (widths 256 -> 256 by default), with a ``dot`` or ``mlp`` decoder.

    Raises:
        ConfigError: Unknown model or decoder name, or non-positive widths / layer counts.
    """
    key = str(name).lower()
    if key not in LINK_MODELS:
        raise ConfigError(f"build_link_model: expected a model in {', '.join(LINK_MODELS)}, got {name!r}.")
    if decoder not in DECODERS:
        raise ConfigError(f"build_link_model: expected a decoder in {', '.join(DECODERS)}, got {decoder!r}.")
    auto = key in ("gae", "vgae")
    hidden = hidden_dim or (32 if auto else 256)
    out = out_dim or (16 if auto else hidden)
    for label, value in (("hidden_dim", hidden), ("out_dim", out), ("num_layers", num_layers)):
        if value < 1:
            raise ConfigError(f"build_link_model: expected {label} >= 1, got {value}.")
    if key == "vgae":
        encoder: nn.Module = VGAEEncoder(in_dim, hidden, out, num_layers, dropout)
    else:
        encoder = _stack("gcn" if key in ("gae", "gcn") else "sage", in_dim, hidden, out, num_layers, dropout)
    head = None if decoder == "dot" else MLPDecoder(out, decoder_hidden or out, decoder_layers, decoder_dropout)
    return LinkModel(encoder, head)


def pair_rows(pairs: Sequence[Any] | Tensor) -> Tensor:
    """Pairs as an int64 ``[B, 2]`` tensor."""
    return torch.as_tensor(pairs, dtype=torch.int64).view(-1, 2)


__all__ = ["DECODERS", "LINK_MODELS", "LinkModel", "MLPDecoder", "VGAEEncoder", "build_link_model", "pair_rows"]
