"""The ``load -> split -> train -> evaluate -> save`` life cycle behind ``graphscale link``.

Output folder (``output.dir``, default ``runs/link-<dataset>-<model>[-neighbor]``)::

    config.yaml      the resolved config (re-run it with --config)
    metrics.json     summary: test / val AUC, AP, Hits@K, MRR means, stds and per-seed lists, epoch time, peak RSS,
                     and the runs (their selected epoch, split sizes, timings)
    history.json     per-epoch curves of every run
    checkpoints/     run<i>.pt, atomic, used by --resume
"""

from __future__ import annotations

import time
from typing import Any

from ..config import dump
from ..config.link import LinkConfig
from ..config.registry import normalize_key
from ..datasets.base import NodeDataset, normalize_features
from ..errors import ConfigError
from .checkpoint import write_text_atomic
from .link import check_config, train_link
from .metrics import peak_memory_mb
from .plot import save_json
from .run import dataset_label, reduce_features
from .runtime import output_folder, resolve_device, run_folder

ARTIFACTS = ("config.yaml", "metrics.json", "history.json", "checkpoints")


def run_name(cfg: LinkConfig, dataset_name: str | None = None) -> str:
    """``link-<dataset>-<model>[-neighbor]``."""
    sampler = "" if cfg.sampler.name == "none" else f"-{cfg.sampler.name}"
    return f"link-{dataset_label(dataset_name or cfg.data.dataset)}-{normalize_key(cfg.model.name)}{sampler}"


def load_link_dataset(cfg: LinkConfig) -> NodeDataset:
    """The node dataset of ``data.dataset`` with its features prepared (``feature_svd``, ``normalize_features``).

    Raises:
        ConfigError: A graph-classification dataset.
    """
    from .. import datasets

    dataset = datasets.load(cfg.data.dataset, root=cfg.data.root)
    if not isinstance(dataset, NodeDataset):
        raise ConfigError(f"data.dataset: expected a dataset of one graph (link prediction), got {dataset.name!r}, a "
                          f"{type(dataset).__name__} of many graphs{cfg.where('data.dataset')}. Pick a node dataset "
                          "such as cora.")
    if cfg.data.feature_svd is not None:
        dataset = reduce_features(dataset, cfg.data.feature_svd)
    return normalize_features(dataset) if cfg.data.normalize_features else dataset


SUMMARY_LAST = ("test_auc", "test_ap", "test_mrr", "epoch_time_s", "peak_rss_mb")


def run_link(cfg: LinkConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
             dataset: NodeDataset | None = None) -> dict[str, Any]:
    """Load, split, train ``train.seeds`` runs, write the output folder.

    Returns:
        The summary written to ``metrics.json`` (per-run details under ``runs``).

    Raises:
        ConfigError: Settings no run can train (checked before anything is written), a checkpoint of another
            config.
    """
    device = resolve_device(cfg.train.device)
    check_config(cfg)
    ds = dataset if dataset is not None else load_link_dataset(cfg)
    check_config(cfg, ds.num_nodes)
    out = run_folder(cfg.output.dir, run_name(cfg, ds.name), ARTIFACTS, resume)
    with output_folder(out, ARTIFACTS, resume=resume, overwrite=overwrite):
        write_text_atomic(dump(cfg), out / "config.yaml")
        began = time.perf_counter()
        result = train_link(cfg, ds, device, out_dir=out, resume=resume, progress=progress)
        curves = result.pop("curves")
        summary: dict[str, Any] = {
            "dataset": dataset_label(ds.name), "task": "link",
            "model": cfg.model.name, "decoder": cfg.model.decoder, "sampler": cfg.sampler.name,
            "loss": cfg.train.loss, "seeds": cfg.train.seeds, "epochs": cfg.train.epochs,
            "num_nodes": ds.num_nodes, "num_edges": ds.graph.num_edges, "device": str(device),
            "output_dir": str(out), "train_time_s": time.perf_counter() - began,
            "peak_memory_mb": peak_memory_mb(device), **result}
        expected = cfg.expected
        for key in ("paper_test_auc", "paper_test_ap", "target_auc", "target_ap"):
            if getattr(expected, key) is not None:
                summary[key] = getattr(expected, key)
        if expected.target_auc is not None or expected.target_ap is not None:
            summary["reached_target"] = bool(
                (expected.target_auc is None or summary["test_auc"] >= expected.target_auc)
                and (expected.target_ap is None or summary["test_ap"] >= expected.target_ap))
        runs = summary.pop("runs")
        for key in SUMMARY_LAST[:-1]:
            summary[key] = summary.pop(key)
        summary["peak_rss_mb"] = peak_memory_mb("cpu")
        save_json({**summary, "runs": runs}, out / "metrics.json")
        save_json({"curves": curves}, out / "history.json")
        return summary


__all__ = ["ARTIFACTS", "load_link_dataset", "run_link", "run_name"]
