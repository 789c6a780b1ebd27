"""Every model hyper-parameter, typed once: the vocabulary of the model registries.

``NODE_MODELS``, ``GRAPH_MODELS`` (:mod:`graphscale.nn.models`) and the precomputed models of
:mod:`graphscale.scale.sign` register a :class:`~graphscale.nn.models.ModelSpec` whose defaults may name
only the hyper-parameters below; :func:`check_hparam` checks a value against its entry, for the builders
(``build_node_model(..., heads=8)``) and for config files and ``model.<name>=value`` overrides alike, with
the same path-aware message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config.values import check_value
from .conv.sage import AGGREGATORS
from .pool import READOUTS

_PROBABILITY = {"ge": 0.0, "lt": 1.0}


@dataclass(frozen=True)
class HParam:
    """One hyper-parameter: its type (``int | None`` where null means "default / off"), bounds or choices
    (``ge``, ``gt``, ``le``, ``lt``, ``choices``) and the help line of ``--print-config``."""

    kind: Any
    help: str
    checks: dict[str, Any] = field(default_factory=dict)


HPARAMS: dict[str, HParam] = {
    "hidden_dim": HParam(int, "Hidden size (per head for attention models).", {"ge": 1}),
    "num_layers": HParam(int, "Number of message-passing layers.", {"ge": 1}),
    "dropout": HParam(float, "Dropout on hidden features.", _PROBABILITY),
    "input_dropout": HParam(float | None, "Dropout on the input features (null: dropout).", _PROBABILITY),
    "heads": HParam(int, "Attention heads of the hidden layers.", {"ge": 1}),
    "out_heads": HParam(int, "Attention heads of the output layer (averaged).", {"ge": 1}),
    "attn_dropout": HParam(float, "Dropout on attention coefficients.", _PROBABILITY),
    "negative_slope": HParam(float, "LeakyReLU slope in attention scores.", {"ge": 0.0}),
    "residual": HParam(bool, "Add residual connections."),
    "aggregator": HParam(str, "GraphSAGE aggregator.", {"choices": AGGREGATORS}),
    "K": HParam(int, "Propagation steps (APPNP, SGC, SIGN; 0: none) or Chebyshev order (>= 1).", {"ge": 0}),
    "alpha": HParam(float, "APPNP teleport probability.", {"ge": 0.0, "le": 1.0}),
    "bias": HParam(bool, "Learn additive biases."),
    "readout": HParam(str, "Graph readout (graph models).", {"choices": READOUTS}),
    "learn_eps": HParam(bool, "GIN: learn epsilon (GIN-eps) instead of fixing it to 0 (GIN-0)."),
    "normalize": HParam(bool, "GraphSAGE: L2-normalise every hidden layer's output."),
    "edge_dropout": HParam(float, "APPNP: dropout on propagation edges.", _PROBABILITY),
    "edge_dim": HParam(int | None, "Edge feature size (gine, gatedgcn); null: the dataset's.", {"ge": 1}),
    "batch_size": HParam(int | None, "SGC/SIGN: training nodes per batch of precomputed rows; null = full.",
                         {"ge": 1}),
    "batch_norm": HParam(bool, "SIGN: batch norm after every branch and hidden layer."),
    "ppr_alpha": HParam(float | None, "SIGN: teleport probability of an extra PageRank operator.",
                        {"gt": 0.0, "lt": 1.0}),
    "ppr_steps": HParam(int, "SIGN: power-iteration steps of the PageRank operator.", {"ge": 1}),
    "norm": HParam(str, "SGC/SIGN (precomputed): the operator S, gcn = D^-1/2 (A + I) D^-1/2 or mean = D^-1 A "
                        "(neighbour mean, no self-loops).", {"choices": ("gcn", "mean")}),
    # -- EGC, RevGNN and PPRGo --
    "num_bases": HParam(int, "EGC: basis weights B shared by the heads; R-GCN: basis matrices B shared by the "
                             "relations (regularizer basis).", {"ge": 1}),
    "regularizer": HParam(str, "R-GCN: relation weights none (one per relation), basis (W_r = sum_b a_rb V_b) or "
                               "block (block-diagonal).", {"choices": ("none", "basis", "block")}),
    "num_blocks": HParam(int, "R-GCN: diagonal blocks of every hidden relation weight (regularizer block).",
                         {"ge": 1}),
    "self_loop": HParam(bool, "R-GCN: add the root term W_0 h_i."),
    "aggregators": HParam(list[str], "EGC: aggregators among symnorm, sum, mean, max, min, var, std (symnorm alone: "
                                     "EGC-S; several: EGC-M), e.g. sum,mean,max."),
    "num_groups": HParam(int, "RevGNN: feature groups C of every reversible block (>= 2).", {"ge": 2}),
    "ppr_eps": HParam(float, "PPRGo: push threshold of the approximate PageRank (residual < eps * degree).",
                      {"gt": 0.0}),
    "ppr_topk": HParam(int, "PPRGo: nodes kept per personalised-PageRank row (top-k by score).", {"ge": 1}),
    "ppr_norm": HParam(str, "PPRGo: PPR score and propagation normalisation, row = D^-1 A, sym = D^-1/2 A D^-1/2, "
                            "col = A D^-1.", {"choices": ("row", "sym", "col")}),
    "inference": HParam(str, "PPRGo: inference by K propagation steps of MLP logits (propagate, the paper's) or "
                             "by the top-k PPR rows of every node (topk).", {"choices": ("propagate", "topk")}),
}


def check_hparam(name: str, value: Any, key: str, loc: str = "") -> Any:
    """``value`` of hyper-parameter ``name`` coerced to its type (``key`` and ``loc`` name it in errors).

    Raises:
        ConfigError: A value of the wrong type or out of range.
    """
    spec = HPARAMS[name]
    return check_value(value, spec.kind, spec.checks, key, loc)


__all__ = ["HPARAMS", "HParam", "check_hparam"]
