"""Typed config of ``graphscale kg`` (every field has a type, a default and a help text).

Sections follow the life cycle: ``data`` (load), ``model`` (build), ``train``, ``evaluate``, ``output``
(save), plus ``expected`` (the numbers a shipped config reaches). YAML files and ``key=value`` overrides
are checked with the same path-aware errors as ``graphscale train``
(``train.negatives: expected int >= 1, got 0 (kg-rotate-fb15k-237.yaml:12).``): they are read, overridden
and dumped by the one schema engine, ``graphscale.config`` (``load(path, overrides, cls=KGConfig)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.schema import option

KG_CONFIG_VERSION = 1


@dataclass
class KGDataConfig:
    dataset: str = option("fb15k-237", "fb15k-237, wn18rr, or a folder with train/valid/test triple files.")
    root: str | None = option(None, "Folder holding the published datasets; default: $GRAPHSCALE_DATA.")
    unseen: str | None = option(None, "Valid/test triples with an entity or relation that no training triple has: "
                                      "error, skip (drop; counted in the summary) or keep (score with untrained ids); "
                                      "null = keep for fb15k-237 / wn18rr (their published protocol), error for a "
                                      "folder.", choices=("error", "skip", "keep"))


@dataclass
class KGModelConfig:
    name: str = option("rotate", "Interaction; rgcn = R-GCN encoder + DistMult decoder (settings in the rgcn "
                                 "section).", choices=("transe", "distmult", "complex", "simple", "rotate", "rgcn"))
    dim: int = option(200, "Embedding size per component (complex coordinates for complex / rotate; each role "
                           "vector for simple).", ge=1)
    gamma: float = option(9.0, "Score offset of the distance models (gamma - distance); sets RotatE's init "
                               "range (gamma + 2) / dim.", ge=0.0)
    p_norm: int = option(1, "TransE norm (1 or 2).", ge=1, le=2)
    reciprocal: bool = option(False, "Add inverse relations r + R and train / predict tails only (Lacroix 2018).")
    init: str | None = option(None, "uniform or normal; null = uniform for distance models, normal for bilinear.",
                              choices=("uniform", "normal"))
    init_scale: float | None = option(None, "Uniform range / normal std; null = model default.", gt=0.0)


@dataclass
class KGTrainConfig:
    epochs: int = option(100, "Passes over the training triples.", ge=1)
    batch_size: int = option(1024, "Positive triples per step.", ge=1)
    negatives: int = option(256, "Negatives per positive (negative_mode shared / per-positive).", ge=1)
    negative_mode: str = option("shared", "shared: one set of negatives per batch and side (fast); per-positive: "
                                          "own negatives per triple; all: 1-N scoring against every entity.",
                                choices=("shared", "per-positive", "all"))
    corruption: str = option("uniform", "Which side to corrupt: uniform (p = 1/2) or bernoulli (Wang et al. 2014, "
                                        "per relation); reciprocal models corrupt tails only.",
                             choices=("uniform", "bernoulli"))
    loss: str = option("nssa", "nssa (log-sigmoid, self-adversarial), margin (ranking) or softmax (cross-entropy).",
                       choices=("nssa", "margin", "softmax"))
    adversarial_temperature: float = option(1.0, "Self-adversarial temperature alpha (0 = uniform weights).", ge=0.0)
    margin: float = option(1.0, "Margin of the ranking loss.", ge=0.0)
    subsampling: bool = option(False, "Weight positives by 1/sqrt(frequency of (h, r) + (r, t)) (RotatE code).")
    regularizer: str = option("none", "none, n3 (Lacroix 2018) or l2 on the positives' factors.",
                              choices=("none", "n3", "l2"))
    regularization: float = option(0.0, "Regularisation weight lambda.", ge=0.0)
    optimizer: str = option("adam", "Row-sparse adam or adagrad (only rows a step touches are updated).",
                            choices=("adam", "adagrad"))
    lr: float = option(1e-3, "Learning rate.", gt=0.0)
    lr_schedule: str = option("constant", "constant, cosine (to lr * lr_min_factor) or step (x lr_gamma every "
                                          "lr_step_epochs).", choices=("constant", "cosine", "step"))
    warmup_epochs: float = option(0.0, "Linear learning-rate warm-up (epochs, may be fractional).", ge=0.0)
    lr_min_factor: float = option(0.0, "Final lr / lr of the cosine schedule.", ge=0.0, le=1.0)
    lr_decay_epochs: int = option(0, "Epochs the cosine decay spans (from the start); later epochs keep "
                                     "lr * lr_min_factor (0 = all epochs).", ge=0)
    lr_step_epochs: int = option(0, "Step schedule period in epochs (0 = never).", ge=0)
    lr_gamma: float = option(0.1, "Step schedule factor.", gt=0.0, le=1.0)
    partitions: int = option(1, "Entity partitions (PyTorch-BigGraph's and GraphVite's blocks): > 1 trains bucket by bucket (PBG / "
                                "GraphVite episodes), holding two partitions on the device at a time.", ge=1)
    seed: int = option(0, "Seed of initialisation, shuffling and negatives.", ge=0)
    threads: int = option(2, "torch / numba threads.", ge=1)
    device: str = option("auto", "cpu, cuda, cuda:N or auto.")
    eval_every: int = option(0, "Validation MRR every this many epochs on eval_valid_size triples (0 = never).",
                             ge=0)
    eval_valid_size: int = option(2000, "Validation triples used by the periodic check (0 = all).", ge=0)
    max_time_s: float = option(0.0, "Stop after this much training time (checkpointed; continue with --resume); "
                                    "0 = no limit.", ge=0.0)


@dataclass
class KGRGCNConfig:
    """R-GCN link prediction (Schlichtkrull et al. 2018, sec. 4-5); used when ``model.name`` is rgcn, whose hidden
    size is ``model.dim``."""

    layers: int = option(2, "R-GCN layers over the entity embeddings (inverse relations are extra relation types).",
                         ge=1)
    num_blocks: int = option(100, "Diagonal blocks of each relation weight (block-diagonal decomposition); must "
                                  "divide model.dim (500 / 100 = 5x5 blocks in the paper).", ge=1)
    edge_dropout: float = option(0.4, "Share of a batch's triples left out of its message-passing graph (both "
                                      "directions), before normalisation.", ge=0.0, lt=1.0)
    self_loop_dropout: float = option(0.2, "Share of a batch's entities whose self-loop term is dropped.",
                                      ge=0.0, lt=1.0)
    dropout: float = option(0.0, "Feature dropout after each hidden layer's activation.", ge=0.0, lt=1.0)
    graph_batch_size: int = option(30000, "Training triples per step: the step's positives and, after edge "
                                          "dropout, its message-passing graph.", ge=1)
    regularization: float = option(0.01, "L2 weight on the decoder inputs: mean square of the step's entity "
                                         "representations plus that of the relation vectors.", ge=0.0)
    grad_clip: float = option(1.0, "Clip the gradient norm to this (0 = no clipping).", ge=0.0)


@dataclass
class KGEvaluateConfig:
    batch_size: int = option(0, "Queries per scoring batch; 0 = from memory_mb.", ge=0)
    memory_mb: int = option(256, "Bound on the [batch, N] score matrix when batch_size is 0.", ge=1)
    chunk_size: int | None = option(None, "Entities per scoring chunk (null = all at once).", ge=1)
    valid: bool = option(True, "Also report filtered validation metrics.")
    test: bool = option(True, "Evaluate on the test triples; false for model selection (validation only, "
                              "test read once for the chosen config).")


@dataclass
class KGOutputConfig:
    dir: str | None = option(None, "Output folder; default runs/kg-<dataset>-<model>.")
    checkpoint_every: int = option(1, "Checkpoint every this many epochs (0 = only at the end).", ge=0)
    export: bool = option(True, "Write entity/relation embeddings (.npy) with id maps (.tsv).")
    plot: bool = option(True, "Save training_curve.png: the loss per epoch and the validation MRR per evaluation.")
    tensorboard: bool = option(False, "Write TensorBoard event files of every logged scalar under "
                                      "<output folder>/tensorboard (needs the tensorboard package).")


@dataclass
class KGExpectedConfig:
    mrr: float | None = option(None, "Filtered test MRR this config reached here (informational).", ge=0.0)
    hits_at_10: float | None = option(None, "Filtered test Hits@10 reached here.", ge=0.0)
    target_mrr: float | None = option(None, "Minimum filtered test MRR this config must reach.", ge=0.0)
    target_hits_at_10: float | None = option(None, "Minimum filtered test Hits@10.", ge=0.0)
    train_time_s: float | None = option(None, "Training time measured for the numbers above.", ge=0.0)
    source: str = option("", "Where the numbers come from (machine, paper).")


@dataclass
class KGConfig:
    version: int = option(KG_CONFIG_VERSION, "Config format version.", ge=1, le=KG_CONFIG_VERSION)
    task: str = option("kg", "Always kg.", choices=("kg",))
    data: KGDataConfig = field(default_factory=KGDataConfig)
    model: KGModelConfig = field(default_factory=KGModelConfig)
    train: KGTrainConfig = field(default_factory=KGTrainConfig)
    rgcn: KGRGCNConfig = field(default_factory=KGRGCNConfig)
    evaluate: KGEvaluateConfig = field(default_factory=KGEvaluateConfig)
    output: KGOutputConfig = field(default_factory=KGOutputConfig)
    expected: KGExpectedConfig = field(default_factory=KGExpectedConfig)

    def __post_init__(self) -> None:
        self.locations: dict[str, str] = {}
