"""Models trained on precomputed propagation (see ``precompute.py``): SGC's linear classifier and SIGN.

``PRECOMPUTED_MODELS`` holds their hyper-parameters with defaults; ``resolve_precomputed`` checks them.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config.registry import did_you_mean
from ..errors import ConfigError
from ..nn.hparams import HPARAMS
from ..nn.models import ModelSpec, resolve_hparams


class SGCHead(nn.Module):
    """SGC's classifier: ``Linear(F, C)`` on :math:`S^K X` (``SGConv.linear`` after propagation).

    Shapes:
        xs: one-item list ``[[B, F]]``; returns ``[B, C]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, bias: bool = True, input_dropout: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)
        nn.init.xavier_uniform_(self.linear.weight)  # as SGConv.reset_parameters
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)
        self.input_dropout = input_dropout

    def forward(self, xs: list[Tensor]) -> Tensor:
        (x,) = xs
        return self.linear(F.dropout(x, self.input_dropout, self.training))


class SIGN(nn.Module):
    r"""SIGN of Frasca et al., "SIGN: Scalable Inception Graph Neural Networks", 2020 (arXiv:2004.11198).

    .. math::
        Z = \sigma\big(\big\Vert_{r} \, A_r X \Theta_r\big), \qquad Y = \mathrm{MLP}(Z)

    one linear branch :math:`\Theta_r` (then batch norm, PReLU, dropout) per precomputed operator
    :math:`A_r X`, concatenated, then an MLP of ``num_layers`` linear layers.

    Shapes:
        xs: list of ``num_operators`` tensors ``[B, F_in]``; returns ``[B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_operators: int, *, hidden_dim: int, num_layers: int,
                 dropout: float, input_dropout: float, batch_norm: bool = True) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Linear(in_dim, hidden_dim) for _ in range(num_operators))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()
                                   for _ in range(num_operators))
        self.activations = nn.ModuleList(nn.PReLU(hidden_dim) for _ in range(num_operators))
        dims = [num_operators * hidden_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.head = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
        self.head_norms = nn.ModuleList(nn.BatchNorm1d(b) if batch_norm else nn.Identity() for b in dims[1:-1])
        self.dropout, self.input_dropout = dropout, input_dropout

    def forward(self, xs: list[Tensor]) -> Tensor:
        parts = []
        for x, branch, norm, activation in zip(xs, self.branches, self.norms, self.activations):
            h = branch(F.dropout(x, self.input_dropout, self.training))
            parts.append(F.dropout(activation(norm(h)), self.dropout, self.training))
        h = torch.cat(parts, dim=1)  # [B, num_operators * hidden_dim]
        for i, linear in enumerate(self.head):
            if i > 0:
                h = F.dropout(F.relu(self.head_norms[i - 1](h)), self.dropout, self.training)
            h = linear(h)
        return h


# The propagation operator S: "gcn" = D^-1/2 (A + I) D^-1/2 (SGC, SIGN papers); "mean" = D^-1 A, the mean over
# in-neighbours without self-loops (GraphSAGE's mean aggregator; rows without in-edges stay zero).
NORMS = HPARAMS["norm"].checks["choices"]  # the operators S: gcn = D^-1/2 (A + I) D^-1/2, mean = D^-1 A

PRECOMPUTED_MODELS = {
    "sgc": ModelSpec(SGCHead, {"K": 2, "norm": "gcn", "bias": True, "input_dropout": 0.0, "batch_size": None,
                               "hidden_dim": 16,
                               "num_layers": 2, "dropout": 0.5},
                     unused=("hidden_dim", "num_layers", "dropout")),
    "sign": ModelSpec(SIGN, {"K": 2, "norm": "gcn", "hidden_dim": 64, "num_layers": 2, "dropout": 0.5, "input_dropout": 0.0,
                             "batch_norm": True, "ppr_alpha": None, "ppr_steps": 10, "batch_size": None}),
}


def resolve_precomputed(model_name: str, hparams: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The model name (lower case) and its hyper-parameters with defaults.

    Raises:
        ConfigError: Unknown model or hparam, or an invalid value.
    """
    name = str(model_name).lower()
    if name not in PRECOMPUTED_MODELS:
        raise ConfigError(f"model.name: expected one of {sorted(PRECOMPUTED_MODELS)} for precomputed propagation, "
                          f"got {model_name!r}.{did_you_mean(name, PRECOMPUTED_MODELS)}")
    where = f"train_precomputed({name!r})"
    hp = resolve_hparams(where, PRECOMPUTED_MODELS[name], dict(hparams or {}))
    return name, hp


__all__ = ["NORMS", "PRECOMPUTED_MODELS", "SIGN", "SGCHead", "resolve_precomputed"]
