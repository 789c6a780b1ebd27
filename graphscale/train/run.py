"""The ``load -> build -> train -> evaluate -> save`` life cycle behind ``graphscale train``.

The trainer follows ``sampler.name`` and ``model.name`` (:func:`graphscale.train.node.trainer_kind`):
full batch (``train_node``), mini-batch samplers (``train_minibatch``), GAS (``train_gas``) or SGC/SIGN
precomputation (``train_precomputed``); graph datasets go to ``train_graph``. Every path writes the same summary.

Output folder (``output.dir``, default ``runs/<dataset>-<model>[-<sampler>]``)::

    config.yaml          the resolved config (re-run it with --config)
    metrics.json         summary (test_acc mean/std, timings, memory) + per-run / per-fold results
    history.json         per-epoch curves of every run (node) or the fold-averaged curves (graph)
    training_curve.png   loss and accuracy per epoch
    checkpoints/         run<i>.pt (node; sampler/precomputed runs: the finished run) or rep<r>-fold<k>.pt
                         (graph), atomic, used by --resume
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import RunConfig, dump
from ..config.registry import normalize_key
from ..datasets.base import GraphDataset, NodeDataset
from ..errors import ConfigError, DatasetError
from .checkpoint import write_text_atomic
from .metrics import peak_memory_mb
from .plot import plot_curves, save_json
from .runtime import output_folder, resolve_device, run_folder
from .tracking import require_tensorboard, with_tensorboard


def dataset_label(name: str) -> str:
    """Short name of a dataset for folder names: registry key, or the folder name of a path."""
    path = Path(name)
    return normalize_key(path.name if (len(path.parts) > 1 or path.exists()) else name)


def load_dataset(cfg: RunConfig) -> NodeDataset | GraphDataset:
    """``graphscale.datasets.load`` for ``data.dataset`` / ``data.root`` (+ ``data.unknown_nodes`` for a custom
    folder; registry loaders take no such option)."""
    from .. import datasets
    from ..datasets.registry import custom_folder

    options = {"unknown_nodes": cfg.data.unknown_nodes} if custom_folder(cfg.data.dataset) is not None else {}
    return datasets.load(cfg.data.dataset, root=cfg.data.root, **options)


def reduce_features(dataset: NodeDataset, k: int) -> NodeDataset:
    """``dataset`` with ``x`` replaced by ``U_k S_k`` of a seeded randomized truncated SVD ``x ~ U S V^T``.

    Sparse features (under 10% non-zeros) go through ``torch.svd_lowrank`` as a sparse matrix. A dataset already
    reduced to ``k`` (``meta["feature_svd"]``) is returned as it is.

    Shapes:
        dataset.x: ``[N, F]``; the result's x: ``[N, k]`` float32.

    Raises:
        ConfigError: ``k`` not below the number of features.
    """
    import dataclasses

    import torch

    if dataset.meta.get("feature_svd") == k:
        return dataset
    if k >= dataset.num_features:
        raise ConfigError(f"data.feature_svd: expected fewer dimensions than the {dataset.num_features} features of "
                          f"{dataset.name!r}, got {k}. Drop data.feature_svd or pick a smaller k.")
    x = dataset.x.float()
    sparse = bool((x != 0).float().mean() < 0.1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        u, s, _ = torch.svd_lowrank(x.to_sparse() if sparse else x, q=k, niter=4)
    return dataclasses.replace(dataset, x=(u * s).contiguous(), meta={**dataset.meta, "feature_svd": k})


def is_hetero_dataset(dataset: Any) -> bool:
    """Whether ``dataset`` holds a heterogeneous graph (entity classification on typed nodes)."""
    from ..graph.hetero import HeteroGraph

    return isinstance(getattr(dataset, "graph", None), HeteroGraph)


def check_hetero_match(cfg: RunConfig, dataset: Any, kind: str) -> None:
    """A heterogeneous dataset needs a heterogeneous model (rgcn, hgt) and the other way round.

    Raises:
        ConfigError: A mismatch, named with the config location of ``model.name``.
    """
    hetero_data = is_hetero_dataset(dataset)
    if hetero_data and kind != "hetero":
        raise ConfigError(f"model.name: expected a heterogeneous model (rgcn or hgt) for the heterogeneous dataset "
                          f"{dataset.name!r}, got {cfg.model.name!r}{cfg.where('model.name')}. Pass --model rgcn.")
    if kind == "hetero" and not hetero_data:
        raise ConfigError(f"model.name: expected a heterogeneous dataset (typed nodes and relations, e.g. "
                          f"synthetic-mag) for {cfg.model.name!r}, got {dataset.name!r}{cfg.where('model.name')}.")
    if hetero_data and cfg.data.feature_svd is not None:
        raise ConfigError(f"data.feature_svd: expected null for the heterogeneous dataset {dataset.name!r}"
                          f"{cfg.where('data.feature_svd')}.")


def resolve_task(cfg: RunConfig, dataset: NodeDataset | GraphDataset) -> str:
    """``node`` or ``graph`` from the dataset type; a mismatch with an explicit ``task`` is a ConfigError."""
    actual = "graph" if isinstance(dataset, GraphDataset) else "node"
    if cfg.task not in ("auto", actual):
        raise ConfigError(f"task: expected {actual!r} for dataset {dataset.name!r} (a {type(dataset).__name__}), "
                          f"got {cfg.task!r}{cfg.where('task')}. Set task: auto or pick a {cfg.task} dataset.")
    return actual


def check_model_name(cfg: RunConfig) -> None:
    """Fail before loading any data when ``model.name`` is in neither model registry."""
    from ..config import did_you_mean
    from ..nn import models
    from ..nn.hetero_models import HETERO_MODELS
    from .node import PRECOMPUTED_MODELS

    known = [*models.NODE_MODELS, *(n for n in models.GRAPH_MODELS if n not in models.NODE_MODELS),
             *(n for n in PRECOMPUTED_MODELS if n not in models.NODE_MODELS), *HETERO_MODELS]
    if normalize_key(cfg.model.name) not in known:
        raise ConfigError(f"model.name: expected one of {', '.join(repr(k) for k in known)}, got "
                          f"{cfg.model.name!r}{cfg.where('model.name')}.{did_you_mean(cfg.model.name, known)}")


ARTIFACTS = ("config.yaml", "metrics.json", "history.json", "training_curve.png", "checkpoints", "tensorboard")


def run_name(cfg: RunConfig, dataset_name: str | None = None) -> str:
    """The default folder name of a training run: ``<dataset>-<model>[-<sampler>]``."""
    sampler = "" if cfg.sampler.name == "none" else f"-{cfg.sampler.name}"
    return f"{dataset_label(dataset_name or cfg.data.dataset)}-{normalize_key(cfg.model.name)}{sampler}"


MIN_LABELLED_FOR_RANDOM_SPLIT = 5  # 60/20/20 rounds to at least one node in each part


def check_trainable(dataset: NodeDataset) -> None:
    """Raise DatasetError unless ``dataset`` has labels and labelled nodes in each of train / val / test."""
    import torch

    y = dataset.y
    if y is None or y.numel() == 0 or dataset.num_classes < 1 or (y.dim() == 1 and not bool((y >= 0).any())):
        raise DatasetError(f"dataset {dataset.name!r}: expected node labels to train on, got none (a custom folder: "
                           "no label column in nodes.csv, or every label empty). Add a label column to nodes.csv.")
    labelled = (y >= 0) if y.dim() == 1 else torch.ones(y.shape[0], dtype=torch.bool)
    if dataset.num_splits == 0:  # no published split: the trainer draws a random 60/20/20 one of the labelled
        count = int(labelled.sum())
        if count < MIN_LABELLED_FOR_RANDOM_SPLIT:
            raise DatasetError(f"dataset {dataset.name!r}: expected at least {MIN_LABELLED_FOR_RANDOM_SPLIT} labelled "
                               f"nodes for a random train / val / test split, got {count}. Label more nodes.")
        return
    for split, mask in (("train", dataset.train_mask), ("val", dataset.val_mask), ("test", dataset.test_mask)):
        if mask is None:
            raise DatasetError(f"dataset {dataset.name!r}: expected a {split} split, got none. Give nodes.csv a "
                               "split column (train / val / test) or leave it out for a random split.")
        columns = mask.reshape(mask.shape[0], -1)
        counts = (columns & labelled[:, None]).sum(0)
        if bool((counts == 0).any()):
            which = "" if columns.shape[1] == 1 else f" (split {int((counts == 0).nonzero()[0, 0])})"
            raise DatasetError(f"dataset {dataset.name!r}: expected labelled nodes in the {split} split{which}, got "
                               f"none. Mark some labelled nodes '{split}' in the split column of nodes.csv, or "
                               "drop the column for a random split.")


def check_resume_config(cfg: RunConfig, out: Path) -> None:
    """With ``--resume``: raise ConfigError, before anything is written, when ``out/config.yaml`` (the
    interrupted run's) differs from ``cfg`` in anything but output, expected metrics and device."""
    from ..config import load
    from .runtime import check_resume, fingerprint

    saved = out / "config.yaml"
    if saved.is_file():
        check_resume(fingerprint(load(saved)), cfg, saved)


def run(cfg: RunConfig, resume: bool = False, progress: bool = True,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        dataset: NodeDataset | GraphDataset | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Load the dataset, train every seed / fold, write the output folder and return the summary.

    Args:
        cfg: Resolved config.
        resume: Continue from the checkpoints in the output folder instead of starting over.
        progress: Show a tqdm bar on stderr.
        on_epoch: Per-epoch callback (tests use it to interrupt a run).
        dataset: Use this dataset instead of loading ``data.dataset``.
        overwrite: Replace the earlier run in the output folder (kept until this run finishes; see
            :mod:`graphscale.train.runtime`). Without it (or ``resume``) a folder holding a run is refused.

    Returns:
        The summary written to ``metrics.json`` (``runs`` or ``folds`` hold the per-run details).
    """
    from .graph import train_graph
    from .hetero import train_hetero
    from .node import train_node, trainer_kind

    device = resolve_device(cfg.train.device)
    check_model_name(cfg)
    kind = trainer_kind(cfg)  # fails before loading data on a model/sampler mismatch
    if kind == "hetero":
        from .hetero import check_hetero_config

        check_hetero_config(cfg)
    ds = dataset if dataset is not None else load_dataset(cfg)
    task = resolve_task(cfg, ds)
    if task == "graph" and cfg.sampler.name != "none":
        raise ConfigError(f"sampler.name: expected none for graph classification (batches are whole graphs, "
                          f"train.batch_size), got {cfg.sampler.name!r}{cfg.where('sampler.name')}. Drop --sampler.")
    kind = "graph" if task == "graph" else kind
    check_hetero_match(cfg, ds, kind)
    if cfg.data.feature_svd is not None:
        if not isinstance(ds, NodeDataset):
            raise ConfigError(f"data.feature_svd: expected a node dataset, got the graph dataset {ds.name!r}"
                              f"{cfg.where('data.feature_svd')}. Drop data.feature_svd.")
        ds = reduce_features(ds, cfg.data.feature_svd)
    if isinstance(ds, NodeDataset):
        check_trainable(ds)
    out = run_folder(cfg.output.dir, run_name(cfg, ds.name), ARTIFACTS, resume)
    if resume:
        check_resume_config(cfg, out)
    if cfg.output.tensorboard:
        require_tensorboard()
    with output_folder(out, ARTIFACTS, resume=resume, overwrite=overwrite):
        write_text_atomic(dump(cfg), out / "config.yaml")
        if device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(device)
        began = time.perf_counter()
        trainer = train_graph if kind == "graph" else train_hetero if kind == "hetero" else train_node
        with with_tensorboard(cfg.output.tensorboard, out, on_epoch) as hook:
            result = trainer(cfg, ds, device, out_dir=out, resume=resume, progress=progress, on_epoch=hook)
        train_time = time.perf_counter() - began
        return _finish(cfg, ds, task, device, out, result, train_time)


def _finish(cfg: RunConfig, ds: NodeDataset | GraphDataset, task: str, device: Any, out: Path,
            result: dict[str, Any], train_time: float) -> dict[str, Any]:
    """Summary, metrics.json, history.json and the training curve of a finished run."""
    curves = result.pop("curves")
    summary: dict[str, Any] = {
        "dataset": dataset_label(ds.name), "model": cfg.model.name, "task": task,
        "seeds": cfg.train.seeds, "epochs": cfg.train.epochs, "train_time_s": train_time,
        "peak_rss_mb": peak_memory_mb("cpu"), "peak_memory_mb": peak_memory_mb(device), "device": str(device),
        "output_dir": str(out), **result,
    }
    if ds.meta.get("generator_version") is not None:  # generated data: which generator made it
        summary["dataset_version"] = ds.meta["generator_version"]
    if task == "graph":
        summary["num_folds"] = cfg.train.folds
    else:
        summary.setdefault("sampler", "none")
    if cfg.expected.test_acc is not None:
        summary["expected_test_acc"] = cfg.expected.test_acc
        summary["expected_source"] = cfg.expected.source
    if cfg.expected.target is not None:
        summary["target"] = cfg.expected.target
        summary["reached_target"] = bool(summary["test_acc"] >= cfg.expected.target)
    save_json(summary, out / "metrics.json")
    save_json({"curves": curves}, out / "history.json")
    if cfg.output.plot:
        selected = [r["best_epoch"] for r in summary.get("runs", summary.get("folds", [])) or []
                    if isinstance(r, dict) and r.get("best_epoch") is not None]
        plot_curves(curves, out / "training_curve.png",
                    f"{summary['dataset']} / {cfg.model.name}: test acc {summary['test_acc']:.4f}", selected)
    return summary


def compact(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without per-run lists (one short JSON line for ``--json``)."""
    keep = {k: v for k, v in summary.items() if k not in ("runs", "folds")}
    if "runs" in summary:
        keep["per_seed_test_acc"] = [r["test_acc"] for r in summary["runs"]]
    if "folds" in summary:
        keep["per_fold_last_test_acc"] = [r["last_test_acc"] for r in summary["folds"]]
    return keep
