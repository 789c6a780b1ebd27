"""Typed configuration schema of ``graphscale train`` (every field has a type, a default and a help text).

A run config has one section per life-cycle step (GraphVite): ``data`` (load), ``model`` (build),
``train`` (train + evaluate), ``output`` (save), plus ``expected`` (the published number a shipped
config reproduces) and ``version``. Constraints live in the field metadata and are checked by
:mod:`graphscale.config.loader`, which reports violations with the dotted key and ``file:line``.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

CONFIG_VERSION = 1


def option(default: Any, help: str, **check: Any) -> Any:
    """A dataclass field with a help text and checks (``gt``, ``ge``, ``lt``, ``le``, ``choices``)."""
    meta = {"help": help, **check}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    """Which dataset to load and which split to use."""

    dataset: str = option("synthetic", "Registry name (cora, mutag, synthetic ...) or a dataset folder path.")
    root: str | None = option(None, "Folder holding the published datasets; default: $GRAPHSCALE_DATA.")
    split: int | None = option(None, "Published split to use; null = run i uses split i % S (Geom-GCN sets).",
                               ge=0)
    normalize_features: bool = option(False, "Row-normalise node features to sum 1 (Planetoid preprocessing).")


@dataclass
class ModelConfig:
    """The model: a registry name plus its hyper-parameters (written flat beside ``name`` in YAML)."""

    name: str = option("gcn", "Model name: gcn, sage, gat, gatv2, gin, appnp, sgc, cheb, gatedgcn (node); "
                              "gin, gcn, gat, gine, gatedgcn (graph).")
    hparams: dict[str, Any] = option({}, "Hyper-parameters passed to the model builder (hidden_dim, dropout ...).")


# Known model hyper-parameters: (type, checks, help). Written flat under ``model:`` in YAML.
HPARAMS: dict[str, tuple[type, dict[str, Any], str]] = {
    "hidden_dim": (int, {"ge": 1}, "Hidden size (per head for attention models)."),
    "num_layers": (int, {"ge": 1}, "Number of message-passing layers."),
    "dropout": (float, {"ge": 0.0, "lt": 1.0}, "Dropout on hidden features."),
    "input_dropout": (float, {"ge": 0.0, "lt": 1.0}, "Dropout on the input features."),
    "heads": (int, {"ge": 1}, "Attention heads of the hidden layers."),
    "out_heads": (int, {"ge": 1}, "Attention heads of the output layer (averaged)."),
    "attn_dropout": (float, {"ge": 0.0, "lt": 1.0}, "Dropout on attention coefficients."),
    "negative_slope": (float, {"ge": 0.0}, "LeakyReLU slope in attention scores."),
    "residual": (bool, {}, "Add residual connections."),
    "aggregator": (str, {}, "GraphSAGE aggregator: mean, gcn, pool, max, sum."),
    "K": (int, {"ge": 1}, "Propagation steps (APPNP, SGC) or Chebyshev order."),
    "alpha": (float, {"ge": 0.0, "le": 1.0}, "APPNP teleport probability."),
    "bias": (bool, {}, "Learn additive biases."),
    "readout": (str, {"choices": ("sum", "mean", "max")}, "Graph readout (graph models)."),
    "learn_eps": (bool, {}, "GIN: learn epsilon (GIN-eps) instead of fixing it to 0 (GIN-0)."),
    "normalize": (bool, {}, "GraphSAGE: L2-normalise every layer's output."),
    "edge_dropout": (float, {"ge": 0.0, "lt": 1.0}, "APPNP: dropout on propagation edges."),
    "edge_dim": (int | None, {"ge": 1}, "Edge feature size (gine, gatedgcn); default: the dataset's."),
}


@dataclass
class TrainConfig:
    """Optimisation, early stopping, seeds and evaluation protocol."""

    epochs: int = option(200, "Maximum number of training epochs.", ge=1)
    lr: float = option(0.01, "Learning rate.", gt=0.0)
    weight_decay: float = option(5e-4, "L2 weight decay.", ge=0.0)
    weight_decay_first_layer_only: bool = option(
        False, "Apply weight decay to the first layer only (Kipf & Welling GCN, APPNP reference code).")
    optimizer: str = option("adam", "Optimizer.", choices=("adam", "adamw", "sgd"))
    patience: int = option(0, "Stop when the selection metric has not improved for this many epochs (0 = never).",
                           ge=0)
    select: str = option("val_acc", "Epoch selection / early-stopping metric (node tasks): val_acc breaks ties by "
                                    "lower val_loss; val_loss; gat = stop when neither val_acc nor val_loss improved; "
                                    "last = no selection, report the final epoch (SGC reference protocol).",
                         choices=("val_acc", "val_loss", "gat", "last"))
    seeds: int = option(1, "Number of runs (seeds seed, seed+1, ...); graph tasks: CV repetitions.", ge=1)
    seed: int = option(0, "First seed.", ge=0)
    lr_step: int = option(0, "Multiply the learning rate by lr_gamma every lr_step epochs (0 = constant).", ge=0)
    lr_gamma: float = option(0.5, "Learning-rate decay factor of the step schedule.", gt=0.0, le=1.0)
    batch_size: int = option(32, "Graphs per mini-batch (graph tasks).", ge=1)
    folds: int = option(10, "Stratified cross-validation folds (graph tasks).", ge=2)
    device: str = option("auto", "cpu, cuda, cuda:N or auto (cuda when available).")
    memory_budget: str | None = option(None, "Full-batch node training: stream the adjacency in destination-row "
                                             "chunks (NGra) to stay under this size, e.g. 6GB or 512MB; null = "
                                             "unchunked.")


@dataclass
class OutputConfig:
    """Where results, checkpoints and plots go."""

    dir: str | None = option(None, "Output folder; default runs/<dataset>-<model>.")
    checkpoint_every: int = option(10, "Write a checkpoint every this many epochs (0 = only at the end).", ge=0)
    plot: bool = option(True, "Save a training-curve PNG (matplotlib Agg).")


@dataclass
class ExpectedConfig:
    """The published number a shipped config reproduces (informational, never used for selection)."""

    test_acc: float | None = option(None, "Published test accuracy (fraction in [0, 1]).", ge=0.0, le=1.0)
    test_acc_std: float | None = option(None, "Published standard deviation, when given.", ge=0.0)
    target: float | None = option(None, "Minimum mean test accuracy this config must reach.", ge=0.0, le=1.0)
    source: str = option("", "Citation of the published number.")
    protocol: str = option("", "How the number is measured (split, seeds, selection).")


@dataclass
class RunConfig:
    """Everything ``graphscale train`` needs: one section per life-cycle step."""

    version: int = option(CONFIG_VERSION, "Config format version.", ge=1, le=CONFIG_VERSION)
    task: str = option("auto", "node (full-batch node classification), graph (graph classification with CV) "
                               "or auto (from the dataset).", choices=("auto", "node", "graph"))
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Dataset to load."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "Model to build."})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "How to train and evaluate."})
    output: OutputConfig = field(default_factory=OutputConfig, metadata={"help": "Where to save results."})
    expected: ExpectedConfig = field(default_factory=ExpectedConfig,
                                     metadata={"help": "Published metric this config reproduces."})

    def __post_init__(self) -> None:
        # ``dotted key -> "file:line"`` of every key read from YAML or an override, for later errors.
        self.locations: dict[str, str] = {}

    def where(self, key: str) -> str:
        """`` (file:line)`` for ``key`` (or its closest enclosing section), ``""`` when unknown."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            loc = self.locations.get(".".join(parts[:end]))
            if loc:
                return f" ({loc})"
        return ""


def task_defaults(task: str) -> RunConfig:
    """Defaults of a task when no shipped config matches: node -> GCN; graph -> GIN protocol (Xu et al. 2019)."""
    cfg = RunConfig()
    if task == "graph":
        cfg.model.name = "gin"
        cfg.train.epochs, cfg.train.weight_decay, cfg.train.lr_step, cfg.train.lr_gamma = 350, 0.0, 50, 0.5
    return cfg


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "output": OutputConfig,
            "expected": ExpectedConfig}


def field_help(cls: type) -> dict[str, str]:
    """``{field name: help text}`` of a config dataclass."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def field_default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory()
