"""Regenerate benchmarks/RESULTS.md from the committed records under ``benchmarks/records/<benchmark>/``.

    python benchmarks/report.py              # rewrite benchmarks/RESULTS.md
    python benchmarks/report.py --check      # exit 1 when RESULTS.md is not what the records give
    python benchmarks/report.py --records DIR --out FILE

One section per benchmark: the command that produces its records, the machine the records name (cores, load,
commit), tables built from the record lines, the ratio lines the script printed, and a line on what limits
graphscale there (prose kept in ``SECTIONS`` below, without figures). A table row is the latest line of one
(implementation, setting): the last one in file order, files read by name. Every figure is a field of a record
line, or a ratio or mean of such fields computed here, and its row (or its table) names the commit and the load.
A benchmark without records says so and gives the command that makes them; a missing folder or file is no error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
RECORDS_DIR = BENCH_DIR / "records"
RESULTS = BENCH_DIR / "RESULTS.md"
# library versions shown per row: the peer's own package first, then the torch it ran on
VERSION_KEYS = ("torch_geometric", "torch_sparse", "dgl", "pykeen", "gensim", "pecanpy", "sklearn", "torch")
# fields that say where and on what a line was measured, not what was measured
PROVENANCE_KEYS = {"cpus", "load_1m", "git_commit", "git_dirty", "run", "time", "bench", "record"}

Line = dict[str, Any]


# -- reading records --------------------------------------------------------------------------------------------
def is_setup(line: Line) -> bool:
    return line.get("record") == "setup" or line.get("bench") == "setup"


def is_ratio(line: Line) -> bool:
    return (line.get("record") == "ratio" or str(line.get("bench", "")).endswith("-ratio")
            or line.get("impl") == "ratio")


@dataclass
class Records:
    """The record lines of one benchmark folder, each annotated with ``_file``, ``_line``, ``_run`` (the
    invocation: its ``run`` field, else the file and the setup line it follows) and ``_setup`` (that line)."""

    bench: str
    lines: list[Line] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    unreadable: int = 0


def parse_lines(text: str) -> tuple[list[Line], int]:
    """JSON objects of a JSON-lines text (or of one JSON document), and how many lines were not objects."""
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" not in stripped:  # one object, possibly pretty-printed
        try:
            value = json.loads(stripped)
            return ([value], 0) if isinstance(value, dict) else ([], 1)
        except json.JSONDecodeError:
            pass
    lines, bad = [], 0
    for text_line in stripped.splitlines():
        if not text_line.strip():
            continue
        try:
            value = json.loads(text_line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(value, dict):
            lines.append(value)
        else:
            bad += 1
    return lines, bad


def load(records: Path, bench: str, suffixes: tuple[str, ...] = (".jsonl",)) -> Records:
    """Every record line under ``records/bench`` (progress files left out); none when the folder is missing."""
    out = Records(bench)
    folder = records / bench
    paths = sorted(p for p in folder.iterdir() if p.name.endswith(suffixes)
                   and not p.name.endswith(".progress.jsonl")) if folder.is_dir() else []
    for path in paths:
        try:
            lines, bad = parse_lines(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        out.unreadable += bad
        out.files.append(path.name)
        setup: Line = {}
        setups = 0
        for number, line in enumerate(lines, 1):
            if is_setup(line):
                setup, setups = line, setups + 1
            line.update(_file=f"{bench}/{path.name}", _line=number, _setup=setup,
                        _run=line.get("run") or f"{path.name}#{setups}")
            out.lines.append(line)
    return out


def get(line: Line, key: str) -> Any:
    """``line[key]``; ``setup.<key>`` reads the setup line of the line's run."""
    if key.startswith("setup."):
        return line.get("_setup", {}).get(key[6:])
    return line.get(key)


# -- formatting -------------------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    """A table cell: numbers to 4 significant digits (thousands with separators), text with ``|`` escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, separators=(", ", ": "))
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= 160 else text[:157] + "..."


def commit_of(line: Line) -> str:
    """The measured commit (from the line, else its setup line); ``+`` marks uncommitted graphscale changes."""
    setup = line.get("_setup", {})
    commit = line.get("git_commit") or setup.get("git_commit")
    dirty = line.get("git_dirty") if "git_dirty" in line else setup.get("git_dirty")
    return f"{commit}{'+' if dirty else ''}" if commit else "-"


def cores_of(line: Line) -> Any:
    setup = line.get("_setup", {})
    return line.get("cpus") or setup.get("cpus") or (setup.get("machine") or {}).get("cpus")


def load_of(line: Line) -> str:
    """``load / cores``: the 1-minute load average when the line was written, and the machine's cores."""
    load = line.get("load_1m", line.get("_setup", {}).get("load_1m"))
    cores = cores_of(line)
    if load is None and cores is None:
        return "-"
    return f"{fmt(load)} / {fmt(cores)}"


def versions_of(line: Line) -> str:
    return ", ".join(f"{key} {line[key]}" for key in VERSION_KEYS if line.get(key)) or "-"


def markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def machine_line(lines: list[Line]) -> str:
    """Cores, memory and Python of the setup lines, the load range and the commits of ``lines``."""
    if not lines:
        return ""
    if not any(cores_of(line) or line.get("load_1m") is not None or commit_of(line) != "-" for line in lines):
        return ("**Machine**: not recorded in these lines (written before the records carried cores, load and "
                "commit; `git log` of the record files dates them).")
    setups = [line.get("_setup") or {} for line in lines]
    machines = [s.get("machine") or s for s in setups]
    cores = sorted({c for c in (cores_of(line) for line in lines) if c})
    memory = sorted({m["mem_total_gb"] for m in machines if m.get("mem_total_gb")})
    python = sorted({m["python"] for m in machines if m.get("python")})
    loads = [line["load_1m"] for line in lines if isinstance(line.get("load_1m"), (int, float))]
    commits = sorted({c for c in map(commit_of, lines) if c != "-"})
    parts = []
    if cores:
        parts.append(f"{', '.join(map(str, cores))} cores")
    if memory:
        parts.append(f"{', '.join(map(fmt, memory))} GiB RAM")
    if python:
        parts.append(f"Python {', '.join(python)}")
    parts.append(f"1-minute load when the lines were written {fmt(min(loads))}-{fmt(max(loads))}" if loads
                 else "load not recorded")
    parts.append(f"commits {', '.join(commits)}" if commits else "commit not recorded")
    missing = sum(1 for line in lines if commit_of(line) == "-")
    note = (f" ({missing} of these {len(lines)} lines predate records that carry commit and load: their history "
            "is `git log` of the record files)") if missing else ""
    return f"**Machine** (from the records): {'; '.join(parts)}.{note}"


# -- generic tables ---------------------------------------------------------------------------------------------
def graphscale_impl(impl: str) -> bool:
    return str(impl).startswith("graphscale")


@dataclass
class Table:
    """One markdown table of a benchmark's measurement lines.

    ``setting``: fields that, with ``impl``, make one row (the latest line wins; ``_file``: the record file,
    named after the graph or dataset, ``setup.<key>``: a field of the run's setup line). ``columns``: (header, field)
    shown after impl and status, dropped when no row has the field. ``speed``: (field, "lower" | "higher") for the
    ratio against the best peer of the same run with the same ``compare_on`` fields; ``memory``: a field whose
    ratio (ours / that peer's) is shown beside it.
    """

    title: str
    select: Callable[[Line], bool]
    setting: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    speed: tuple[str, str] | None = None
    memory: str | None = "peak_rss_mb"
    compare_on: tuple[str, ...] = ()
    ours: Callable[[str], bool] = graphscale_impl
    note: str = ""

    def rows(self, lines: list[Line]) -> list[Line]:
        latest: dict[tuple, Line] = {}
        for line in lines:
            if self.select(line):
                latest[(line.get("impl"), *(fmt(get(line, key)) for key in self.setting))] = line
        return list(latest.values())

    def ratio(self, row: Line, lines: list[Line]) -> tuple[str, str]:
        """``(speed-up cell, memory-ratio cell)`` of ``row`` against the best peer of its run."""
        if self.speed is None or not self.ours(row.get("impl", "")):
            return "-", "-"
        metric, better = self.speed
        if row.get("status") != "ok" or not isinstance(row.get(metric), (int, float)) or not row[metric]:
            return "-", "-"
        peers = [line for line in lines if self.select(line) and line["_run"] == row["_run"]
                 and not self.ours(line.get("impl", "")) and all(get(line, k) == get(row, k) for k in self.compare_on)]
        done = [p for p in peers if p.get("status") == "ok" and isinstance(p.get(metric), (int, float)) and p[metric]]
        if not done:
            return ("no peer finished in this run" if peers else "no peer in this run"), "-"
        pick = min if better == "lower" else max
        best = pick(done, key=lambda p: p[metric])
        value = best[metric] / row[metric] if better == "lower" else row[metric] / best[metric]
        memory = "-"
        if self.memory and isinstance(row.get(self.memory), (int, float)) and best.get(self.memory):
            memory = f"{row[self.memory] / best[self.memory]:.2f}"
        return f"{value:.2f}x vs {best.get('impl')}", memory

    def render(self, lines: list[Line]) -> tuple[list[str], list[Line]]:
        rows = self.rows(lines)
        if not rows:
            return [], []
        columns = [(h, k) for h, k in self.columns if any(get(r, k) is not None for r in rows)]
        header = ["impl", "status", *(h for h, _ in columns)]
        if self.speed:
            metric = self.speed[0]
            header += [f"vs best peer ({metric}, same run)"]
            if self.memory:
                header += [f"{self.memory} / that peer's"]
        header += ["versions", "commit", "load / cores", "record"]
        body = []
        for row in rows:
            cells = [fmt(row.get("impl")), fmt(row.get("status")), *(fmt(get(row, k)) for _, k in columns)]
            if self.speed:
                speed, memory = self.ratio(row, lines)
                cells += [speed] + ([memory] if self.memory else [])
            cells += [versions_of(row), commit_of(row), load_of(row), f"{row['_file'].split('/')[-1]}:{row['_line']}"]
            body.append(cells)
        out = [f"**{self.title}**", ""]
        if self.note:
            out += [self.note, ""]
        return out + markdown(header, body) + [""], rows


def ratio_lines(lines: list[Line], runs: set[str]) -> list[str]:
    """The ratio lines the scripts printed in ``runs``, field by field."""
    out = []
    for line in lines:
        if is_ratio(line) and line["_run"] in runs:
            fields = ", ".join(f"{k} {fmt(v)}" for k, v in line.items()
                               if not k.startswith("_") and k not in PROVENANCE_KEYS)
            out.append(f"* `{line['_file']}` line {line['_line']} (commit {commit_of(line)}, load / cores "
                       f"{load_of(line)}): {fields}")
    return ["Ratio lines as the script printed them:", "", *out, ""] if out else []


def render_tables(records: Records, tables: list[Table]) -> tuple[list[str], list[Line]]:
    out: list[str] = []
    shown: list[Line] = []
    for table in tables:
        lines, rows = table.render(records.lines)
        out += lines
        shown += rows
    out += ratio_lines(records.lines, {row["_run"] for row in shown})
    return out, shown


def measured(bench: str) -> Callable[[Line], bool]:
    """Measurement lines of ``bench`` (not its setup, prepare or ratio lines)."""
    return lambda line: line.get("bench") == bench and "record" not in line and not is_ratio(line)


# -- custom sections --------------------------------------------------------------------------------------------
def minibatch_tables(records: Records) -> tuple[list[str], list[Line]]:
    """The accuracy table of ``minibatch_accuracy.py --stage table`` over the datasets' records, the extra
    GraphSAINT samplers, and the reproduction table of the reproduce records."""
    import minibatch_accuracy as study  # graphscale's config code decides which variant won

    per_dataset = [d for d in study.DATASETS if f"{d}.jsonl" in records.files]
    lines = [line for line in records.lines if line["_file"].split("/")[-1] in {f"{d}.jsonl" for d in per_dataset}]
    reruns = [line for line in records.lines if line["_file"].split("/")[-1].startswith("reproduce")]
    out: list[str] = []
    if lines:
        out += ["**Test accuracy of each method's validation winner** (mean ± std over its seeds; `python "
                "benchmarks/minibatch_accuracy.py --stage table`, the code this table comes from)", "",
                study.table(lines, per_dataset, list(study.METHODS)), ""]
        extra = study.table(lines, per_dataset, list(study.EXTRA_METHODS))
        if extra.count("\n") > 1:
            out += ["**The other GraphSAINT samplers** (outside the issue's four methods)", "", extra, ""]
        out += [provenance_line(lines), ""]
    if reruns and lines:
        jobs = study.winners(lines, per_dataset, list(study.METHODS))
        seeds = sorted({r["seed"] for r in reruns if isinstance(r.get("seed"), int)})
        out += ["**Reproduced**: each winner run again for these seeds on later code (`--stage reproduce`), the "
                "recorded test accuracy against the rerun's", "", study.reproduction(lines, reruns, jobs, seeds), "",
                provenance_line(reruns), ""]
    others = sorted({line["_file"] for line in records.lines} - {line["_file"] for line in lines + reruns})
    for name in others:
        why = NOT_TABLED.get(name.split("/")[-1], "a file of no dataset the study names")
        out += [f"Not tabled: `{name}` ({why}).", ""]
    return out, lines + reruns


NOT_TABLED = {"synthetic-arxiv-v2.jsonl": "runs on the earlier v2 generator of synthetic-arxiv, which the grid's "
                                          "comments in minibatch_accuracy.py cite; the table's synthetic-arxiv is v3"}


def provenance_line(lines: list[Line]) -> str:
    """Per table: the record files, the commits and the load range of ``lines``."""
    files = sorted({line["_file"] for line in lines})
    commits = sorted({c for c in map(commit_of, lines) if c != "-"})
    loads = [line["load_1m"] for line in lines if isinstance(line.get("load_1m"), (int, float))]
    missing = sum(1 for line in lines if commit_of(line) == "-")
    text = f"From {len(lines)} lines of {', '.join(f'`{f}`' for f in files)}"
    if commits:
        text += f"; commits {', '.join(commits)}"
    if loads:
        text += f"; 1-minute load {fmt(min(loads))}-{fmt(max(loads))} on {fmt(cores_of(lines[0]))} cores"
    if missing:
        text += (f"; {missing} lines carry no commit or load (written before the records did): `git log` of the "
                 "files dates them")
    return text + "."


def file_added_in(name: str) -> str:
    """The commit that added ``benchmarks/records/<name>`` (for lines that do not name the commit they measured)."""
    try:
        out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%h", "--", f"records/{name}"],
                             cwd=BENCH_DIR, capture_output=True, text=True, timeout=20).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return "-"
    return f"- (file added in {out[-1]})" if out else "- (file not committed)"


def kg_accuracy_tables(records: Records, root: Path) -> tuple[list[str], list[Line]]:
    """Every KG accuracy run (``*.json`` metrics files and ``*.jsonl`` lines of ``graphscale kg`` summaries)."""
    runs = [line for line in records.lines if "mrr" in line]
    if not runs:
        return [], []
    header = ["run", "dataset", "model", "dim", "negatives", "epochs", "threads", "train s", "test MRR", "MR",
              "Hits@1", "Hits@3", "Hits@10", "head / tail MRR", "target MRR / Hits@10", "met", "commit",
              "load / cores", "record"]
    body, curves = [], []
    per_file: dict[str, int] = {}
    for line in runs:
        per_file[line["_file"]] = per_file.get(line["_file"], 0) + 1
    for line in runs:
        name = line["_file"].split("/")[-1].rsplit(".", 1)[0]
        # a file of several runs (a screen) names each run by its change, or by its output folder
        change = line.get("change") or (Path(str(line.get("output_dir") or "")).name if per_file[line["_file"]] > 1
                                        else None)
        label = f"{name}: {change}" if change else name
        met = "-"
        if line.get("target_mrr") is not None:
            met = ("yes" if line.get("reached_target_mrr") and line.get("reached_target_hits_at_10") else
                   "MRR only" if line.get("reached_target_mrr") else
                   "Hits@10 only" if line.get("reached_target_hits_at_10") else "no")
        commit = commit_of(line)
        if commit == "-":
            commit = file_added_in(line["_file"])
        body.append([fmt(label), fmt(line.get("dataset")), fmt(line.get("model")), fmt(line.get("dim")),
                     f"{fmt(line.get('negatives'))} {line.get('negative_mode') or ''}".strip(),
                     fmt(line.get("epochs_done", line.get("epochs"))), fmt(line.get("threads")),
                     fmt(line.get("train_time_s")), fmt(line.get("mrr")), fmt(line.get("mr")),
                     fmt(line.get("hits_at_1")), fmt(line.get("hits_at_3")), fmt(line.get("hits_at_10")),
                     f"{fmt(line.get('test_head_mrr'))} / {fmt(line.get('test_tail_mrr'))}",
                     f"{fmt(line.get('target_mrr'))} / {fmt(line.get('target_hits_at_10'))}", met, commit,
                     load_of(line), f"{line['_file'].split('/')[-1]}:{line['_line']}"])
        curve = kg_curve(line, root)
        if curve:
            step = max(1, -(-len(curve) // 8))
            points = list(curve[step - 1::step])
            if points[-1] != curve[-1]:
                points.append(curve[-1])
            curves.append([fmt(label), ", ".join(f"{e}: {fmt(s)} / {fmt(m)}" for e, s, m in points)])
    out = ["**Filtered test metrics** (realistic ranks, head and tail prediction averaged)", "",
           *markdown(header, body), ""]
    if curves:
        out += ["**Validation MRR against training seconds** (epoch: seconds / MRR on the run's periodic "
                "validation sample)", "", *markdown(["run", "curve"], curves), ""]
    recorded = {(line.get("model"), line.get("dataset")) for line in runs}
    missing = [(model, dataset) for model, dataset in shipped_kg_configs() if (model, dataset) not in recorded]
    if missing:
        out += ["No records yet for the shipped configs of " + ", ".join(f"{m} on {d}" for m, d in missing)
                + "; for each: `python benchmarks/kg_accuracy.py --name <dataset>-<model> -- --dataset <dataset> "
                "--model <model>`.", ""]
    return out, runs


def shipped_kg_configs() -> list[tuple[str, str]]:
    """``(model, dataset)`` of every shipped ``kg-<model>-<dataset>.yaml`` (the ``-paper`` variants left out)."""
    folder = BENCH_DIR.parent / "graphscale" / "configs"
    pairs = []
    for path in sorted(folder.glob("kg-*.yaml")):
        stem = path.stem[3:]
        if not stem.endswith("-paper") and "-" in stem:
            model, dataset = stem.split("-", 1)
            pairs.append((model, dataset))
    return pairs


def kg_curve(line: Line, root: Path) -> list[tuple[int, float, float]]:
    """``(epoch, training s, validation MRR)`` of a run: its ``valid_curve``, its ``history``, or the
    ``<name>.progress.jsonl`` beside its ``.json`` file."""
    if line.get("valid_curve"):
        return [tuple(point) for point in line["valid_curve"]]
    history = line.get("history")
    if history is None and line["_file"].endswith(".json"):
        progress = root / (line["_file"][:-5] + ".progress.jsonl")
        history = parse_lines(progress.read_text())[0] if progress.is_file() else []
    return [(h["epoch"], h["train_time_s"], h["valid"]["mrr"]) for h in history or []
            if isinstance(h.get("valid"), dict) and "mrr" in h["valid"]]


def embedding_quality_tables(records: Records) -> tuple[list[str], list[Line]]:
    import embedding_quality

    if not records.lines:
        return [], []
    return ["**Micro / Macro-F1 at 50 % training labels** (`embedding_quality.py --report`, the code this table "
            "comes from)", "", embedding_quality.report(records.lines), ""], records.lines


# -- the sections -----------------------------------------------------------------------------------------------
@dataclass
class Section:
    key: str  # benchmarks/records/<key>/
    title: str
    what: str
    commands: str
    limits: str  # what limits graphscale there: prose, no figures
    tables: list[Table] = field(default_factory=list)
    custom: str = ""  # name of a custom renderer
    suffixes: tuple[str, ...] = (".jsonl",)


SECTIONS = [
    Section(
        "full_batch", "Full-batch training vs PyTorch Geometric and DGL (`full_batch.py`)",
        "One full-batch training epoch (forward + backward + Adam step) of 2-layer GCN, GraphSAGE and GAT on the "
        "ogbn-arxiv-shaped `synthetic-arxiv` graph, every implementation on the same arrays in its own process: "
        "graphscale, graphscale's streamed executor in memory, PyG on `edge_index`, on a CSR adjacency and on "
        "torch-sparse's `SparseTensor` (`pyg-sparse`: torch-sparse built from source by `setup_peers.sh pyg`), and "
        "DGL 2.1 (`dgl.nn`, its fused C++ SpMM / SDDMM, on the torch 2.2.1 it was built for). Median of the "
        "timed epochs; peak RSS of the worker, `train_rss_mb` (the peak minus the RSS before the first epoch) and "
        "`rss_growth_mb` (the peak of the timed epochs minus the RSS after warm-up: DGL's torch is a CUDA build "
        "whose library pages inflate its peak RSS, the growth counts them for nobody). The goal: at least 2x the "
        "fastest peer mode's speed at no more than 0.5x its peak RSS.",
        "bash benchmarks/setup_peers.sh pyg dgl\npython benchmarks/full_batch.py --data-dir benchmarks/out/arxiv-seed0",
        "Peak RSS counts what every worker holds before training (interpreter, torch, the dataset), which both "
        "sides pay, so the in-memory mode cannot reach half of DGL's peak: any 2-layer backward keeps the "
        "full-graph hidden activation, its gradient and the relu-dropout gradient at once, and the first-layer "
        "aggregation cache. The rest of its GCN / SAGE epoch is dense matrix products, the fused relu-dropout "
        "and two SpMMs, and fresh full-graph buffers cost page faults on top. The streamed mode meets the memory "
        "half (it keeps only the aggregated tensors, the first layer's of the constant input computed once) but "
        "pays for it in speed: it recomputes the hidden rows in backward (the first layer's dense product once "
        "more, chunk by chunk) and runs the parameter pass over every chunk again; `--profile` shows the split. "
        "GAT streams block-wise (destination chunks through the layer's own forward, recomputed in backward), "
        "which costs its in-memory speed advantage. GAT's gap to PyG comes from PyG materialising per-edge "
        "messages; DGL fuses them as graphscale does.",
        [Table("Epoch time and peak RSS (latest run of each implementation and model)", measured("full_batch"),
               ("_file", "model", "setup.scale", "setup.num_nodes"),
               (("model", "model"), ("graph", "setup.graph"), ("scale", "setup.scale"),
                ("epoch_time_s (median)", "epoch_time_s"), ("epoch_cpu_s", "epoch_cpu_s"),
                ("peak_rss_mb", "peak_rss_mb"), ("train_rss_mb", "train_rss_mb"), ("epochs", "epochs")),
               speed=("epoch_time_s", "lower"), compare_on=("model",))]),
    Section(
        "products_full_batch", "Full batch beyond memory: synthetic-products (`products_full_batch.py`)",
        "A 2-layer GCN epoch (hidden 256) on the ogbn-products-shaped `synthetic-products` graph: graphscale "
        "unbudgeted, streamed under `--memory-budget`, and through `graphscale train --memory-budget`, against "
        "PyG under an address-space limit (a run out of memory reports status \"oom\").",
        "bash benchmarks/setup_peers.sh pyg\npython benchmarks/products_full_batch.py",
        "Unbudgeted, the epoch needs more memory than a small machine has; under a budget the streamed executor "
        "recomputes hidden rows in backward and spills to disk when the plan needs it, so its time depends on the "
        "budget and the disk. Attention layers stream block-wise (no disk spill).",
        [Table("Epoch time and peak RSS", measured("products_full_batch"), ("_file", "mode", "memory_budget"),
               (("mode", "mode"), ("memory_budget", "memory_budget"), ("epoch_time_s (median)", "epoch_time_s"),
                ("epoch_cpu_s", "epoch_cpu_s"), ("peak_rss_mb", "peak_rss_mb"),
                ("rss_before_train_mb", "rss_before_train_mb"), ("epochs", "epochs")),
               speed=("epoch_time_s", "lower"))]),
    Section(
        "sampling", "Neighbour-sampling throughput vs PyG and DGL (`sampling.py`)",
        "Seeds per second of 3-hop neighbour sampling (fanouts [15, 10, 5], 1,024 seeds a batch) over the "
        "training nodes of `synthetic-arxiv`: graphscale's sampler called in one thread and through its loader "
        "workers, against PyG's `NeighborLoader` and DGL's `NeighborSampler`, each in its own virtualenv.",
        "bash benchmarks/setup_peers.sh pyg dgl\npython benchmarks/sampling.py",
        "Sampling is bound by memory latency (random reads of neighbour lists), so throughput follows the cores "
        "given to the loader workers. A peer whose compiled sampler has no build for its torch reports that as "
        "its status, and then there is no ratio.",
        [Table("Sampling throughput", measured("sampling"),
               ("_file", "fanouts", "batch_size", "num_threads", "setup.scale", "setup.num_nodes"),
               (("graph", "setup.graph"), ("scale", "setup.scale"), ("seeds_per_s", "seeds_per_s"),
                ("seeds_per_cpu_s", "seeds_per_cpu_s"), ("batches_per_s", "batches_per_s"),
                ("peak_rss_mb", "peak_rss_mb"), ("rss_growth_mb", "rss_growth_mb"),
                ("worker_peak_rss_mb", "worker_peak_rss_mb"), ("workers_rss_growth_mb", "workers_rss_growth_mb"),
                ("threads / workers", "num_threads")),
               speed=("seeds_per_s", "higher"))]),
    Section(
        "kernels", "Sparse kernels vs torch.sparse (`kernels.py`)",
        "graphscale's gSpMM / gSDDMM / edge softmax, forward and backward, on a uniform random graph of "
        "ogbn-arxiv's size, against `torch.sparse.mm` on a CSR matrix where torch has the same operation; median "
        "of the timed calls after a warm-up (numba compile or cache load).",
        "python benchmarks/kernels.py --threads 2",
        "Aggregations gather a source row per edge, so they are bound by memory bandwidth; backward needs the "
        "transposed index, built once per graph; max/min aggregations keep argmax indices for backward.",
        [Table("Kernel time (median)", lambda line: measured("kernels")(line)
               and not str(line.get("op", "")).startswith("compile:"), ("op", "nodes", "edges", "threads"),
               (("op", "op"), ("task", "task"), ("time_s (median)", "time_s"), ("min_s", "min_s"),
                ("nodes", "nodes"), ("edges", "edges"), ("threads", "threads")),
               speed=("time_s", "lower"), memory=None, compare_on=("task",))]),
    Section(
        "minibatch", "Mini-batch accuracy vs full batch (`minibatch_accuracy.py`)",
        "GraphSAGE trained full batch (the reference) and with neighbour sampling, ClusterGCN, GraphSAINT-RW and "
        "GNNAutoScale, and SIGN, on CiteSeer, facebook, github and synthetic-arxiv. Each method's settings are "
        "tuned on validation accuracy (tuning seeds), then the winner runs for the final seeds; the target is a "
        "mean test accuracy within the tolerance of full batch.",
        "python benchmarks/minibatch_accuracy.py --stage tune  --datasets citeseer --methods full,neighbor\n"
        "python benchmarks/minibatch_accuracy.py --stage final --datasets citeseer --methods full,neighbor\n"
        "python benchmarks/minibatch_accuracy.py --stage table",
        "A sampled neighbourhood averages input dropout's noise away less than the full graph does, and a few "
        "large batches an epoch give noisy Adam steps: on graphs whose labels come from whole neighbourhoods "
        "(synthetic-arxiv) the mini-batch methods need less dropout, decayed learning rates and longer budgets "
        "to come within tolerance. GraphSAINT's node sampler reaches fewer of a sparse graph's edges per subgraph "
        "than the other samplers.",
        custom="minibatch"),
    Section(
        "precomputed_accuracy", "Precomputed propagation and GNNAutoScale vs full batch (`precomputed_accuracy.py`)",
        "Test accuracy of SGC and SIGN trained on precomputed propagated features, and of GNNAutoScale, against "
        "full-batch training of the same model, over several seeds (the line with seed \"mean\").",
        "python benchmarks/precomputed_accuracy.py --dataset cora --model sgc --mode precomputed --seeds 10 "
        "--config graphscale/configs/node-sgc-cora.yaml\n"
        "python benchmarks/precomputed_accuracy.py --dataset citeseer --model sage --mode gas --seeds 5",
        "Precomputed models fix the propagation before training, so their accuracy is bounded by what a fixed "
        "operator over a few hops carries; GNNAutoScale's histories are one step stale.",
        [Table("Test accuracy (mean over the seeds)", lambda line: line.get("bench") == "precomputed-accuracy"
               and line.get("seed") == "mean", ("dataset", "model", "mode", "tag", "hparams", "train", "feature_svd"),
               (("dataset", "dataset"), ("model", "model"), ("mode", "mode"), ("tag", "tag"),
                ("hparams", "hparams"), ("train", "train"), ("seeds", "seeds"), ("test_acc (mean)", "test_acc"),
                ("test_acc_std", "test_acc_std"), ("val_acc (mean)", "val_acc")))]),
    Section(
        "embedding", "Node embeddings: speed (`embedding.py`)",
        "Time to quality on BlogCatalog (walks + training until Micro-F1 reaches the target at 50 % labels, the "
        "fastest setting of each pipeline's search: graphscale's ladder of walks per node; gensim's window 5 / 10 x "
        "negative sampling / hierarchical softmax x walks per node x epochs): graphscale's DeepWalk against gensim "
        "Word2Vec on numpy walks and on pecanpy's walks; node2vec walk generation against pecanpy's modes; DeepWalk on a "
        "million-node power-law graph; LargeVis against scikit-learn's t-SNE.",
        "bash benchmarks/setup_peers.sh gensim pecanpy\npython benchmarks/embedding.py",
        "Skip-gram SGD on the embedding tables is bound by memory latency (random rows of two tables per "
        "sample); walks cost little next to training; node2vec's alias tables stop fitting in the caches on "
        "larger graphs, where rejection sampling takes over.",
        [Table("Time to quality (fastest setting reaching the target)", lambda line: line.get("bench") ==
               "time-to-quality" and line.get("impl") != "ratio", ("dataset", "target_micro_f1"),
               (("target_micro_f1", "target_micro_f1"), ("window", "window"), ("loss", "loss"),
                ("walks per node", "num_walks"), ("epochs", "epochs"), ("runs", "runs"),
                ("total_time_s", "total_time_s"), ("cpu_time_s", "cpu_time_s"), ("micro_f1", "micro_f1"),
                ("macro_f1", "macro_f1"), ("peak_rss_mb", "peak_rss_mb")),
               speed=("total_time_s", "lower")),
         Table("Every rung run", measured("ttq-run"), ("window", "loss", "num_walks", "epochs"),
               (("window", "window"), ("loss", "loss"), ("walks per node", "num_walks"), ("epochs", "epochs"),
                ("total_time_s", "total_time_s"),
                ("walk_time_s", "walk_time_s"), ("train_time_s", "train_time_s"), ("cpu_time_s", "cpu_time_s"),
                ("micro_f1", "micro_f1"), ("macro_f1", "macro_f1"), ("peak_rss_mb", "peak_rss_mb"))),
         Table("node2vec walk generation", lambda line: line.get("bench") == "node2vec-walks"
               and line.get("impl") != "ratio", ("p", "q", "num_walks", "walk_length"),
               (("p", "p"), ("q", "q"), ("walks per node", "num_walks"), ("walk_time_s", "walk_time_s"),
                ("cpu_time_s", "cpu_time_s"), ("prep_time_s", "prep_time_s"), ("kernel_time_s", "kernel_time_s"),
                ("api_time_s", "api_time_s"), ("mode_used", "mode_used"), ("peak_rss_mb", "peak_rss_mb")),
               speed=("walk_time_s", "lower")),
         Table("Scale: DeepWalk on a power-law graph", measured("scale"), ("num_nodes", "num_edges", "num_walks"),
               (("num_nodes", "num_nodes"), ("num_edges_directed", "num_edges_directed"),
                ("num_samples", "num_samples"), ("total_time_s", "total_time_s"), ("cpu_time_s", "cpu_time_s"),
                ("samples_per_s", "samples_per_s"), ("generate_time_s", "generate_time_s"),
                ("peak_rss_mb", "peak_rss_mb"))),
         Table("2-D layout: LargeVis vs t-SNE", measured("layout"), ("num_points",),
               (("num_points", "num_points"), ("total_time_s", "total_time_s"), ("cpu_time_s", "cpu_time_s"),
                ("knn_preservation_10", "knn_preservation_10"), ("peak_rss_mb", "peak_rss_mb")),
               speed=("total_time_s", "lower"), ours=lambda impl: impl == "largevis")]),
    Section(
        "embedding_quality", "Node embeddings: quality (`embedding_quality.py`)",
        "The shipped `embed-<model>-<dataset>.yaml` configs (DeepWalk, node2vec, LINE on BlogCatalog and PPI) run "
        "through `graphscale embed`: Micro / Macro-F1 of a one-vs-rest classifier at 50 % training labels, "
        "against the published figures the configs cite.",
        "python benchmarks/embedding_quality.py",
        "Quality follows the walk budget (samples drawn), and the budget is bounded by the time the machine's "
        "cores give; the classifier protocol (splits, regularisation) is the published one.",
        custom="embedding_quality"),
    Section(
        "startup", "First run (`startup.py`)",
        "Wall time of `import graphscale` and `graphscale --help` (median of 5 fresh processes), and of the "
        "README's main job `graphscale train` on a fresh install (an empty numba cache: every kernel it uses "
        "compiles) and again with the cache filled.",
        "python benchmarks/startup.py",
        "The second run's floor is torch itself: importing it, and `torch.optim` importing `torch._dynamo` on the "
        "first optimizer (about 1.5 s here); the first run adds the numba compilation of the kernels it uses.",
        [Table("Startup", measured("startup"), ("step",),
               (("step", "step"), ("wall_s", "wall_s"), ("target_s", "target_s"), ("meets_target", "meets_target")),
               memory=None)]),
    Section(
        "embed_defaults", "Node embeddings: the defaults (`embed_defaults.py`)",
        "`graphscale embed` without a shipped config: each candidate setting of the defaults (DeepWalk) on every "
        "shipped labelled graph, Micro / Macro-F1 on held-out selection nodes (validation, which chooses) and on "
        "the other nodes (test), tuning seed 1. The chosen defaults maximise the mean validation Micro + Macro-F1 "
        "over the graphs together; each graph's own shipped config is in the quality section above.",
        "python benchmarks/embed_defaults.py",
        "More walks and a wider window cost samples (time) linearly, and each negative adds a row update per "
        "sample: the chosen defaults (80 walks of 40, window 10, 3 negatives of weight 2) train BlogCatalog's "
        "285M samples in about 100 s on 2 busy cores, 2.5x the one-negative setting for +0.014 validation F1.",
        [Table("Candidates (latest run of each)", measured("embed_defaults"), ("candidate", "dataset"),
               (("candidate", "candidate"), ("dataset", "dataset"), ("validation Micro-F1", "validation_micro_f1"),
                ("validation Macro-F1", "validation_macro_f1"), ("test Micro-F1", "micro_f1"),
                ("test Macro-F1", "macro_f1"), ("samples", "num_samples"), ("total_time_s", "total_time_s")),
               memory=None)]),
    Section(
        "kg_speed", "Knowledge-graph embeddings: speed vs PyKEEN (`kg.py`)",
        "FB15k-237: training throughput (positive triples per second) of TransE and RotatE with graphscale's "
        "shared negatives and per-positive negatives against PyKEEN's per-positive sampler, and the wall time of "
        "the full filtered test evaluation, measurements interleaved in one run.",
        "bash benchmarks/setup_peers.sh pykeen\npython benchmarks/kg.py",
        "With per-positive negatives every positive brings its own candidate rows, which cheap distances (TransE's "
        "L1) leave little arithmetic to hide; shared negatives gather a few rows per batch side. The evaluator "
        "holds a batch of scores against every entity, so query batches are bounded by memory.",
        [Table("Training throughput", measured("train"), ("model", "mode", "dim", "batch_size", "negatives",
                                                           "dataset"),
               (("model", "model"), ("mode", "mode"), ("dim", "dim"), ("triples_per_s", "triples_per_s"),
                ("cpu_s per pass", "cpu_s"), ("peak_rss_mb", "peak_rss_mb")),
               speed=("triples_per_s", "higher"), compare_on=("model",)),
         Table("Filtered test evaluation", measured("eval"), ("model", "dim", "dataset"),
               (("model", "model"), ("dim", "dim"), ("eval_time_s", "eval_time_s"), ("cpu_s", "cpu_s"),
                ("MRR (untrained model)", "mrr"), ("peak_rss_mb", "peak_rss_mb")),
               speed=("eval_time_s", "lower"), compare_on=("model",))]),
    Section(
        "distributed", "Distributed training on torch.distributed (`distributed.py`, `cost_model.py`)",
        "`graphscale partition` cuts the dataset into K parts (METIS or random) and `torchrun --nproc-per-node K` "
        "trains the same config on them (gloo over 127.0.0.1 on this machine); the same config also trains in "
        "one process. Node tasks: test accuracy (mean over the seeds; the same splits on both sides), bytes sent "
        "per epoch summed over the ranks, the halo's share of the nodes, each rank's peak RSS. KG: `graphscale kg` "
        "with `--entity-partitions` over the ranks against one process; embeddings: `graphscale embed` likewise (vertex and "
        "context tables in node partitions). Sampling: seeds per second of distributed neighbour sampling with "
        "two trainers, graphscale's ranks on METIS parts against DistDGL's trainers and graph servers on the same "
        "graph (DistDGL with one partition per server; two partitions on one host fail in DGL, whose trainers "
        "find their partition by IP address). The cost model projects an "
        "ogbn-papers100M-shaped epoch on 8 / 16 / 32 machines at 25 Gb/s from the measured per-seed compute and "
        "bytes (model and assumptions in `benchmarks/cost_model.py`), beside DistDGL's published 13 s/epoch on 16 "
        "machines.",
        "python benchmarks/distributed.py --dataset citeseer --config configs/node-gcn-citeseer.yaml --seeds 10\n"
        "python benchmarks/distributed.py --dataset github --config configs/node-sage-neighbor-github.yaml "
        "--feature-svd 128 --seeds 3 --methods metis\n"
        "python benchmarks/distributed.py --dataset fb15k-237 --kg-config configs/kg-transe-fb15k-237.yaml "
        "--entity-partitions 4\n"
        "python benchmarks/distributed.py --dataset blogcatalog --embed-config configs/embed-deepwalk-blogcatalog.yaml\n"
        "bash benchmarks/setup_peers.sh dgl\npython benchmarks/distributed.py --sampling\n"
        "python benchmarks/cost_model.py",
        "All ranks share this machine's 2 cores, so these runs measure correctness, memory and communication, not "
        "speed-up. Every rank loads only its part and the partition book; evaluation runs layer by layer in "
        "destination chunks that pull only the halo rows they read, which bounds a rank's memory but pulls a row "
        "once per chunk that reads it (more bytes than one halo exchange on high-degree graphs). The cost model adds compute, "
        "network and latency without overlap and charges a random partition's remote share, so it over-estimates; "
        "its compute is this machine's per core (the 96-core rows assume linear scaling across cores). At 16 "
        "machines of 96 cores it projects about DistDGL's epoch, network-bound: every sampled input row crosses "
        "the network once per seed; METIS locality and repeated nodes within a batch would cut that.",
        [Table("Accuracy, communication and memory (latest run of each setting)",
               lambda line: measured("distributed")(line) and line.get("workload") != "sampling",
               ("_file", "config", "workload", "method", "world_size"),
               (("config", "config"), ("method", "method"), ("ranks", "world_size"), ("sampler", "sampler"),
                ("table partitions", "partitions"), ("test_acc", "test_acc"), ("test_acc_std", "test_acc_std"),
                ("MRR", "mrr"), ("Micro-F1", "micro_f1"), ("Macro-F1", "macro_f1"),
                ("bytes_sent_per_epoch", "bytes_sent_per_epoch"), ("halo_fraction", "halo_fraction"),
                ("edge_cut_fraction", "edge_cut_fraction"), ("peak_rss_mb", "peak_rss_mb"),
                ("peak_rss_mb_per_rank", "peak_rss_mb_per_rank"), ("epoch_time_s", "epoch_time_s"))),
         Table("Distributed neighbour sampling vs DistDGL (synthetic-arxiv, fanouts 15/10/5, 1,024 seeds per "
               "trainer and batch, one thread per trainer)",
               lambda line: measured("distributed")(line) and line.get("workload") == "sampling",
               ("partitions",),
               (("trainers", "trainers"), ("partitions", "partitions"), ("seeds_per_s", "seeds_per_s"),
                ("epoch_time_s", "epoch_time_s"), ("peak_rss_mb_per_rank", "peak_rss_mb_per_rank")),
               speed=("seeds_per_s", "higher"), memory=None),
         Table("Cost model: ogbn-papers100M-shaped epoch (projected)", measured("cost_model"),
               ("machines", "cores_per_machine"),
               (("machines", "machines"), ("cores per machine", "cores_per_machine"), ("compute_s", "compute_s"),
                ("network_s", "network_s"), ("latency_s", "latency_s"), ("epoch_s", "epoch_s"),
                ("DistDGL epoch_s", "distdgl_epoch_s"), ("DistDGL / ours", "vs_distdgl"),
                ("core_s_per_seed (measured)", "core_s_per_seed"), ("work_scale", "work_scale"),
                ("bytes_per_seed (measured)", "bytes_per_seed"), ("measured / its bound", "measured_share_of_bound"),
                ("bytes_per_seed (papers100M bound)", "target_bytes_per_seed"), ("measured on", "measured_on")),
               memory=None)]),
    Section(
        "kg", "Knowledge-graph embeddings: accuracy (`graphscale kg`, `kg_accuracy.py`)",
        "Filtered link prediction on the test set (realistic ranks) of `graphscale kg` runs, one record per run: "
        "the shipped configs and the screens that chose them, with the paper's targets where a config names them.",
        "python benchmarks/kg_accuracy.py --name fb15k-237-rotate -- --dataset fb15k-237 --model rotate",
        "An epoch's cost grows with the dimension times the negatives per positive, so on a CPU the reachable "
        "budget is far fewer steps than the papers use; reciprocal relations and self-adversarial weighting are "
        "what close the gap within it.",
        custom="kg", suffixes=(".jsonl", ".json")),
    Section(
        "quant", "Degree-Quant: INT8 / INT4 quantization-aware training (`quant.py`)",
        "Quantization-aware training with Degree-Quant (Tailor et al., ICLR 2021: percentile ranges, stochastic "
        "protection of high in-degree nodes) through `graphscale train --quant`, against FP32 training of the "
        "same config on the same seeds, with the paper's figures (Table 1, Cora GCN: FP32 81.4, DQ-INT8 81.7, "
        "DQ-INT4 78.3). Accuracies are the quantized (simulated) model's, as the paper reports them; GCN runs also "
        "carry the integer model's accuracy, size and its inference time against the float model of the same "
        "weights, measured back to back in one process.",
        "python benchmarks/quant.py --case cora-gcn-fp32 --case cora-gcn-int8 --case cora-gcn-int4\n"
        "python benchmarks/quant.py --case cora-gcn-int4 --tune --set train.quant_p_max=0.2\n"
        "python benchmarks/quant.py --case arxiv-gcn-int8",
        "The integer path covers GCN stacks and GIN-0 graph classifiers (GAT is quantized in simulation only); "
        "its requantization "
        "runs in float multipliers between int32 accumulators, as integer engines do. Inference-time ratios come "
        "from a machine shared with other jobs and are read within one run only.",
        [Table("Accuracy (reported seeds; latest run of each case)",
               lambda line: measured("quant")(line) and line.get("purpose") == "reported"
               and line.get("dataset") != "synthetic-arxiv",
               ("case",),
               (("case", "case"), ("test_acc", "test_acc"), ("test_acc_std", "test_acc_std"),
                ("paper", "paper_test_acc"), ("int model test_acc", "int_test_acc"),
                ("int / QAT agreement", "int_agreement"), ("last_epoch_test_acc", "last_epoch_test_acc"),
                ("int model last_epoch_test_acc", "int_last_epoch_test_acc"), ("p_max", "quant_p_max"),
                ("model_bytes_fp32", "model_bytes_fp32"), ("model_bytes_int", "model_bytes_int"),
                ("seeds", "seeds"), ("overrides", "overrides")), memory=None, ours=lambda impl: False),
         Table("Integer inference vs FP32 inference of the same model (synthetic-arxiv, 3-layer GCN)",
               lambda line: measured("quant")(line) and line.get("dataset") == "synthetic-arxiv", ("case",),
               (("case", "case"), ("fp32_inference_ms", "fp32_inference_ms"),
                ("int_inference_ms", "int_inference_ms"), ("int_speedup", "int_speedup"),
                ("model_bytes_fp32", "model_bytes_fp32"), ("model_bytes_int", "model_bytes_int"),
                ("int / QAT agreement", "int_agreement"), ("peak_rss_mb", "peak_rss_mb"),
                ("overrides", "overrides")), memory=None, ours=lambda impl: False),
         Table("Tuning (seeds 100..102, validation accuracy chooses the protection)",
               lambda line: measured("quant")(line) and line.get("purpose") == "tuning", ("case", "overrides"),
               (("case", "case"), ("overrides", "overrides"), ("val_acc", "val_acc"), ("val_acc_std", "val_acc_std")),
               memory=None, ours=lambda impl: False)]),
    # -- EGC and RevGNN --
    Section(
        "egc", "EGC: efficient graph convolution vs GAT (`egc.py`)",
        "Tailor et al. (ICLR 2022) report that EGC matches or beats anisotropic GNNs such as GAT while using a "
        "fraction of their memory and time (their Table 1 and Figure 3). Here: test accuracy of the shipped EGC "
        "configs beside the GAT (Cora, 10 seeds) and GIN (MUTAG, 10-fold CV) configs, and one full-batch training "
        "epoch of 2-layer EGC-S and GAT with the same hidden width (64: GAT 8 heads x 8) on `synthetic-arxiv`, "
        "each in its own process, back to back in one run (targets: EGC peak RSS <= 0.5x and epoch time <= 0.6x "
        "of GAT's).",
        "python benchmarks/egc.py --bench accuracy --configs graphscale/configs/node-egc-cora.yaml "
        "graphscale/configs/node-gat-cora.yaml graphscale/configs/graph-egc-mutag.yaml "
        "graphscale/configs/graph-gin-mutag.yaml\npython benchmarks/egc.py --bench speed --epochs 3",
        "Whole-process peak RSS includes the interpreter, torch and the dataset, which both models pay alike, and "
        "the self-looped copy of the graph both layers propagate over; EGC's output layer aggregates num_bases "
        "bases of the class width, GAT's only one head.",
        [Table("Accuracy of the shipped configs", measured("egc-accuracy"), ("config",),
               (("config", "config"), ("dataset", "dataset"), ("model", "model"), ("test_acc", "test_acc"),
                ("test_acc_std", "test_acc_std"), ("seeds", "seeds"), ("folds", "num_folds"),
                ("expected (paper)", "expected_test_acc"), ("target", "target"), ("source", "source")),
               memory=None),
         Table("Full-batch training epoch on synthetic-arxiv", measured("egc-speed"), ("model",),
               (("model", "model"), ("epoch_time_s", "epoch_time_s"), ("epoch_cpu_s", "epoch_cpu_s"),
                ("peak_rss_mb", "peak_rss_mb"), ("train_rss_mb", "train_rss_mb"), ("parameters", "parameters"),
                ("hparams", "hparams"))),
         Table("EGC / GAT (same run)", lambda line: line.get("bench") == "egc-speed" and line.get("record") == "ratio",
               ("dataset",),
               (("peak_rss_ratio", "peak_rss_ratio"), ("target", "target_peak_rss_ratio"),
                ("train_rss_ratio", "train_rss_ratio"), ("epoch_time_ratio", "epoch_time_ratio"),
                ("target", "target_epoch_time_ratio")), memory=None)]),
    Section(
        "revgnn", "RevGNN: grouped reversible GNNs (`revgnn.py`)",
        "Li et al. (ICML 2021) train reversible GNNs whose memory does not grow with depth (their Figure 1: "
        "RevGNN on ogbn-proteins, constant GPU memory from 3 to 1001 layers). Here: the `revgnn` node model "
        "(grouped reversible SAGE blocks, 2 groups) trained full batch on `synthetic-arxiv` at 3 and at 112 "
        "layers, each in its own process: whole-process peak RSS (target: deep <= 1.3x shallow), epoch time and "
        "the accuracy after the timed epochs.",
        "python benchmarks/revgnn.py --layers 3 112 --hidden-dim 64 --epochs 1 --warmup 0\n"
        "python benchmarks/egc.py --bench accuracy --record-dir revgnn --bench-label revgnn-accuracy --record-name "
        "synthetic-arxiv-accuracy --configs graphscale/configs/node-revgnn-synthetic-arxiv.yaml --set "
        "model.num_layers=112 --set train.epochs=2 --set train.patience=0",
        "A reversible block recomputes its group functions once for the inverse and once under autograd in "
        "backward, so an epoch costs about three forward passes per block; depth costs time, not memory.",
        [Table("Training by depth (synthetic-arxiv, full batch)", measured("revgnn-memory"), ("num_layers",),
               (("layers", "num_layers"), ("hparams", "hparams"), ("epochs", "epochs"),
                ("peak_rss_mb", "peak_rss_mb"), ("train_rss_mb", "train_rss_mb"), ("epoch_time_s", "epoch_time_s"),
                ("val_acc", "val_acc"), ("test_acc", "test_acc"), ("parameters", "parameters")), memory=None),
         Table("Accuracy by depth and epochs (`graphscale train --config node-revgnn-synthetic-arxiv`)",
               measured("revgnn-accuracy"), ("overrides",),
               (("overrides", "overrides"), ("epochs run", "epochs_run"), ("val_acc", "val_acc"),
                ("test_acc", "test_acc"), ("epoch_time_s", "epoch_time_s"), ("peak_rss_mb", "peak_rss_mb")),
               memory=None),
         Table("Deep / shallow (same run)",
               lambda line: line.get("bench") == "revgnn-memory" and line.get("record") == "ratio",
               ("deep_layers",),
               (("shallow", "shallow_layers"), ("deep", "deep_layers"), ("hidden_dim", "hidden_dim"),
                ("peak_rss_ratio", "peak_rss_ratio"), ("target", "target_peak_rss_ratio"),
                ("train_rss_ratio", "train_rss_ratio"), ("epoch_time_ratio", "epoch_time_ratio")), memory=None)]),
    Section(
        "distill", "Distillation: GLNN, LSP and G-CRD (`graphscale distill`, `distill.py`)",
        "A teacher GNN trained like `graphscale train`, the student distilled from it (GLNN: the teacher's soft labels "
        "on every node train an MLP that needs no graph at inference; LSP / G-CRD: its hidden representations train "
        "a smaller GNN) and the same student trained on the labels alone, on the public Planetoid splits, mean over "
        "the reported seeds (0..9; the shipped settings were chosen on validation accuracy with tuning seeds "
        "100..102), beside the paper's figures where it reports the dataset (GLNN's Cora row uses CPF splits). "
        "Inference: milliseconds to predict 10,000 random nodes, the teacher with its full 2-hop in-neighbourhood "
        "sampled into blocks and its features gathered, the MLP with the nodes' features only, timed back to back in "
        "one process on one thread (median and fastest of the repetitions; on a loaded shared machine the fastest run "
        "is the estimate least disturbed by other processes).",
        "python benchmarks/distill.py accuracy --config distill-sage-mlp-cora --seeds 10\n"
        "python benchmarks/distill.py tune --config distill-sage-mlp-cora --seeds 3 --grid '[[\"distill.temperature=2\"]]'\n"
        "python benchmarks/distill.py speed --config distill-sage-mlp-cora --dataset synthetic-arxiv "
        "--set model.hidden_dim=128 model.dropout=0.2 data.normalize_features=false",
        "The student sees the teacher's soft labels on every node, test nodes included (GLNN's transductive "
        "setting), so it can at best copy the teacher's accuracy: the MLP inherits the neighbourhood information the "
        "teacher's predictions carry, not the graph. The teacher's inference cost is dominated by fetching its "
        "neighbourhood, which grows with the degrees of a power-law graph; the MLP's is one gather and two dense "
        "products.",
        [Table("Accuracy: teacher, distilled student, student alone (mean over the seeds)",
               lambda line: line.get("bench") == "distill" and line.get("mode") == "accuracy"
               and line.get("seed") == "mean", ("dataset", "config", "overrides"),
               (("dataset", "dataset"), ("config", "config"), ("teacher", "teacher"), ("student", "student"),
                ("hidden", "student_hidden"), ("method", "method"), ("seeds", "seeds"),
                ("teacher_acc", "teacher_acc"), ("±", "teacher_acc_std"), ("student_acc", "student_acc"),
                ("± ", "student_acc_std"), ("alone (baseline_acc)", "baseline_acc"), ("±  ", "baseline_acc_std"),
                ("teacher - student", "gap"), ("paper teacher", "paper_teacher_acc"),
                ("paper student", "paper_student_acc"), ("paper alone", "paper_baseline_acc")), memory=None),
         Table("Inference per 10,000 nodes: teacher (neighbourhood fetch + forward) vs MLP student",
               lambda line: line.get("bench") == "distill" and line.get("mode") == "speed", ("dataset", "teacher"),
               (("dataset", "dataset"), ("teacher", "teacher"), ("teacher hparams", "teacher_hparams"),
                ("student hidden", "student_hidden"), ("teacher ms", "teacher_ms_per_10k"),
                ("student ms", "student_ms_per_10k"), ("speed-up (medians)", "inference_speedup"),
                ("teacher ms (fastest)", "teacher_fastest_ms_per_10k"),
                ("student ms (fastest)", "student_fastest_ms_per_10k"),
                ("speed-up (fastest)", "inference_speedup_fastest"),
                ("fetched nodes", "teacher_fetch_nodes"), ("fetched edges", "teacher_fetch_edges"),
                ("threads", "threads"), ("peak_rss_mb", "peak_rss_mb")), memory=None),
         Table("Validation sweep that chose the student settings (tuning seeds)",
               lambda line: line.get("bench") == "distill" and line.get("mode") == "tune",
               ("dataset", "config", "overrides", "candidate", "chosen"),
               (("dataset", "dataset"), ("config", "config"), ("fixed overrides", "overrides"),
                ("candidate", "candidate"), ("chosen", "chosen"),
                ("val_acc (mean)", "val_acc"), ("val_acc_std", "val_acc_std"), ("seeds", "seeds")), memory=None)]),
    Section(
        "pprgo", "PPRGo: approximate-PageRank GNN vs APPNP, and end to end on synthetic-products (`pprgo.py`)",
        "PPRGo (Bojchevski et al., KDD 2020): push PPR of the training and validation nodes, an MLP trained on "
        "batches of their top-k lists, inference by propagating the MLP logits of all nodes. Accuracy: mean over "
        "the reported seeds 0..9 of the shipped config (chosen on validation with tuning seeds from 100), against "
        "APPNP run by the same script with the same protocol (its shipped Cora config, also on CiteSeer); the "
        "target is within 1 point. End to end: one `graphscale train` run on synthetic-products (PPR, training, "
        "inference) with each phase's seconds and the peak RSS, against the paper's MAG-Scholar figure.",
        "python benchmarks/pprgo.py final --config graphscale/configs/node-appnp-cora.yaml data.dataset=citeseer\n"
        "python benchmarks/pprgo.py final --config graphscale/configs/node-pprgo-citeseer.yaml\n"
        "python benchmarks/pprgo.py compare --datasets cora citeseer\n"
        "nice -n 5 python benchmarks/pprgo.py products",
        "The PPR push is sequential within a root and the machine has two cores; training reads the features of "
        "every top-k neighbour, so an epoch costs the list length times a plain MLP's.",
        tables=[
            Table("PPRGo vs APPNP: test accuracy, points apart (target: within 1)",
                  lambda line: measured("pprgo")(line) and line.get("mode") == "compare", ("dataset",),
                  (("dataset", "dataset"), ("PPRGo test_acc", "pprgo_test_acc"), ("std", "pprgo_test_acc_std"),
                   ("APPNP test_acc", "appnp_test_acc"), ("std", "appnp_test_acc_std"),
                   ("points vs APPNP", "delta_vs_appnp_points"), ("within 1 point", "within_1_point"),
                   ("PPRGo record", "pprgo_record"), ("APPNP record", "appnp_record")), memory=None),
            Table("Test accuracy over the reported seeds (shipped configs)",
                  lambda line: measured("pprgo")(line) and line.get("mode") == "final", ("dataset", "model"),
                  (("dataset", "dataset"), ("model", "model"), ("test_acc", "test_acc"),
                   ("test_acc_std", "test_acc_std"), ("val_acc", "val_acc"), ("seeds", "seeds"),
                   ("ppr_s", "ppr_s"), ("train_s", "train_s"), ("inference_s", "inference_s"),
                   ("config", "config"), ("overrides", "overrides")), memory=None),
            Table("Validation accuracy of the tuned variants (tuning seeds; test not read)",
                  lambda line: measured("pprgo")(line) and line.get("mode") == "tune",
                  ("dataset", "model", "variant"),
                  (("dataset", "dataset"), ("variant", "variant"), ("val_acc", "val_acc"),
                   ("val_acc_std", "val_acc_std"), ("top-k val_acc", "select_val_acc"),
                   ("tuning seeds", "tuning_seeds")), memory=None),
            Table("synthetic-products end to end (one run, PPR + training + inference)",
                  lambda line: measured("pprgo")(line) and line.get("mode") == "products", ("config",),
                  (("nodes", "num_nodes"), ("edges", "num_edges"), ("ppr_s", "ppr_s"), ("train_s", "train_s"),
                   ("inference_s", "inference_s"), ("end_to_end_s", "end_to_end_s"),
                   ("paper (MAG-Scholar) s", "paper_seconds"), ("peak_rss_mb", "peak_rss_mb"),
                   ("test_acc", "test_acc"), ("epochs", "epochs_run"), ("load before", "load_1m_before"),
                   ("load after", "load_1m_after"), ("wall s", "command_wall_s"), ("note", "note")), memory=None)]),
    Section(
        "hetero_rgcn", "Heterogeneous R-GCN epoch vs PyTorch Geometric and DGL (`hetero_rgcn.py`)",
        "One full-batch epoch (forward + backward + Adam step) of the same 2-layer R-GCN (typed inputs, basis "
        "decomposition with 4 bases, the mean over each relation's in-edges, a self-loop weight) on `synthetic-mag` "
        "with its reverse relations, each implementation on the same arrays in its own process: graphscale "
        "(one matmul per relation over the distinct (relation, source) pairs and one fused gather), PyG's "
        "`RGCNConv` on the homogeneous `edge_index` / `edge_type` (pyg-lib's `segment_matmul` where it is "
        "installed) and DGL's `RelGraphConv` (edges sorted by type, `presorted=True`: its `gather_mm` path). "
        "Target: at least 2x the fastest peer's epoch.",
        "bash benchmarks/setup_peers.sh pyg dgl\npython benchmarks/hetero_rgcn.py",
        "The epoch is dense per-relation matrix products over the pair rows and two weighted gathers per layer; the "
        "products run at the BLAS speed of two cores, so the gain over a peer comes from doing fewer of them "
        "(pairs instead of edges) rather than from faster ones.",
        [Table("Epoch time and peak RSS (latest run of each implementation)", measured("hetero_rgcn"),
               ("_file",), (("graph", "setup.graph"), ("edges", "setup.num_edges"),
                            ("epoch_time_s (median)", "epoch_time_s"), ("epoch_cpu_s", "epoch_cpu_s"),
                            ("peak_rss_mb", "peak_rss_mb"), ("backend", "pyg_backend")),
               speed=("epoch_time_s", "lower"))]),
    Section(
        "hetero_accuracy", "Entity classification on synthetic-mag: R-GCN full batch vs sampled "
        "(`hetero_accuracy.py`)",
        "The shipped configs `node-rgcn-synthetic-mag` and `node-rgcn-neighbor-synthetic-mag` (heterogeneous "
        "neighbour sampling, fanouts per relation) through `graphscale train`, mean "
        "test accuracy over the reported seeds at the best-validation epoch; relation weights chosen on validation "
        "over tuning seeds 100..102. Targets: sampled within 1 point of full batch; the dataset is built for R-GCN "
        "between 60 % and 90 %.",
        "python benchmarks/hetero_accuracy.py final\npython benchmarks/hetero_accuracy.py compare",
        "Sampled training sees each training paper once per epoch through a sampled neighbourhood, so it needs "
        "about as many epochs as full batch but each costs the sampled blocks of every batch.",
        [Table("Sampled vs full batch (latest compare line)",
               lambda line: line.get("bench") == "hetero_accuracy" and line.get("stage") == "compare", ("config",),
               (("full test_acc", "full_test_acc"), ("sampled test_acc", "sampled_test_acc"),
                ("points apart", "delta_points"), ("within 1 point", "within_1_point"),
                ("full in 60-90 %", "full_in_band")), memory=None),
         Table("Test accuracy over the reported seeds (shipped configs)",
               lambda line: line.get("bench") == "hetero_accuracy" and line.get("stage") == "final", ("config",),
               (("config", "config"), ("seeds", "seeds"), ("test_acc", "test_acc"), ("std", "test_acc_std"),
                ("val_acc", "val_acc"), ("epoch_time_s", "epoch_time_s"), ("peak_rss_mb", "peak_rss_mb"),
                ("in 60-90 %", "in_band")), memory=None),
         Table("Tuning: mean validation accuracy (seeds 100..102; test not read)",
               lambda line: line.get("bench") == "hetero_accuracy" and line.get("stage") == "tune",
               ("config", "variant"), (("config", "config"), ("variant", "variant"), ("val_acc", "val_acc"),
                                       ("std", "val_acc_std"), ("epoch_time_s", "epoch_time_s")), memory=None)]),
    Section(
        "shadow", "ShaDow-GNN vs full-batch GraphSAGE (`shadow_accuracy.py`)",
        "ShaDow-SAGE (Zeng et al., NeurIPS 2021: a GraphSAGE deeper than its per-target k-hop scope, the "
        "target-centred readout, inference on the targets' subgraphs) against the shipped full-batch GraphSAGE "
        "configs, both over seeds 0..9; ShaDow's variant is chosen on mean validation accuracy over tuning seeds "
        "100+ (test accuracy plays no part). Target: within 1.0 point of full batch. The rows are the `summary` "
        "lines the script computes from its run lines.",
        "python benchmarks/shadow_accuracy.py --stage tune\npython benchmarks/shadow_accuracy.py --stage final\n"
        "python benchmarks/shadow_accuracy.py --stage summary",
        "A target's subgraph repeats the nodes it shares with other targets, so an epoch computes every node once "
        "per scope holding it: on CiteSeer's 3,703-column features the first layer's work is several times full "
        "batch's, and evaluation on subgraphs costs as much again.",
        [Table("Test accuracy over the reported seeds (validation winner and full batch)",
               lambda line: line.get("bench") == "shadow-accuracy" and line.get("kind") == "final",
               ("dataset", "method"),
               (("dataset", "dataset"), ("method", "method"), ("variant", "variant"), ("seeds", "seeds"),
                ("test_acc_mean", "test_acc_mean"), ("test_acc_std", "test_acc_std"),
                ("delta_vs_full", "delta_vs_full"), ("target_met", "target_met")), memory=None),
         Table("Tuning: mean validation accuracy of each ShaDow variant",
               lambda line: line.get("bench") == "shadow-accuracy" and line.get("kind") == "tuning",
               ("dataset", "variant"),
               (("dataset", "dataset"), ("variant", "variant"), ("seeds", "seeds"), ("val_acc_mean", "val_acc_mean"),
                ("winner", "winner")), memory=None)]),

    Section(
        "link", "Link prediction: GAE, VGAE, GraphSAGE full batch and mini-batch (`graphscale link`, `link_accuracy.py`)",
        "Kipf & Welling's protocol: each run splits the undirected edges 85 / 5 / 10 % from its seed with as many "
        "held-out non-edges for validation and test; message passing uses the training edges only. Test AUC, AP, "
        "Hits@K (OGB) and MRR at the epoch of best validation AUC, mean and std over the reported seeds 0..9 (the "
        "github configs: the seeds their row states), beside the paper's figures; the shipped settings were chosen on "
        "mean validation AUC with tuning seeds 100..102 (test not read). Mini-batch: link-level neighbour sampling "
        "(seed edges, one negative each drawn in the loader, both endpoints' [15, 10] neighbourhoods, the batch's "
        "edges excluded from its message passing) against the same model trained full batch.",
        "python benchmarks/link_accuracy.py accuracy --config link-gae-cora\n"
        "python benchmarks/link_accuracy.py tune --config link-gae-cora --grid "
        "'[[\"train.loss=dense\"], [\"train.loss=sampled\"]]'\n"
        "python benchmarks/link_accuracy.py accuracy --config link-sage-neighbor-github --seeds 3",
        "The dense objective scores all N^2 node pairs every epoch (Kipf & Welling's), which bounds it to graphs of a "
        "few thousand nodes; the sampled objective costs one score per training pair. Mini-batch epochs sample "
        "and embed both endpoints' neighbourhoods of every seed edge, many times the nodes of one full-graph pass.",
        [Table("Test metrics over the reported seeds (shipped configs)",
               lambda line: line.get("bench") == "link" and line.get("mode") == "accuracy"
               and line.get("seed") == "mean", ("dataset", "config", "overrides"),
               (("dataset", "dataset"), ("config", "config"), ("model", "model"), ("sampler", "sampler"),
                ("loss", "loss"), ("seeds", "seeds"), ("test AUC", "test_auc"), ("±", "test_auc_std"),
                ("test AP", "test_ap"), ("± ", "test_ap_std"), ("Hits@50", "test_hits_at_50"), ("MRR", "test_mrr"),
                ("val AUC", "val_auc"), ("paper AUC", "paper_test_auc"), ("paper AP", "paper_test_ap"),
                ("target AUC", "target_auc"), ("target AP", "target_ap"), ("epoch_time_s", "epoch_time_s"),
                ("peak_rss_mb", "peak_rss_mb")), memory=None),
         Table("Validation sweeps that chose the shipped settings (tuning seeds 100..102)",
               lambda line: line.get("bench") == "link" and line.get("mode") == "tune",
               ("dataset", "config", "overrides", "candidate", "chosen"),
               (("dataset", "dataset"), ("config", "config"), ("fixed overrides", "overrides"),
                ("candidate", "candidate"), ("chosen", "chosen"), ("val AUC (mean)", "val_auc"),
                ("val_auc_std", "val_auc_std"), ("val AP", "val_ap"), ("seeds", "seeds")), memory=None)]),
    Section(
        "link_sampling", "Link-level neighbour sampling vs DGL and PyG (`link_sampling.py`)",
        "Sampled batches per second of link-level mini-batches on github's training edges (85 % split, both "
        "directions in the message-passing graph): 1,024 seed edges per batch, one uniform negative per positive "
        "drawn in the loader, both endpoints' neighbourhoods with fanouts [15, 10] into per-layer message-flow "
        "graphs; graphscale's `LinkSampler` / `LinkLoader`, DGL 2.1's `as_edge_prediction_sampler(NeighborSampler, "
        "negative_sampler=Uniform(1))` + `DataLoader` and PyG's `LinkNeighborLoader`, each in its own process and "
        "virtualenv, the same thread / worker count. Only sampling is timed. Target: 3x the best peer per batch.",
        "python benchmarks/link_sampling.py --threads 2",
        "The neighbour kernels are the node sampler's; a batch adds the negatives, one sort of its endpoints and "
        "the relabelling. With two cores, the loader's worker threads and the kernels' own threads share them.",
        [Table("Sampled batches per second (github, fanouts [15, 10], 1,024 seed edges + 1,024 negatives)",
               measured("link_sampling"), ("_file", "num_threads"),
               (("threads", "num_threads"), ("batches_per_s", "batches_per_s"), ("edges_per_s", "edges_per_s"),
                ("sampled nodes", "mean_sampled_nodes"), ("sampled edges", "mean_sampled_edges"),
                ("warmup_s", "warmup_s"), ("peak_rss_mb", "peak_rss_mb"), ("rss_growth_mb", "total_rss_growth_mb")),
               speed=("batches_per_s", "higher"), compare_on=("num_threads",))]),
]


def render_section(section: Section, root: Path) -> tuple[list[str], bool]:
    """Markdown of one section, and whether it has records."""
    records = load(root, section.key, section.suffixes)
    if section.custom == "minibatch":
        tables, shown = minibatch_tables(records)
    elif section.custom == "kg":
        tables, shown = kg_accuracy_tables(records, root)
    elif section.custom == "embedding_quality":
        tables, shown = embedding_quality_tables(records)
    else:
        tables, shown = render_tables(records, section.tables)
    out = [f"## {section.title}", "", section.what, "", "```console", section.commands, "```", ""]
    if shown:
        files = ", ".join(f"`{name}`" for name in records.files)
        skipped = f" ({records.unreadable} unreadable lines skipped)" if records.unreadable else ""
        out += [f"Records: `benchmarks/records/{section.key}/` {files}{skipped}.", "", machine_line(shown), "",
                *tables]
    else:
        out += [f"**No records yet.** `benchmarks/records/{section.key}/` holds no measurement lines; the command "
                "above appends them.", ""]
    out += [f"**What limits graphscale here.** {section.limits}", ""]
    return out, bool(shown)


def build(root: Path = RECORDS_DIR) -> str:
    """The whole RESULTS.md for the records under ``root``."""
    sections, contents = [], []
    for section in SECTIONS:
        lines, has_records = render_section(section, root)
        sections += lines
        contents.append(f"* {section.title}: {'records' if has_records else 'no records yet'}")
    head = ["# Benchmark results", "",
            "Generated by `python benchmarks/report.py` from the record lines under `benchmarks/records/`; do not "
            "edit by hand (change `report.py`, or run a benchmark, which appends its lines). A row is the latest "
            "line of one implementation and setting; `commit` is the code it measured (`+`: with uncommitted "
            "graphscale changes) and `load / cores` the machine's 1-minute load average when the line was written "
            "and its core count. Ratios are computed here from the lines of one run. Timings on a shared machine "
            "are noisy: compare ratios from one run. How to run the benchmarks: [README.md](README.md); earlier "
            "results: the git history of this file and of the records.", "", *contents, ""]
    return "\n".join(head + sections).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=Path, default=RECORDS_DIR, help="records folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="file to write")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if --out differs")
    args = parser.parse_args(argv)
    text = build(args.records)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"report: {args.out.name} is not what the records give; run python benchmarks/report.py",
                  file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
