"""Typed config of ``graphscale embed``: one section per life-cycle step (load -> build -> train -> evaluate ->
save), YAML + ``key=value`` overrides checked with the same path-aware errors as ``graphscale train``::

    model.window: expected int >= 1, got 0 (embed-deepwalk-blogcatalog.yaml:9).

Shipped configs: ``graphscale/configs/embed-<model>-<dataset>.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config.loader import load as core_load
from ..config.schema import option
from ..config.shipped import config_dir
from .trainer import MODELS


@dataclass
class EmbedData:
    """The graph to embed."""

    dataset: str = option("blogcatalog", "Registry name (blogcatalog, ppi, karate ...), a folder with edges.csv "
                                         "[+ nodes.csv], or an edge-list file (src dst [weight] per line).")
    root: str | None = option(None, "Folder holding the published datasets; default: $GRAPHSCALE_DATA.")
    directed: bool = option(False, "Edge-list files and folders: keep edges one-way (default: undirected).")
    unknown_nodes: str = option("error", "Folders: an edges.csv node missing from a nodes.csv that has feature or "
                                         "label columns is an error (error), or is added without features or "
                                         "label (add).", choices=("error", "add"))


@dataclass
class EmbedModel:
    """The embedding model and its sampling hyper-parameters."""

    name: str = option("deepwalk", "deepwalk, node2vec or line.", choices=MODELS)
    dim: int = option(128, "Embedding size.", ge=1)
    num_walks: int = option(80, "Walks per node (walk models); also sets LINE's sample budget. The defaults (80 "
                                "walks of 40, window 10, 3 negatives of weight 2) were chosen on validation F1 "
                                "across the shipped labelled graphs together (benchmarks/embed_defaults.py).", ge=1)
    walk_length: int = option(40, "Nodes per walk.", ge=2)
    window: int = option(10, "Augmentation distance: pairs (walk[i], walk[i+j]) for 1 <= j <= window.", ge=1)
    p: float = option(1.0, "node2vec return parameter.", gt=0.0)
    q: float = option(1.0, "node2vec in-out parameter.", gt=0.0)
    order: int = option(2, "LINE proximity order (1: vertex-vertex, 2: vertex-context).", ge=1, le=2)
    subsample: float = option(0.0, "word2vec frequent-node subsampling threshold (0 = off, e.g. 1e-3).",
                              ge=0.0, lt=1.0)
    negatives: int = option(3, "Negative samples per positive pair.", ge=1)
    negative_weight: float = option(2.0, "Weight of each negative's loss (GraphVite's negative_weight).", gt=0.0)
    num_samples: int | None = option(None, "Positive samples in total; null: from num_walks, walk_length, window.",
                                     ge=1)


@dataclass
class EmbedTrain:
    """Optimisation and the engine."""

    lr: float = option(0.025, "Initial SGD learning rate (decays linearly).", gt=0.0)
    min_lr_fraction: float = option(1e-4, "Learning-rate floor as a fraction of lr.", ge=0.0, le=1.0)
    pool_size: int = option(1 << 20, "Samples per pool (episode).", ge=1)
    backend: str = option("numba", "numba (Hogwild SGD on the CPU) or torch (batched, for a GPU).",
                          choices=("numba", "torch"))
    device: str = option("cpu", "torch backend: cpu, cuda or cuda:N.")
    batch_size: int = option(65536, "torch backend: samples per step.", ge=1)
    walk_mode: str = option("auto", "node2vec sampler: alias, rejection or auto.",
                            choices=("auto", "alias", "rejection"))
    threads: int | None = option(None, "numba threads; null: all cores.", ge=1)
    partitions: int = option(1, "Node partitions of the vertex and context tables: > 1 trains them block by block "
                                "(GraphVite); under torchrun the ranks train disjoint blocks at once.", ge=1)
    overlap: bool = option(True, "Fill the next pool on a background thread while training (double buffering).")
    seed: int = option(0, "Seed of walks, negatives and initialisation.", ge=0)


@dataclass
class EmbedEvaluate:
    """Downstream evaluation (runs when the dataset has labels / for link prediction on request)."""

    ratios: list[float] = option(  # noqa: RUF009 (option() returns a dataclass field)
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "Training fractions of the labelled nodes.", gt=0.0, lt=1.0)
    repeats: int = option(3, "Random splits per ratio.", ge=1)
    c: float = option(1.0, "Inverse L2 strength of the logistic regression.", gt=0.0)
    normalize: bool = option(False, "L2-normalise embeddings before the classifier.")
    validation_fraction: float = option(0.0, "Share of the labelled nodes held out (one fixed draw) for model "
                                             "selection: validation_micro_f1 / validation_macro_f1 come from them "
                                             "(50% train / 50% test inside the set), the reported F1 from the "
                                             "other nodes only; 0 = off (the published protocol on all nodes).",
                                        ge=0.0, lt=1.0)
    link_prediction: bool = option(False, "Also hold out edges, retrain on the rest and report the AUC.")
    test_fraction: float = option(0.1, "Link prediction: fraction of undirected edges held out.", gt=0.0, lt=1.0)


@dataclass
class EmbedOutput:
    """Where results go."""

    dir: str | None = option(None, "Output folder; default runs/embed-<dataset>-<model>.")
    checkpoint_every_s: float = option(60.0, "Seconds between checkpoints of the tables.", gt=0.0)
    plot: bool = option(True, "Save the F1-vs-ratio PNG.")
    word2vec: bool = option(True, "Also write embeddings.w2v.txt, the word2vec text format (gensim's "
                                  "KeyedVectors.load_word2vec_format reads it).")
    tensorboard: bool = option(False, "Write TensorBoard event files of every logged scalar under "
                                      "<output folder>/tensorboard (needs the tensorboard package).")


@dataclass
class EmbedExpected:
    """Published numbers a shipped config reproduces (informational)."""

    micro_f1: float | None = option(None, "Published Micro-F1 at 50% labels.", ge=0.0, le=1.0)
    macro_f1: float | None = option(None, "Published Macro-F1 at 50% labels.", ge=0.0, le=1.0)
    target_micro_f1: float | None = option(None, "Micro-F1 this config must reach at 50% labels.", ge=0.0, le=1.0)
    source: str = option("", "Citation of the published numbers.")


@dataclass
class EmbedConfig:
    """Everything ``graphscale embed`` needs."""

    version: int = option(1, "Config format version.", ge=1, le=1)
    task: str = option("embed", "Always embed.", choices=("embed",))
    data: EmbedData = field(default_factory=EmbedData)
    model: EmbedModel = field(default_factory=EmbedModel)
    train: EmbedTrain = field(default_factory=EmbedTrain)
    evaluate: EmbedEvaluate = field(default_factory=EmbedEvaluate)
    output: EmbedOutput = field(default_factory=EmbedOutput)
    expected: EmbedExpected = field(default_factory=EmbedExpected)
    source: str = field(default="defaults", metadata={"help": "Where the config came from.", "internal": True})


def load(path: str | os.PathLike[str] | None = None, overrides: Iterable[str] = ()) -> EmbedConfig:
    """Defaults, then the YAML file (if any), then ``section.key=value`` overrides (the one schema engine,
    :func:`graphscale.config.load`); ``source`` records the file."""
    cfg = core_load(path, overrides, cls=EmbedConfig)
    if path is not None:
        cfg.source = str(path)
    return cfg


def find_shipped(model: str, dataset: str) -> Path | None:
    """``graphscale/configs/embed-<model>-<dataset>.yaml`` when shipped, else None."""
    path = config_dir() / f"embed-{model.strip().lower()}-{dataset.strip().lower()}.yaml"
    return path if path.is_file() else None
