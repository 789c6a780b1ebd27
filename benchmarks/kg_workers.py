"""Workers of benchmarks/kg.py: one measurement per process, one JSON object as the last stdout line.

``python kg_workers.py {train,eval} --impl {graphscale,pykeen} --data DIR --options JSON``

The data folder holds ``train.npy``, ``valid.npy``, ``test.npy`` (``[M, 3]`` int64 ids) and ``meta.json``
(``num_entities``, ``num_relations``), written once by the orchestrator, so both libraries train and
evaluate on identical id triples. The PyKEEN worker runs in PyKEEN's own virtualenv and never imports
graphscale; the graphscale worker never imports PyKEEN.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from record_fields import loaded_versions


def load(folder: Path):
    import numpy as np
    import torch

    meta = json.loads((folder / "meta.json").read_text())
    splits = {s: torch.from_numpy(np.load(folder / f"{s}.npy")) for s in ("train", "valid", "test")}
    return meta, splits


# -- graphscale ----------------------------------------------------------------------------------------------
def graphscale_train(meta, splits, opt):
    import torch

    import graphscale  # noqa: F401  (sets OMP_WAIT_POLICY before torch starts its pool)
    from graphscale.config import load
    from graphscale.kge.config import KGConfig
    from graphscale.kge.model import build_kg_model
    from graphscale.kge.train import train

    torch.set_num_threads(opt["threads"])
    loss = "margin" if opt["model"] == "transe" else "nssa"
    cfg = load(None, [f"model.name={opt['model']}", f"model.dim={opt['dim']}", "train.epochs=1",
                                f"train.batch_size={opt['batch_size']}", f"train.negatives={opt['negatives']}",
                                f"train.negative_mode={opt['mode']}", f"train.loss={loss}", "train.lr=0.001",
                                f"train.threads={opt['threads']}", "model.gamma=9.0"], cls=KGConfig)
    model = build_kg_model(opt["model"], meta["num_entities"], meta["num_relations"], opt["dim"], gamma=9.0)
    train_triples = splits["train"]
    began = time.perf_counter()
    train(model, train_triples[:4 * opt["batch_size"]], cfg, device=torch.device("cpu"), progress=False)
    warmup = time.perf_counter() - began
    subset = train_triples[torch.randperm(train_triples.shape[0], generator=torch.Generator().manual_seed(0))
                           [:opt["num_triples"]]]
    walls, cpus = common.time_epochs(lambda: train(model, subset, cfg, device=torch.device("cpu"), progress=False),
                                     opt["repeats"])
    best = min(walls)
    return {"triples_per_s": subset.shape[0] / best, "time_s": best, "cpu_s": min(cpus), "warmup_s": warmup,
            "num_triples": int(subset.shape[0])}


def graphscale_eval(meta, splits, opt):
    import torch

    import graphscale  # noqa: F401
    from graphscale.kge.evaluate import evaluate
    from graphscale.kge.model import build_kg_model
    from graphscale.kge.triples import FilterIndex

    torch.set_num_threads(opt["threads"])
    model = build_kg_model(opt["model"], meta["num_entities"], meta["num_relations"], opt["dim"], gamma=9.0)
    warm = FilterIndex.build([splits["test"][:64]], meta["num_relations"])
    evaluate(model.score_all, splits["test"][:64], warm, batch_size=64)  # numba cache load
    # timed like PyKEEN's evaluate(), which builds its filter from the additional triples inside the call:
    # the filter index of train + valid + test is part of the evaluation time
    began = time.perf_counter()
    cpu = time.process_time()
    index = FilterIndex.build([splits["train"], splits["valid"], splits["test"]], meta["num_relations"])
    index_s = time.perf_counter() - began
    out = evaluate(model.score_all, splits["test"], index, batch_size=opt["eval_batch_size"])
    return {"eval_time_s": time.perf_counter() - began, "filter_index_s": round(index_s, 4),
            "cpu_s": time.process_time() - cpu, "mrr": out["mrr"], "num_ranks": out["num_ranks"]}


# -- PyKEEN --------------------------------------------------------------------------------------------------
def pykeen_model(meta, splits, opt):
    import torch
    from pykeen.models import RotatE, TransE
    from pykeen.triples import CoreTriplesFactory

    torch.set_num_threads(opt["threads"])
    factory = CoreTriplesFactory.create(splits["train"], num_entities=meta["num_entities"],
                                        num_relations=meta["num_relations"])
    if opt["model"] == "transe":
        model = TransE(triples_factory=factory, embedding_dim=opt["dim"], scoring_fct_norm=1, random_seed=0)
    else:
        model = RotatE(triples_factory=factory, embedding_dim=opt["dim"], loss="nssa", random_seed=0)
    return model


def pykeen_train(meta, splits, opt):
    import torch
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import CoreTriplesFactory

    model = pykeen_model(meta, splits, opt)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loop = SLCWATrainingLoop(model=model, triples_factory=model_factory(meta, splits["train"]), optimizer=optimizer,
                             negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": opt["negatives"]})

    trained = []

    def fit(triples):
        factory = CoreTriplesFactory.create(triples, num_entities=meta["num_entities"],
                                            num_relations=meta["num_relations"])
        # num_epochs counts from the start of training: one more epoch on this factory
        loop.train(triples_factory=factory, num_epochs=len(trained) + 1, batch_size=opt["batch_size"],
                   use_tqdm=False, use_tqdm_batch=False, continue_training=bool(trained))
        trained.append(True)

    began = time.perf_counter()
    fit(splits["train"][:4 * opt["batch_size"]])
    warmup = time.perf_counter() - began
    perm = torch.randperm(splits["train"].shape[0], generator=torch.Generator().manual_seed(0))
    subset = splits["train"][perm[:opt["num_triples"]]]
    walls, cpus = common.time_epochs(lambda: fit(subset), opt["repeats"])
    best = min(walls)
    return {"triples_per_s": subset.shape[0] / best, "time_s": best, "cpu_s": min(cpus), "warmup_s": warmup,
            "num_triples": int(subset.shape[0])}


def model_factory(meta, triples):
    from pykeen.triples import CoreTriplesFactory

    return CoreTriplesFactory.create(triples, num_entities=meta["num_entities"], num_relations=meta["num_relations"])


def pykeen_eval(meta, splits, opt):
    from pykeen.evaluation import RankBasedEvaluator

    model = pykeen_model(meta, splits, opt)
    evaluator = RankBasedEvaluator(filtered=True)
    evaluator.evaluate(model, splits["test"][:64], batch_size=64, use_tqdm=False,
                       additional_filter_triples=[splits["train"], splits["valid"]])
    began = time.perf_counter()
    cpu = time.process_time()
    result = evaluator.evaluate(model, splits["test"], batch_size=opt["eval_batch_size"], use_tqdm=False,
                                additional_filter_triples=[splits["train"], splits["valid"]])
    return {"eval_time_s": time.perf_counter() - began, "cpu_s": time.process_time() - cpu,
            "mrr": float(result.get_metric("both.realistic.inverse_harmonic_mean_rank")),
            "num_ranks": 2 * int(splits["test"].shape[0])}


WORKERS = {("train", "graphscale"): graphscale_train, ("eval", "graphscale"): graphscale_eval,
           ("train", "pykeen"): pykeen_train, ("eval", "pykeen"): pykeen_eval}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("train", "eval"))
    parser.add_argument("--impl", choices=("graphscale", "pykeen"), required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--options", required=True)
    parser.add_argument("--memory-limit-gb", type=float, default=8.0)
    args = parser.parse_args()
    common.limit_address_space(args.memory_limit_gb)
    opt = json.loads(args.options)
    try:
        meta, splits = load(Path(args.data))
        record = {"status": "ok", **WORKERS[(args.kind, args.impl)](meta, splits, opt)}
    except Exception as err:  # noqa: BLE001 - reported as a status line, never a crash of the benchmark
        record = {"status": common.failure_status(err)}
    record.update(loaded_versions())  # the library measured (pykeen or graphscale) and its torch
    record["peak_rss_mb"] = round(common.peak_rss_mb(), 1)
    common.emit(record)


if __name__ == "__main__":
    main()
