"""The ``load -> build -> train -> evaluate -> save`` life cycle behind ``graphscale embed``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..config import dump
from ..distributed.comm import join_group, restarted, same_on_every_rank
from ..errors import ConfigError, DatasetError
from ..train import runtime
from ..train.checkpoint import write_text_atomic
from ..train.metrics import peak_rss_mb
from ..train.plot import save_json
from ..train.tracking import require_tensorboard, with_tensorboard
from .config import EmbedConfig, load
from .evaluate import label_matrix, link_prediction, link_split, node_classification, plot_f1, selection_split
from .io import save_labels, save_word2vec
from .trainer import train_embeddings


def load_graph_data(cfg: EmbedConfig) -> Any:
    """The dataset of ``data.dataset``: a registry name, a folder, or an edge-list / ``.adjlist`` / ``.mat`` file."""
    from .. import datasets
    from ..datasets.edgelist import load_adjlist, load_edgelist
    from ..datasets.mat import load_mat

    name = cfg.data.dataset
    path = Path(name).expanduser()
    undirected = not cfg.data.directed
    if path.is_file():
        suffixes = path.name.lower().split(".")[1:]
        if "mat" in suffixes:
            return load_mat(path)
        if "adjlist" in suffixes:
            return load_adjlist(path, undirected=undirected)
        return load_edgelist(path, undirected=undirected)
    if path.is_dir():
        from ..datasets.custom import load_custom
        from ..datasets.io import resolve
        from ..datasets.registry import mat_file

        if resolve(path, "edges.csv") is None:
            if mat_file(path) is not None:  # a folder holding one .mat network (BlogCatalog's layout)
                return load_mat(mat_file(path))
            raise DatasetError(f"graphscale embed: expected {path}/edges.csv (header src,dst[,weight]) or one .mat "
                               "network in the folder, got neither. Add edges.csv or pass an edge-list file.")
        return load_custom(path, undirected=undirected, unknown_nodes=cfg.data.unknown_nodes)
    if ("/" in name or name.endswith((".txt", ".csv", ".edgelist", ".mat", ".adjlist"))) and not path.exists():
        raise DatasetError(f"graphscale embed: expected an existing dataset file or folder, got '{name}'. "
                           "Check the path, or use a registry name (graphscale datasets).")
    dataset = datasets.load(name, root=cfg.data.root)
    if not hasattr(dataset, "graph"):
        raise DatasetError(f"graphscale embed: expected a single-graph dataset, got {dataset!r} (a set of graphs).")
    return dataset


def has_labels(y: Any) -> bool:
    if y is None:
        return False
    array = y.numpy() if hasattr(y, "numpy") else np.asarray(y)
    return bool(array.size) and (bool((array >= 0).any() and array.max() > 0) if array.ndim == 1
                                 else bool(array.any()))


def _settings(cfg: EmbedConfig) -> dict[str, Any]:
    m, t = cfg.model, cfg.train
    names = ("num_walks", "walk_length", "window", "p", "q", "order", "subsample", "negatives", "negative_weight",
             "num_samples")
    return {**{k: getattr(m, k) for k in names},
            **{k: getattr(t, k) for k in ("lr", "min_lr_fraction", "pool_size", "walk_mode", "backend", "device",
                                          "batch_size", "partitions", "seed")}}


def warm_up(model: str, settings: dict[str, Any]) -> float:
    """Compile (or load from numba's cache) every kernel of ``model`` on a 6-node graph; returns seconds."""
    import torch

    from ..graph import Graph

    start = time.perf_counter()
    ring = torch.arange(6)
    graph = Graph(torch.cat([ring, (ring + 1) % 6]), torch.cat([(ring + 1) % 6, ring]), 6)
    small = {**settings, "num_samples": 64, "pool_size": 32, "device": "cpu"}
    train_embeddings(graph, model, 8, **small)
    return time.perf_counter() - start


ARTIFACTS = ("config.yaml", "metrics.json", "embeddings.npy", "embeddings.nodes.txt", "embeddings.w2v.txt",
             "labels.npy", "classes.txt", "f1_vs_ratio.png", "checkpoint.pt", "checkpoint-shards", "tensorboard")
RESUME_MAY_CHANGE = ("backend", "device", "batch_size")


def check_resume_config(cfg: EmbedConfig, folder: Path) -> None:
    """With ``--resume``: ConfigError before anything is written when ``folder/config.yaml`` (the interrupted
    run's) has other data or training settings than ``cfg``."""
    saved_path = folder / "config.yaml"
    if not saved_path.is_file():
        return
    runtime.check_same_settings(_resume_settings(load(saved_path)), _resume_settings(cfg), saved_path)


def _resume_settings(cfg: EmbedConfig) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the data, the model and its training settings."""
    return {"data.dataset": cfg.data.dataset, "data.directed": cfg.data.directed, "model.name": cfg.model.name,
            "model.dim": cfg.model.dim, **{k: v for k, v in _settings(cfg).items() if k not in RESUME_MAY_CHANGE}}


def run(cfg: EmbedConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Load, train, evaluate and save; returns the summary written to ``metrics.json``.

    The output folder is opened by :func:`graphscale.train.runtime.output_folder`: a folder holding an earlier
    run is refused unless ``resume`` or ``overwrite``; a run failing on bad input leaves it as it was.
    """
    if cfg.train.threads is not None:
        numba.set_num_threads(min(cfg.train.threads, numba.config.NUMBA_NUM_THREADS))
    rank, world = join_group()
    if world > cfg.train.partitions:
        raise ConfigError(f"train.partitions: expected at least {world} node partitions for {world} ranks (one per "
                          f"rank, so that every rank trains a block in every round), got {cfg.train.partitions}. "
                          f"Pass --entity-partitions {world}.")
    resume = resume or (world > 1 and restarted())
    dataset = load_graph_data(cfg)
    name = f"embed-{dataset.name}-{cfg.model.name}"
    folder = same_on_every_rank(runtime.run_folder(cfg.output.dir, name, ARTIFACTS, resume) if rank == 0 else None)
    if resume:
        check_resume_config(cfg, folder)
    if cfg.output.tensorboard:
        require_tensorboard()
    return runtime.group_run(rank, world, folder, ARTIFACTS, resume=resume, overwrite=overwrite,
                             prepare=lambda: write_text_atomic(dump(cfg), folder / "config.yaml"),
                             body=lambda writer: _train_and_save(cfg, dataset, folder, resume, progress and writer,
                                                                 (rank, world), writer))


def _train_and_save(cfg: EmbedConfig, dataset: Any, folder: Path, resume: bool, progress: bool,
                    group: tuple[int, int] = (0, 1), writer: bool = True) -> dict[str, Any] | None:
    """Train (every rank of ``group``), then evaluate and write the folder (the ``writer``, rank 0)."""
    settings = _settings(cfg)
    compile_s = warm_up(cfg.model.name, settings)
    with with_tensorboard(cfg.output.tensorboard and writer, folder, None) as hook:
        result = train_embeddings(dataset.graph, cfg.model.name, cfg.model.dim, edge_weight=dataset.edge_weight,
                                  progress=progress, checkpoint=folder / "checkpoint.pt", resume=resume,
                                  checkpoint_every_s=cfg.output.checkpoint_every_s, overlap=cfg.train.overlap,
                                  group=group, on_epoch=hook, **settings)
    if not writer:  # the other ranks of a group train the held-out run of the link evaluation with rank 0
        if cfg.evaluate.link_prediction:
            train_embeddings(link_split(dataset.graph, cfg.evaluate.test_fraction, cfg.train.seed)[0],
                             cfg.model.name, cfg.model.dim, group=group, **settings)
        return None
    node_ids = [str(i) for i in (dataset.meta.get("node_ids") or range(dataset.num_nodes))]
    result.save(folder, node_ids)
    if cfg.output.word2vec:
        save_word2vec(result.embeddings, node_ids, folder / "embeddings.w2v.txt")
    if has_labels(dataset.y):  # beside the embeddings: `graphscale visualize --run` needs no other file
        save_labels(dataset.y.numpy() if hasattr(dataset.y, "numpy") else np.asarray(dataset.y), folder,
                    [str(c) for c in dataset.meta.get("classes") or []])
    summary: dict[str, Any] = {
        "dataset": dataset.name, "model": cfg.model.name, "num_nodes": dataset.num_nodes,
        "num_edges": dataset.graph.num_edges, "dim": cfg.model.dim, "walk_mode": result.walk_mode,
        "num_samples": result.num_samples, "samples_per_s": result.samples_per_s,
        "total_time_s": result.total_time_s, "cpu_time_s": result.cpu_time_s, "setup_time_s": result.setup_time_s,
        "compile_time_s": compile_s,
        "threads": numba.get_num_threads(), "final_loss": result.loss[-1] if result.loss else None,
        "settings": result.settings, "config": cfg.source, "output_dir": str(folder), **result.group,
        "micro_f1": None, "macro_f1": None,
    }
    if has_labels(dataset.y):
        ratios = list(cfg.evaluate.ratios)
        start = time.perf_counter()
        evaluation = {"repeats": cfg.evaluate.repeats, "seed": cfg.train.seed, "c": cfg.evaluate.c,
                      "normalize": cfg.evaluate.normalize}
        if cfg.evaluate.validation_fraction > 0:
            selection_y, reported_y = selection_split(dataset.y, cfg.evaluate.validation_fraction)
            chosen = node_classification(result.embeddings, selection_y, ratios=[0.5], **evaluation)
            summary.update(validation_micro_f1=chosen["micro_f1"][0], validation_macro_f1=chosen["macro_f1"][0],
                           validation_fraction=cfg.evaluate.validation_fraction)
            evaluation["test_nodes"] = label_matrix(reported_y)[1]
        scores = node_classification(result.embeddings, dataset.y, ratios=ratios, **evaluation)
        if 0.5 not in ratios:
            half = node_classification(result.embeddings, dataset.y, ratios=[0.5], **evaluation)
        else:
            half = {k: [v[ratios.index(0.5)]] for k, v in scores.items()}
        summary.update(micro_f1=half["micro_f1"][0], macro_f1=half["macro_f1"][0],
                       micro_f1_std=half["micro_f1_std"][0], macro_f1_std=half["macro_f1_std"][0],
                       eval_repeats=cfg.evaluate.repeats, eval_time_s=time.perf_counter() - start,
                       classification=scores)
        if cfg.output.plot:
            plot = plot_f1(scores, folder / "f1_vs_ratio.png", f"{dataset.name} / {cfg.model.name}")
            summary["plot"] = str(plot) if plot else None
    if cfg.evaluate.link_prediction:
        train_graph, positives, negatives = link_split(dataset.graph, cfg.evaluate.test_fraction, cfg.train.seed)
        held = train_embeddings(train_graph, cfg.model.name, cfg.model.dim, group=group, **settings)
        summary["link_auc"] = link_prediction(held.embeddings, positives, negatives)
        summary["link_test_edges"] = int(positives.shape[0])
    expected = {k: getattr(cfg.expected, k) for k in ("micro_f1", "macro_f1", "target_micro_f1", "source")}
    if any(v not in (None, "") for v in expected.values()):
        summary["expected"] = expected
    summary.update(train_time_s=result.train_time_s, sample_time_s=result.sample_time_s, peak_rss_mb=peak_rss_mb())
    save_json(summary, folder / "metrics.json")
    return summary
