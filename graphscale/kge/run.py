"""The ``load -> build -> train -> evaluate -> save`` life cycle behind ``graphscale kg``.

Output folder (``output.dir``, default ``runs/kg-<dataset>-<model>``)::

    config.yaml             the resolved config (re-run it with --config)
    metrics.json            filtered test (and valid) metrics, timings, memory, history
    progress.jsonl          one line per epoch (loss, lr, time, periodic validation MRR)
    checkpoints/last.pt     atomic checkpoint used by --resume
    embeddings/             entity_embeddings.npy, relation_embeddings.npy, entities.tsv, relations.tsv
    training_curve.png      loss per epoch and validation MRR per evaluation (output.plot)
    tensorboard/            event files of every logged scalar (--tensorboard)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ..config import dump, load, to_dict
from ..config.registry import normalize_key
from ..distributed.comm import join_group, restarted, same_on_every_rank
from ..errors import ConfigError
from ..train.checkpoint import write_text_atomic
from ..train.metrics import peak_memory_mb, peak_rss_mb
from ..train.plot import clean_json, plot_kg_curves
from ..train.runtime import check_same_settings, group_run, resolve_device, run_folder
from ..train.tracking import require_tensorboard, with_tensorboard
from .config import KGConfig
from .distributed import shared_evaluation
from .evaluate import evaluate
from .model import KGEModel, build_kg_model
from .rgcn_train import build_rgcn, check_rgcn_config, train_rgcn
from .train import fingerprint, train
from .triples import FilterIndex, KGDataset, load_kg

METRIC_KEYS = ("mrr", "mr", "hits_at_1", "hits_at_3", "hits_at_10")


def dataset_label(name: str) -> str:
    path = Path(name)
    return normalize_key(path.name if (len(path.parts) > 1 or path.exists()) else name)


ARTIFACTS = ("config.yaml", "metrics.json", "progress.jsonl", "checkpoints", "embeddings", "tensorboard",
             "training_curve.png")


def check_resume_config(cfg: KGConfig, out: Path) -> None:
    """With ``--resume``: ConfigError before anything is written when ``out/config.yaml`` (the interrupted
    run's) has other data, model or training settings than ``cfg`` (``train.epochs`` and the other
    ``RESUME_MAY_CHANGE`` keys may differ)."""
    saved_path = out / "config.yaml"
    if not saved_path.is_file():
        return
    check_same_settings(fingerprint(load(saved_path, cls=KGConfig)), fingerprint(cfg), saved_path)


def model_for(cfg: KGConfig, data: KGDataset) -> KGEModel:
    m = cfg.model
    return build_kg_model(m.name, data.num_entities, data.num_relations, m.dim, gamma=m.gamma, p_norm=m.p_norm,
                       reciprocal=m.reciprocal, init=m.init, init_scale=m.init_scale, seed=cfg.train.seed)


def eval_batch_size(cfg: KGConfig, num_entities: int) -> int:
    """Queries per scoring batch: ``evaluate.batch_size`` or what fits ``evaluate.memory_mb`` of scores."""
    if cfg.evaluate.batch_size:
        return cfg.evaluate.batch_size
    return max(1, min(4096, cfg.evaluate.memory_mb * 2**20 // (4 * num_entities)))


def run_eval(model: KGEModel, triples: torch.Tensor, index: FilterIndex, cfg: KGConfig, device: torch.device,
             progress: bool = False, desc: str = "evaluate") -> dict[str, float]:
    """Filtered metrics of ``triples`` with ``model`` moved to ``device`` (in a torchrun group every rank ranks a
    share of the triples: :func:`~graphscale.kge.distributed.shared_evaluation`)."""
    scorer = model.to(device)

    def score_all(known: torch.Tensor, relation: torch.Tensor, side: str) -> torch.Tensor:
        return scorer.score_all(known, relation, side, chunk_size=cfg.evaluate.chunk_size)

    out = shared_evaluation(lambda share: evaluate(score_all, share, index, progress=progress, desc=desc,
                                                   batch_size=eval_batch_size(cfg, model.num_entities),
                                                   device=device), triples)
    model.to("cpu")
    return out


def run(cfg: KGConfig, *, resume: bool = False, progress: bool = True, data: KGDataset | None = None,
        on_epoch: Any = None, overwrite: bool = False) -> dict[str, Any]:
    """Train and evaluate as ``cfg`` says; writes the output folder and returns the summary.

    The summary's last keys are ``mrr, mr, hits_at_1, hits_at_3, hits_at_10`` (filtered, test),
    ``train_time_s``, ``triples_per_s`` and ``peak_rss_mb``. When ``train.max_time_s`` stopped the run
    early, ``complete`` is False and no test metrics are computed (resume to finish). A folder holding an
    earlier run is refused unless ``resume`` or ``overwrite`` (:func:`graphscale.train.runtime.output_folder`).
    """
    if cfg.model.name == "rgcn":
        check_rgcn_config(cfg)  # before anything is written
    torch.set_num_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    rank, world = _join_group(cfg)
    resume = resume or (world > 1 and restarted())
    began = time.perf_counter()
    data = data if data is not None else load_kg(cfg.data.dataset, cfg.data.root, cfg.data.unseen)
    load_s = time.perf_counter() - began
    name = f"kg-{dataset_label(cfg.data.dataset)}-{normalize_key(cfg.model.name)}"
    out = same_on_every_rank(run_folder(cfg.output.dir, name, ARTIFACTS, resume) if rank == 0 else None)
    if resume:
        check_resume_config(cfg, out)
    if cfg.output.tensorboard:
        require_tensorboard()
    return group_run(rank, world, out, ARTIFACTS, resume=resume, overwrite=overwrite,
                     prepare=lambda: write_text_atomic(dump(cfg), out / "config.yaml"),
                     body=lambda writer: _train_and_evaluate(cfg, data, out, device, resume, progress and writer,
                                                             on_epoch if writer else None, load_s, writer=writer))


def _join_group(cfg: KGConfig) -> tuple[int, int]:
    """Under torchrun (``WORLD_SIZE`` > 1): join the group; ``(rank, world size)``, else ``(0, 1)``.

    Raises:
        ConfigError: Fewer than two entity partitions per rank.
    """
    rank, world = join_group()
    if world > 1 and cfg.model.name == "rgcn":
        raise ConfigError(f"model.name: expected an embedding model under torchrun ({world} ranks), got 'rgcn'. "
                          "Train R-GCN in one process.")
    if world > 1 and cfg.train.partitions < 2 * world:
        raise ConfigError(f"train.partitions: expected at least {2 * world} entity partitions for {world} ranks "
                          f"(two per rank, so that every rank trains a bucket in most rounds), got "
                          f"{cfg.train.partitions}. Pass --entity-partitions {2 * world}.")
    return rank, world


def _train_and_evaluate(cfg: KGConfig, data: KGDataset, out: Path, device: torch.device, resume: bool,
                        progress: bool, on_epoch: Any, load_s: float, writer: bool = True) -> dict[str, Any]:
    index = FilterIndex.build([data.train, data.valid, data.test], data.num_relations)
    valid_subset = data.valid
    if cfg.train.eval_valid_size and cfg.train.eval_valid_size < data.valid.shape[0]:
        pick = torch.randperm(data.valid.shape[0], generator=torch.Generator().manual_seed(1))
        valid_subset = data.valid[pick[:cfg.train.eval_valid_size]]

    def validate(current: KGEModel) -> dict[str, float]:
        metrics = run_eval(current, valid_subset, index, cfg, device, desc="valid")
        return {k: metrics[k] for k in METRIC_KEYS}

    with with_tensorboard(cfg.output.tensorboard and writer, out, on_epoch) as hook:
        if cfg.model.name == "rgcn":  # R-GCN encoder + DistMult decoder; scored as a DistMult KGEModel
            encoder = build_rgcn(cfg, data.num_entities, data.num_relations)
            result, model = train_rgcn(encoder, data.train, cfg, device=device, out_dir=out, resume=resume,
                                       progress=progress, on_epoch=hook,
                                       validate=validate if data.valid.shape[0] else None)
        else:
            model = model_for(cfg, data)
            result = train(model, data.train, cfg, device=device, out_dir=out, resume=resume, progress=progress,
                           on_epoch=hook, validate=validate if data.valid.shape[0] else None, log=writer)
    summary: dict[str, Any] = {
        "dataset": dataset_label(data.name), "model": cfg.model.name, "dim": cfg.model.dim,
        "negatives": cfg.train.negatives, "negative_mode": cfg.train.negative_mode, "epochs": cfg.train.epochs,
        "epochs_done": result["epochs_done"], "complete": result["complete"], "steps": result["steps"],
        "partitions": result["num_partitions"], "device": str(device), "threads": cfg.train.threads,
        "num_entities": data.num_entities, "num_relations": data.num_relations,
        "num_train": int(data.train.shape[0]), "load_time_s": load_s, "output_dir": str(out),
        "num_valid": int(data.valid.shape[0]), "num_test": int(data.test.shape[0]),
        "skipped_valid": data.skipped["valid"], "skipped_test": data.skipped["test"],
        "unseen_kept_valid": data.unseen_kept["valid"], "unseen_kept_test": data.unseen_kept["test"],
    }
    if cfg.model.name == "rgcn":
        summary.update({f"rgcn_{k}": v for k, v in to_dict(cfg)["rgcn"].items()})
    if result["complete"]:
        eval_began = time.perf_counter()
        if cfg.evaluate.valid and data.valid.shape[0]:
            valid = run_eval(model, data.valid, index, cfg, device, progress, "valid")
            summary.update({f"valid_{k}": valid[k] for k in METRIC_KEYS})
        test = run_eval(model, data.test, index, cfg, device, progress, "test") if cfg.evaluate.test else None
        summary["eval_time_s"] = time.perf_counter() - eval_began
        if cfg.output.export and writer:
            model.export(out / "embeddings", data.entity_names, data.relation_names)
        if test is not None:
            summary.update({f"test_{side}_{k}": test[f"{side}_{k}"] for side in ("head", "tail")
                            for k in METRIC_KEYS})
            for key, target in (("mrr", cfg.expected.target_mrr), ("hits_at_10", cfg.expected.target_hits_at_10)):
                if target is not None:
                    summary[f"target_{key}"] = target
                    summary[f"reached_target_{key}"] = bool(test[key] >= target)
            summary.update({k: test[k] for k in METRIC_KEYS})
    else:
        summary["note"] = (f"stopped after {result['epochs_done']} of {cfg.train.epochs} epochs (train.max_time_s); "
                           "run the same command with --resume to continue.")
    summary["peak_memory_mb"] = peak_memory_mb(device)
    summary["train_time_s"] = result["train_time_s"]
    summary["triples_per_s"] = result["triples_per_s"]
    summary["peak_rss_mb"] = peak_rss_mb()
    if "world_size" in result:
        summary.update({k: result[k] for k in ("world_size", "bytes_sent_per_epoch")})
    if writer:
        if cfg.output.plot:
            plot_kg_curves(result["history"], out / "training_curve.png",
                           f"{summary['dataset']} / {cfg.model.name}" + (f": test MRR {summary['mrr']:.4f}"
                                                                         if "mrr" in summary else ""))
        write_text_atomic(json.dumps(clean_json({**summary, "history": result["history"]}), indent=2, default=str,
                                     allow_nan=False), out / "metrics.json")
    return summary
