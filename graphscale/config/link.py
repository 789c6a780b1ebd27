"""Typed config of ``graphscale link`` (every field has a type, a default and a help text).

Sections: ``data`` (the dataset and its edge split), ``model`` (encoder and decoder), ``sampler`` (full batch or
link-level neighbour sampling), ``train`` (objective, optimisation, seeds), ``eval``, ``output`` and ``expected``.
YAML files and ``key=value`` overrides go through the one schema engine (``from_command`` / ``load(path,
overrides, cls=LinkConfig)``) with path-aware errors (``train.lr: expected float > 0, got 0 (my.yaml:9).``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import CONFIG_VERSION, Located, OutputConfig, option

LINK_MODELS = ("gae", "vgae", "sage", "gcn")
LINK_LOSSES = ("sampled", "dense")


@dataclass
class LinkDataConfig:
    """The graph, its features and the edge split (Kipf & Welling: 85 / 5 / 10 %)."""

    dataset: str = option("cora", "Registry name (cora, citeseer, github ...) or a dataset folder path.")
    root: str | None = option(None, "Folder holding the published datasets; default: $GRAPHSCALE_DATA.")
    normalize_features: bool = option(False, "Row-normalise node features to sum 1.")
    feature_svd: int | None = option(None, "Replace x by its top-k singular directions U_k S_k (seed 0); null = keep x.",
                                     ge=1)
    val_fraction: float = option(0.05, "Share of the undirected edges held out for validation.", ge=0.0, lt=1.0)
    test_fraction: float = option(0.10, "Share of the undirected edges held out for testing.", gt=0.0, lt=1.0)
    split_seed: int | None = option(None, "Seed of the edge split; null: the run's seed (a new split per run, as "
                                          "the reference code).", ge=0)


@dataclass
class LinkModelConfig:
    """Encoder and decoder."""

    name: str = option("gae", "gae / vgae (Kipf & Welling 2016: GCN encoder, hidden 32 -> 16), sage (GraphSAGE mean) "
                              "or gcn (GCN stack).", choices=LINK_MODELS)
    decoder: str = option("dot", "dot (inner product z_u . z_v) or mlp (an MLP on z_u * z_v).", choices=("dot", "mlp"))
    hidden_dim: int | None = option(None, "Hidden width; null: 32 (gae, vgae) or 256 (sage, gcn).", ge=1)
    out_dim: int | None = option(None, "Embedding width; null: 16 (gae, vgae) or hidden_dim (sage, gcn).", ge=1)
    num_layers: int = option(2, "Message-passing layers (one block per layer with a sampler).", ge=1)
    dropout: float = option(0.0, "Dropout on the input and hidden features.", ge=0.0, lt=1.0)
    decoder_hidden: int | None = option(None, "mlp decoder: hidden width; null: the embedding width.", ge=1)
    decoder_layers: int = option(2, "mlp decoder: linear layers.", ge=1)
    decoder_dropout: float = option(0.0, "mlp decoder: dropout between its layers.", ge=0.0, lt=1.0)


@dataclass
class LinkSamplerConfig:
    """How training batches are drawn: none (full batch) or neighbor (link-level neighbour sampling)."""

    name: str = option("none", "none (full batch: every training pair each epoch) or neighbor (batches of seed edges "
                               "with their endpoints' sampled neighbourhoods).", choices=("none", "neighbor"))
    fanouts: list[int] = option([15, 10], "neighbor: neighbours per hop (-1 = all), fanouts[0] at the pairs' "  # noqa: RUF009
                                          "endpoints; one per message-passing layer.", ge=1, allow=(-1,))
    batch_size: int = option(1024, "neighbor: seed (positive) edges per batch.", ge=1)
    exclude: str = option("reverse", "neighbor: remove each batch's seed edges from its message passing: none, self "
                                     "(the edge) or reverse (the edge and its reverse).",
                          choices=("none", "self", "reverse"))
    num_workers: int = option(1, "Background sampling threads (0 = sample in the training thread).", ge=0)
    prefetch: int = option(2, "Batches in flight.", ge=1)


@dataclass
class LinkTrainConfig:
    """Objective, optimisation, seeds and selection."""

    loss: str = option("sampled", "sampled: binary cross-entropy of the training pairs against neg_per_pos uniform "
                                  "negatives drawn afresh each epoch (each batch); dense: Kipf & Welling's weighted "
                                  "cross-entropy over all N^2 pairs (full batch, dot decoder, small graphs).",
                       choices=LINK_LOSSES)
    neg_per_pos: int = option(1, "sampled: negatives per training positive (destination corruption).", ge=1)
    epochs: int = option(200, "Maximum training epochs.", ge=1)
    lr: float = option(0.01, "Learning rate (Adam).", gt=0.0)
    weight_decay: float = option(0.0, "L2 weight decay.", ge=0.0)
    patience: int = option(0, "Stop when the validation AUC has not improved for this many epochs (0 = never).",
                           ge=0)
    seeds: int = option(1, "Number of runs (seeds seed, seed+1, ...).", ge=1)
    seed: int = option(0, "First seed.", ge=0)
    device: str = option("auto", "cpu, cuda, cuda:N or auto (cuda when available).")


@dataclass
class LinkEvalConfig:
    """Evaluation: the selected epoch has the best validation AUC (ties: lower validation loss)."""

    hits_at: list[int] = option([10, 50, 100], "K of the reported Hits@K (OGB definition).", ge=1)  # noqa: RUF009
    every: int = option(1, "Evaluate every this many epochs (selection needs 1).", ge=1)


@dataclass
class LinkExpectedConfig:
    """Measured and published figures a shipped config reproduces (informational, never used for selection)."""

    test_auc: float | None = option(None, "Mean test AUC measured here.", ge=0.0, le=1.0)
    test_ap: float | None = option(None, "Mean test AP measured here.", ge=0.0, le=1.0)
    paper_test_auc: float | None = option(None, "The paper's test AUC.", ge=0.0, le=1.0)
    paper_test_ap: float | None = option(None, "The paper's test AP.", ge=0.0, le=1.0)
    target_auc: float | None = option(None, "Minimum mean test AUC this config must reach.", ge=0.0, le=1.0)
    target_ap: float | None = option(None, "Minimum mean test AP this config must reach.", ge=0.0, le=1.0)
    source: str = option("", "Citation of the published numbers.")
    protocol: str = option("", "How the numbers are measured (split, seeds, selection).")


@dataclass
class LinkConfig(Located):
    """Everything ``graphscale link`` needs."""

    version: int = option(CONFIG_VERSION, "Config format version.", ge=1, le=CONFIG_VERSION)
    task: str = option("link", "Always link.", choices=("link",))
    data: LinkDataConfig = field(default_factory=LinkDataConfig, metadata={"help": "Dataset and edge split."})
    model: LinkModelConfig = field(default_factory=LinkModelConfig, metadata={"help": "Encoder and decoder."})
    sampler: LinkSamplerConfig = field(default_factory=LinkSamplerConfig, metadata={"help": "Training batches."})
    train: LinkTrainConfig = field(default_factory=LinkTrainConfig, metadata={"help": "How to train."})
    eval: LinkEvalConfig = field(default_factory=LinkEvalConfig, metadata={"help": "How to evaluate."})
    output: OutputConfig = field(default_factory=OutputConfig, metadata={"help": "Where to save results."})
    expected: LinkExpectedConfig = field(default_factory=LinkExpectedConfig,
                                         metadata={"help": "Measured and published figures."})


__all__ = ["LINK_LOSSES", "LINK_MODELS", "LinkConfig", "LinkDataConfig", "LinkEvalConfig", "LinkExpectedConfig",
           "LinkModelConfig", "LinkSamplerConfig", "LinkTrainConfig"]
