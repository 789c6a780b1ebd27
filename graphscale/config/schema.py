"""Typed configuration schema of ``graphscale train`` (every field has a type, a default and a help text).

A run config has one section per life-cycle step (GraphVite): ``data`` (load), ``model`` (build),
``sampler`` (how batches are drawn; ``none`` = full batch), ``train`` (train + evaluate), ``output``
(save), plus ``expected`` (the published number a shipped config reproduces) and ``version``. Constraints live in the field metadata and are checked by
:mod:`graphscale.config.loader`, which reports violations with the dotted key and ``file:line``.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

CONFIG_VERSION = 1
SIZE_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes of a size string: ``"6GB"``, ``"512MB"``, ``"1.5G"``, ``"64KiB"``, ``"1000"`` (bytes).

    Units are binary (K = 1024 bytes, G = 2**30), with or without ``B`` / ``iB``, any case.

    Raises:
        ValueError: Not a positive size in that form.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        size = text
    else:
        match = _SIZE.match(str(text))
        if match is None:
            raise ValueError(f"expected a size like 6GB, got {text!r}")
        size = int(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"expected a positive size, got {text!r}")
    return size


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
    feature_svd: int | None = option(None, "Replace the node features x by their top-k singular directions U_k S_k "
                                           "(randomized truncated SVD, seed 0), e.g. 128 for wide multi-hot "
                                           "features (MUSAE: 4,714 columns); null = keep x.", ge=1)
    partitions: str | None = option(None, "A graphscale partition folder: distributed training under torchrun, one "
                                          "part per rank, full batch (sampler none) or neighbour sampling (the "
                                          "dataset is read from the parts).")
    node_embedding: int = option(0, "Learnable input rows per node appended to the features (featureless graphs, "
                                    "or extra capacity), trained with a row-sparse Adam at train.lr on the rows a "
                                    "batch reads; sampled trainers (neighbor, cluster, saint), in one process or "
                                    "sharded in the KV store with --partitions; 0 = none.", ge=0)
    reverse_relations: bool = option(True, "Heterogeneous datasets: add rev_<relation> for every relation "
                                           "(HeteroGraph.add_reverse) so messages flow both ways, as PyG's "
                                           "ToUndirected on typed data.")
    unknown_nodes: str = option("error", "Custom folders: an edges.csv node missing from a nodes.csv that has "
                                         "feature or label columns is an error (error), or is added without "
                                         "features or label (add).", choices=("error", "add"))


@dataclass
class ModelConfig:
    """The model: a registry name plus its hyper-parameters (written flat beside ``name`` in YAML)."""

    name: str = option("gcn", "Model name: gcn, sage, gat, gatv2, gin, appnp, sgc, cheb, gatedgcn (node); "
                              "gin, gcn, gat, gine, gatedgcn (graph); rgcn, hgt (heterogeneous).")
    hparams: dict[str, Any] = option(  # noqa: RUF009 (option() returns a dataclass field)
        {}, "Hyper-parameters passed to the model builder (hidden_dim, dropout ...).")


# Known model hyper-parameters: (type, checks, help). Written flat under ``model:`` in YAML.
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
    memory_budget: str | None = option(None, "Full-batch node training: stream the graph in destination-row "
                                             "chunks (NGra) to keep the process's peak memory under this size, "
                                             "e.g. 6GB or 512MB (models gcn, sage, gat, gatv2, gin); null = "
                                             "unchunked. SGC/SIGN: chunk the feature propagation to it.",
                                       size=True)
    memory_spill: bool = option(True, "With memory_budget: allow plans that put the adjacency or node tensors "
                                      "in temporary files; false keeps everything in memory (recomputing the "
                                      "first aggregation per chunk when it does not fit).")
    quant: str | None = option(None, "Degree-Quant quantization-aware training (Tailor et al. 2021) of gcn, gin or gat "
                                     "(full batch or graph tasks): int8 or int4; null = float. GCN also reports "
                                     "its integer inference model (int8 matmul and aggregation, int32 sums).",
                               choices=("int8", "int4"))
    quant_p_min: float = option(0.0, "Degree-Quant: protection probability of the lowest in-degree node.",
                                ge=0.0, le=1.0)
    quant_p_max: float = option(0.1, "Degree-Quant: protection probability of the highest in-degree node "
                                     "(linear in the in-degree between the two).", ge=0.0, le=1.0)
    quant_percentile: float = option(0.001, "Degree-Quant: activation ranges track the quant_percentile and "
                                            "1 - quant_percentile quantiles (0 = min / max).", ge=0.0, lt=0.5)
    quant_momentum: float = option(0.1, "Degree-Quant: momentum of the tracked ranges.", gt=0.0, le=1.0)


SAMPLERS = ("none", "neighbor", "cluster", "saint-node", "saint-edge", "saint-rw", "gas", "shadow")
EVAL_MODES = ("full", "layerwise")


# The keys of each sampler (besides COMMON_SAMPLER_KEYS); a key of another sampler is an error.
COMMON_SAMPLER_KEYS = ("name", "num_workers", "prefetch", "eval", "eval_batch_size")
SAMPLER_KEYS: dict[str, tuple[str, ...]] = {
    "none": (), "neighbor": ("fanouts", "batch_size", "replace"),
    "cluster": ("num_parts", "clusters_per_batch", "cluster_norm", "cache_dir"),
    "gas": ("num_parts", "clusters_per_batch", "cache_dir"),
    "saint-node": ("budget", "coverage"), "saint-edge": ("budget", "coverage"),
    "saint-rw": ("num_roots", "walk_length", "coverage"),
    "shadow": ("shadow_method", "fanouts", "batch_size", "ppr_topk", "ppr_alpha", "ppr_eps", "shadow_readout"),
}


@dataclass
class SamplerConfig:
    """How training batches are drawn (node tasks); ``none`` trains full-batch.

    Sizes left null scale with the graph (see each field). ``SamplerConfig.from_any`` builds one from a
    dict, a sampler name or None, with the same checks as a YAML file.
    """

    name: str = option("none", "none (full batch), neighbor (GraphSAGE fanouts), cluster (ClusterGCN), saint-node, "
                               "saint-edge, saint-rw (GraphSAINT), gas (GNNAutoScale: ClusterGCN batches + "
                               "history embeddings), shadow (ShaDow-GNN: one subgraph per target node).",
                         choices=SAMPLERS)
    fanouts: list[int] | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None, "neighbor: neighbours per hop (-1 = all), fanouts[0] for the seeds, one per message-passing layer; "
              "null: [25, 10] for 2 layers, else 10 per layer. shadow (khop): per-hop budget of every node's "
              "in-neighbours, its length is the scope's depth in hops; null: [10, 10].", ge=1, allow=(-1,))
    batch_size: int = option(1024, "neighbor: seed nodes per batch; shadow: target nodes (subgraphs) per batch.",
                             ge=1)
    replace: bool = option(False, "neighbor: draw neighbours with replacement.")
    num_parts: int | None = option(None, "cluster, gas: METIS clusters; null: max(4, N // 150).", ge=1)
    clusters_per_batch: int | None = option(None, "cluster, gas: clusters per batch (q); null: "
                                                  "min(20, max(1, num_parts // 4)).", ge=1)
    cluster_norm: str = option("batch", "cluster: aggregation over a batch: batch (the induced subgraph alone, the "
                                        "paper's) or unbiased (edge weights 1 / (d_v P(edge in batch)), d_v the "
                                        "full-graph in-degree: an unbiased estimate of the full-graph neighbour mean; "
                                        "SAGE (mean) or GCN layers).", choices=("batch", "unbiased"))
    budget: int | None = option(None, "saint-node / saint-edge: node / edge draws per subgraph; null: N/5 / N/10.",
                                ge=1)
    num_roots: int | None = option(None, "saint-rw: random walks per subgraph; null: N // 10.", ge=1)
    walk_length: int = option(2, "saint-rw: steps per walk.", ge=1)
    coverage: float = option(50.0, "GraphSAINT pre-sampling for the normalisation: subgraphs until they hold "
                                   "coverage * N nodes.", gt=0.0)
    num_workers: int = option(1, "Background sampling threads (0 = sample in the training thread).", ge=0)
    prefetch: int = option(2, "Batches in flight.", ge=1)
    eval: str = option("full", "Evaluation: full (whole-graph forward) or layerwise (chunks of eval_batch_size "
                               "nodes per layer; SAGE models, for graphs whose activations do not fit).",
                       choices=EVAL_MODES)
    eval_batch_size: int = option(4096, "Nodes per chunk of layer-wise evaluation (shadow: target subgraphs per "
                                        "evaluation batch).", ge=1)
    cache_dir: str | None = option(None, "cluster, gas: folder of the METIS cache; null: "
                                         "<data root>/<dataset>/partitions (~/.cache/graphscale/<dataset>/partitions "
                                         "when the data root is read-only).")
    shadow_method: str = option("khop", "shadow: each target's scope: khop (budgeted hops, sampler.fanouts) or ppr "
                                        "(the target's ppr_topk nodes of highest approximate personalised "
                                        "PageRank).", choices=("khop", "ppr"))
    ppr_topk: int = option(32, "shadow (ppr): nodes of highest PageRank kept besides the target.", ge=1)
    ppr_alpha: float = option(0.25, "shadow (ppr): teleport probability of the personalised PageRank.", gt=0.0,
                              lt=1.0)
    ppr_eps: float = option(1e-4, "shadow (ppr): push tolerance of the approximate PageRank.", gt=0.0)
    shadow_readout: str = option("target", "shadow: prediction of a target from its subgraph: target (its own "
                                           "row) or target-mean / target-max (its row concatenated with the "
                                           "subgraph's mean / max, then a linear layer).",
                                 choices=("target", "target-mean", "target-max"))

    def own_keys(self) -> tuple[str, ...]:
        """The keys of this sampler: the common ones and ``SAMPLER_KEYS[name]`` (what a dump writes)."""
        return (*COMMON_SAMPLER_KEYS, *SAMPLER_KEYS.get(self.name, ()))

    def check_keys(self, given: Any, locate: Any = lambda key: "") -> None:
        """Raise ConfigError when a key in ``given`` (the sampler keys a file, flag or dict set) belongs to
        another sampler than ``name``: one section per sampler, so a stray key never passes silently."""
        from ..errors import ConfigError

        own = self.own_keys()
        for key in given:
            if key in own:
                continue
            owners = [name for name, keys in SAMPLER_KEYS.items() if key in keys]
            loc = locate(f"sampler.{key}")
            raise ConfigError(f"sampler.{key}: expected a setting of sampler {self.name!r} "
                              f"({', '.join(own[1:]) or 'none'}), got a setting of {', '.join(owners)}"
                              f"{f' ({loc})' if loc else ''}. Drop it, or set sampler.name to "
                              f"{owners[0]!r}.")

    @classmethod
    def from_any(cls, value: SamplerConfig | dict[str, Any] | str | None,
                 default_name: str = "neighbor") -> SamplerConfig:
        from_config = isinstance(value, SamplerConfig)  # already checked when it was loaded
        """From a SamplerConfig, a dict of fields, a sampler name, or None, checked like a YAML section.

        A dict or None without ``name`` gets ``default_name`` (the mini-batch trainers' default, neighbor).

        Raises:
            ConfigError: Unknown key (with a suggestion), a value of the wrong type or range, an unknown sampler.
        """
        from ..errors import ConfigError
        from .loader import set_section

        if isinstance(value, SamplerConfig):
            value = asdict(value)
        if value is None:
            value = {}
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict):
            raise ConfigError(f"sampler: expected a SamplerConfig, a dict or a sampler name, got "
                              f"{type(value).__name__}.")
        cfg = cls()
        set_section(cfg, {"name": default_name, **value}, "sampler", lambda key: "")
        if not from_config:
            cfg.check_keys([k for k in value if k != "name"])
        return cfg


@dataclass
class OutputConfig:
    """Where results, checkpoints and plots go."""

    dir: str | None = option(None, "Output folder; default runs/<dataset>-<model>.")
    checkpoint_every: int = option(10, "Write a checkpoint every this many epochs (0 = only at the end).", ge=0)
    plot: bool = option(True, "Save a training-curve PNG (matplotlib Agg).")
    tensorboard: bool = option(False, "Write TensorBoard event files of every logged scalar under "
                                      "<output folder>/tensorboard (needs the tensorboard package).")


@dataclass
class ExpectedConfig:
    """The published number a shipped config reproduces (informational, never used for selection)."""

    test_acc: float | None = option(None, "Published test accuracy (fraction in [0, 1]).", ge=0.0, le=1.0)
    test_acc_std: float | None = option(None, "Published standard deviation, when given.", ge=0.0)
    target: float | None = option(None, "Minimum mean test accuracy this config must reach.", ge=0.0, le=1.0)
    source: str = option("", "Citation of the published number.")
    protocol: str = option("", "How the number is measured (split, seeds, selection).")


class Located:
    """A config that remembers where each of its keys was read: ``locations`` maps a dotted key to
    ``"file:line"`` (filled by the loader from YAML and overrides), for errors raised after loading."""

    def __post_init__(self) -> None:
        self.locations: dict[str, str] = {}

    def where(self, key: str) -> str:
        """`` (file:line)`` for ``key`` (or its closest enclosing section), ``""`` when unknown."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            loc = self.locations.get(".".join(parts[:end]))
            if loc:
                return f" ({loc})"
        return ""


@dataclass
class RunConfig(Located):
    """Everything ``graphscale train`` needs: one section per life-cycle step."""

    version: int = option(CONFIG_VERSION, "Config format version.", ge=1, le=CONFIG_VERSION)
    task: str = option("auto", "node (full-batch node classification), graph (graph classification with CV) "
                               "or auto (from the dataset).", choices=("auto", "node", "graph"))
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Dataset to load."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "Model to build."})
    sampler: SamplerConfig = field(default_factory=SamplerConfig,
                                   metadata={"help": "How training batches are drawn (none = full batch)."})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "How to train and evaluate."})
    output: OutputConfig = field(default_factory=OutputConfig, metadata={"help": "Where to save results."})
    expected: ExpectedConfig = field(default_factory=ExpectedConfig,
                                     metadata={"help": "Published metric this config reproduces."})

    def validate(self) -> None:
        """Checks across keys, run once a config is complete: the sampler keys set belong to its sampler."""
        given = {key.split(".")[1] for key in self.locations if key.startswith("sampler.") and key.count(".") == 1}
        self.sampler.check_keys(sorted(given - {"name"}), lambda key: self.locations.get(key, ""))


def task_defaults(task: str) -> RunConfig:
    """Defaults of a task when no shipped config matches: node -> GCN; graph -> GIN protocol (Xu et al. 2019)."""
    cfg = RunConfig()
    if task == "graph":
        cfg.model.name = "gin"
        cfg.train.epochs, cfg.train.weight_decay, cfg.train.lr_step, cfg.train.lr_gamma = 350, 0.0, 50, 0.5
    return cfg


SECTIONS = {"data": DataConfig, "model": ModelConfig, "sampler": SamplerConfig, "train": TrainConfig,
            "output": OutputConfig, "expected": ExpectedConfig}


def field_help(cls: type) -> dict[str, str]:
    """``{field name: help text}`` of a config dataclass."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def field_default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory()
