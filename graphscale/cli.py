"""Command line: ``graphscale train`` and ``graphscale datasets`` (also ``python -m graphscale``).

``graphscale train`` resolves one config in this order, later steps winning:

1. ``--config FILE``; else, when ``--dataset`` / ``--model`` / ``--sampler`` are given, the shipped
   ``<task>-<model>-<sampler>-<dataset>.yaml`` (with a sampler) or ``<task>-<model>-<dataset>.yaml`` if there
   is one (so ``graphscale train --dataset cora --model gcn`` reproduces the published number); else the task
   defaults (GCN on the embedded ``synthetic`` graph).
2. The flags ``--dataset --model --sampler --fanouts --batch-size ... --memory-budget --epochs --seeds --out
   --device``.
3. ``key=value`` overrides (``train.lr=0.005 model.hidden_dim=64 sampler.walk_length=3``).

Any graphscale error ends the command with one line ``graphscale: error: ...`` on stderr and exit
code 2. With ``--json`` the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .commands import add_run_options
from .errors import GraphscaleError, GraphscaleWarning

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def json_line(data: Any) -> str:
    """``data`` as one line of strict JSON: NaN and infinities become null (never the invalid ``NaN``)."""
    from .train.plot import clean_json

    return json.dumps(clean_json(data), default=str, allow_nan=False)


def os_error_line(err: OSError) -> str:
    """One line for an OSError that escaped a command: the path, the reason, what to do."""
    where = f"'{err.filename}'" if err.filename is not None else "a file"
    reason = err.strerror or _one_line(err)
    hint = {errno.ENOSPC: "Free some disk space or pick another --out, then run again with --resume.",
            errno.EDQUOT: "Free some disk space or pick another --out, then run again with --resume.",
            errno.EACCES: "Check the permissions or pick another path.",
            errno.EPERM: "Check the permissions or pick another path.",
            errno.EROFS: "Pick a path on a writable file system.",
            errno.ENOENT: "Check the path."}.get(err.errno or 0, "Check the path and run again.")
    return f"{where}: expected to read or write it, got {reason}. {hint}"


def _guess_task(dataset: str) -> str:
    """``graph`` for registered graph-classification datasets, else ``node`` (custom folders are node data)."""
    from . import datasets
    from .config import normalize_key

    key = normalize_key(dataset)
    for entry in datasets.available():
        if normalize_key(str(entry.get("name", ""))) == key:
            return "graph" if str(entry.get("task", "")).lower().startswith("graph") else "node"
    return "node"


def resolve_train_config(args: argparse.Namespace) -> Any:
    """The RunConfig of ``graphscale train`` from its parsed arguments (see module docstring)."""
    from .config import find_shipped, from_command, read_yaml, task_defaults
    from .train.run import dataset_label

    path: Path | None = Path(args.config) if args.config else None
    dataset = args.dataset
    if path is not None and dataset is None:
        data, _ = read_yaml(path)
        section = data.get("data")
        dataset = section.get("dataset") if isinstance(section, dict) else None
    task = _guess_task(str(dataset)) if dataset else "node"
    if path is None and (args.dataset or args.model or args.sampler):
        model = args.model or task_defaults(task).model.name
        label = dataset_label(args.dataset or "synthetic")
        path = find_shipped(task, model, label, args.sampler) or find_shipped(task, model, label)
    batch_key = "train.batch_size" if task == "graph" else "sampler.batch_size"
    flags = (("--dataset", "data.dataset", args.dataset), ("--model", "model.name", args.model),
             ("--sampler", "sampler.name", args.sampler), ("--fanouts", "sampler.fanouts", args.fanouts),
             ("--batch-size", batch_key, args.batch_size), ("--num-parts", "sampler.num_parts", args.num_parts),
             ("--clusters-per-batch", "sampler.clusters_per_batch", args.clusters_per_batch),
             ("--walk-length", "sampler.walk_length", args.walk_length),
             ("--num-roots", "sampler.num_roots", args.num_roots),
             ("--num-workers", "sampler.num_workers", args.num_workers),
             ("--memory-budget", "train.memory_budget", args.memory_budget),
             ("--partitions", "data.partitions", args.partitions),
             ("--epochs", "train.epochs", args.epochs), ("--seeds", "train.seeds", args.seeds),
             ("--out", "output.dir", args.out), ("--device", "train.device", args.device),
             ("--tensorboard", "output.tensorboard", args.tensorboard),
             ("--quant", "train.quant", args.quant))
    return from_command(task_defaults(task), path, flags, args.overrides)


def _print_summary(summary: dict[str, Any], cfg: Any) -> None:
    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    unit = "folds" if summary["task"] == "graph" else "seeds"
    count = summary.get("num_folds", cfg.train.folds) * cfg.train.seeds if unit == "folds" else cfg.train.seeds
    sampler = summary.get("sampler", "none")
    batches = "" if sampler == "none" else f"{sampler}, "
    print(f"{summary['dataset']} / {summary['model']} ({summary['task']}, {batches}{count} {unit}, "
          f"{summary['epochs']} epochs, {summary['device']})")
    print(f"  test accuracy   {pct(summary['test_acc'])} ± {pct(summary['test_acc_std'])}")
    if summary["task"] == "graph":
        print(f"  (GIN protocol: best epoch {summary['best_epoch']} of the fold-averaged curve; last epoch "
              f"{pct(summary['last_epoch_test_acc'])} ± {pct(summary['last_epoch_test_acc_std'])})")
    else:
        print(f"  val accuracy    {pct(summary['val_acc'])} ± {pct(summary['val_acc_std'])}")
    if summary.get("expected_test_acc") is not None:
        print(f"  published       {pct(summary['expected_test_acc'])} ({summary.get('expected_source', '')})")
    epoch_ms = "n/a" if summary["epoch_time_s"] is None else f"{1000 * summary['epoch_time_s']:.1f} ms"
    print(f"  epoch time      {epoch_ms}   total {summary['train_time_s']:.1f} s   "
          f"peak RSS {summary['peak_rss_mb']:.0f} MB")
    print(f"  output          {summary['output_dir']}/ (metrics.json, config.yaml, training_curve.png)")


def cmd_train(args: argparse.Namespace) -> int:
    from .config import dump
    from .train.run import compact, run

    cfg = resolve_train_config(args)
    if args.print_config:
        print(dump(cfg, comments=True), end="")
        return 0
    if cfg.data.partitions is not None:  # under torchrun: every rank trains its part, rank 0 reports
        from .train.distributed import run_partitioned

        summary = run_partitioned(cfg, progress=not args.no_progress, overwrite=args.overwrite, resume=args.resume)
        if summary is not None:
            print(json_line(compact(summary)) if args.json else
                  f"{summary['dataset']} / {summary['model']} on {summary['world_size']} ranks: test accuracy "
                  f"{100 * summary['test_acc']:.2f}% ± {100 * summary['test_acc_std']:.2f}%, "
                  f"{summary['bytes_sent_per_epoch'] / 2**20:.2f} MiB sent per epoch, output {summary['output_dir']}/")
        return 0
    summary = run(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if args.json:
        print(json_line(compact(summary)))
    else:
        _print_summary(summary, cfg)
    return 0


USED_BY = {"node-classification": "train, embed, partition", "graph-classification": "train",
           "heterogeneous-node-classification": "train", "knowledge-graph": "kg"}


def cmd_datasets(args: argparse.Namespace) -> int:
    from . import datasets
    from .kge.triples import available as kg_available

    entries = [dict(entry) for entry in datasets.available(args.root)] + kg_available(args.root)
    for entry in entries:
        entry["commands"] = USED_BY.get(str(entry.get("task")), "")
    if args.json:
        print(json.dumps(entries, default=str))
        return 0
    rows = [("name", "task", "commands", "found", "path")]
    for entry in entries:
        where = entry.get("path") if entry.get("found") else f"missing, get {entry.get('url') or '-'}"
        if not entry.get("found") and not entry.get("url"):
            where = f"missing {', '.join(entry.get('missing', []))} in {entry.get('path')}"
        rows.append((str(entry.get("name", "")), str(entry.get("task", "")), entry["commands"],
                     "yes" if entry.get("found") else "no", str(where)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    found = sum(1 for entry in entries if entry.get("found"))
    print(f"{found} of {len(entries)} datasets found under {datasets.data_root(args.root)} "
          "(--root, else $GRAPHSCALE_DATA, else ~/.cache/graphscale). A folder path works too: edges.csv "
          "[+ nodes.csv] for train / embed / partition, nodes/ + edges/ (heterogeneous) for train, train/valid/test "
          "triples for kg.")
    return 0


COMMAND_MODULES = ("embed", "visualize", "kg", "partition",
                   "distill", "link")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .config import shipped_configs

    parser = argparse.ArgumentParser(prog="graphscale", description="Graph learning at scale on PyTorch.")
    parser.add_argument("--version", action="version", version=f"graphscale {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>")

    train = commands.add_parser(
        "train", help="train a node- or graph-classification model",
        description="Train and evaluate a GNN. Shipped configs: " + ", ".join(shipped_configs()) + ".",
        epilog="Examples: graphscale train | graphscale train --dataset cora --model gat | "
               "graphscale train --dataset citeseer --model sage --sampler neighbor --fanouts 15,10 --batch-size 1024 | "
               "graphscale train --dataset github --model sign | "
               "graphscale train --config my.yaml train.lr=0.005 model.hidden_dim=64")
    train.add_argument("--dataset", help="dataset name (graphscale datasets) or a folder with edges.csv "
                                         "(src,dst[,weight]; weights are used by gcn, sage (mean), appnp, sgc, sign "
                                         "in full-batch training) and nodes.csv")
    train.add_argument("--model", help="model name (gcn, gat, appnp, sgc, sage, gin ...; sgc and sign train on "
                                       "precomputed propagated features)")
    train.add_argument("--sampler", help="mini-batch sampler (sampler.name): none (full batch), neighbor, cluster, "
                                         "saint-node, saint-edge, saint-rw, gas, shadow")
    train.add_argument("--fanouts", help="neighbor: neighbours per hop, e.g. 15,10 (-1 = all; sampler.fanouts)")
    train.add_argument("--batch-size", type=int, help="neighbor: seed nodes per batch (sampler.batch_size); graph "
                                                      "tasks: graphs per batch (train.batch_size)")
    train.add_argument("--num-parts", type=int, help="cluster, gas: METIS clusters (sampler.num_parts)")
    train.add_argument("--clusters-per-batch", type=int, help="cluster, gas: clusters per batch "
                                                              "(sampler.clusters_per_batch)")
    train.add_argument("--walk-length", type=int, help="saint-rw: steps per walk (sampler.walk_length)")
    train.add_argument("--num-roots", type=int, help="saint-rw: walks per subgraph (sampler.num_roots)")
    train.add_argument("--num-workers", type=int, help="background sampling threads (sampler.num_workers)")
    train.add_argument("--memory-budget", metavar="SIZE", help="full batch: stream the adjacency to stay under SIZE, "
                                                               "e.g. 6GB, 512MB, 1.5G (train.memory_budget)")
    train.add_argument("--partitions", metavar="DIR", help="distributed training under torchrun (full batch or "
                                                           "--sampler neighbor): a graphscale partition folder, one "
                                                           "part per rank (data.partitions)")
    train.add_argument("--epochs", type=int, help="training epochs (train.epochs)")
    train.add_argument("--seeds", type=int, help="number of seeds / CV repetitions (train.seeds)")
    train.add_argument("--quant", metavar="BITS", help="Degree-Quant quantization-aware training of gcn, gin, gat: "
                                                       "int8 or int4 (train.quant)")
    add_run_options(train, "runs/<dataset>-<model>", "device (train.device)", "train.epochs=50",
                    device_choices=("cpu", "cuda", "auto"))
    train.set_defaults(handler=cmd_train)

    data = commands.add_parser("datasets", help="list the datasets graphscale knows and where they were found")
    data.add_argument("--json", action="store_true", help="print the list as one JSON line")
    data.add_argument("--root", help="data root to look in (default $GRAPHSCALE_DATA)")
    data.set_defaults(handler=cmd_datasets)

    # Further commands live in graphscale/commands/<name>.py, each with ``register(subparsers)`` that adds its
    # parser and sets ``handler`` (a function of the parsed args returning the exit code).
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as err:
            if err.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.register(commands)
    return parser


def _show_warnings_as_lines() -> None:
    """Print graphscale's own warnings as one ``graphscale: warning: ...`` line (no source path and code line);
    other warnings keep Python's format."""
    plain = warnings.showwarning
    if getattr(plain, "graphscale_lines", False):
        return

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, GraphscaleWarning):
            print(f"graphscale: warning: {_one_line(message)}", file=file or sys.stderr)
        else:
            plain(message, category, filename, lineno, file, line)

    show.graphscale_lines = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``graphscale`` console script; returns the exit code."""
    _show_warnings_as_lines()
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else list(argv)):  # `graphscale` alone: what it can do
        parser.print_help()
        return 0
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "handler", None) is None:
        parser.error("expected a command (train, embed, kg, datasets ...); graphscale --help lists them.")
    # key=value overrides may also follow options (``--out DIR train.lr=0.01``), which a positional
    # nargs="*" alone does not accept once an option came after the first overrides
    if extra:
        if not hasattr(args, "overrides") or any("=" not in item or item.startswith("-") for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        return int(args.handler(args))
    except GraphscaleError as err:
        print(f"graphscale: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:  # disk full, permissions, a file vanishing: one line, no traceback
        print(f"graphscale: error: {os_error_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("graphscale: interrupted; continue with the same command plus --resume.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
