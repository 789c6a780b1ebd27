"""benchmarks/report.py: RESULTS.md built from record lines (synthetic records in tmp_path; no benchmark runs)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
report = pytest.importorskip("report")


def write(path: Path, lines: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def section(text: str, title_start: str) -> str:
    """The markdown of the section whose title starts with ``title_start``."""
    start = text.index(f"## {title_start}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def row(text: str, first_cell: str) -> list[str]:
    """Cells of the table row whose first cell is ``first_cell``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r}")


def setup(bench: str, commit: str, **extra) -> dict:
    return {"bench": bench, "record": "setup", "status": "ok", "cpus": 2, "mem_total_gb": 23.5, "python": "3.11.7",
            "git_commit": commit, "git_dirty": [], **extra}


@pytest.fixture()
def records(tmp_path: Path) -> Path:
    root = tmp_path / "records"
    sampling = [
        setup("sampling", "aaa1111", graph="toy-v1", load_1m=0.5),
        {"bench": "sampling", "impl": "graphscale", "status": "ok", "seeds_per_s": 1000.0, "peak_rss_mb": 400.0,
         "torch": "2.13.0+cpu", "load_1m": 0.61, "cpus": 2, "git_commit": "aaa1111", "git_dirty": []},
        {"bench": "sampling", "impl": "graphscale-loader", "status": "ok", "seeds_per_s": 2000.0,
         "peak_rss_mb": 300.0, "load_1m": 0.62, "cpus": 2, "git_commit": "aaa1111", "git_dirty": []},
        {"bench": "sampling", "impl": "pyg", "status": "ok", "seeds_per_s": 500.0, "peak_rss_mb": 600.0,
         "torch_geometric": "2.8.1", "torch": "2.13.0+cpu", "load_1m": 0.63, "cpus": 2, "git_commit": "aaa1111"},
        {"bench": "sampling", "impl": "dgl", "status": "error: ImportError: no graphbolt | for this torch",
         "load_1m": 0.64, "cpus": 2, "git_commit": "aaa1111"},
        {"bench": "sampling", "record": "ratio", "impl": "graphscale-loader", "status": "ok", "baseline": "pyg",
         "speedup": 4.0, "meets_target": True, "load_1m": 0.65, "cpus": 2, "git_commit": "aaa1111"},
        "{not json",
        # a later run of graphscale alone, with uncommitted graphscale changes
        setup("sampling", "bbb2222", graph="toy-v1"),
        {"bench": "sampling", "impl": "graphscale", "status": "ok", "seeds_per_s": 1500.0, "peak_rss_mb": 410.0,
         "load_1m": 1.7, "cpus": 2, "git_commit": "bbb2222", "git_dirty": ["graphscale/x.py"]},
    ]
    write(root / "sampling" / "toy-v1.jsonl", sampling)
    full_batch = [
        setup("full_batch", "ccc3333", scale=1.0, num_nodes=100),
        *({"bench": "full_batch", "impl": impl, "model": "gcn", "status": "ok", "epoch_time_s": time,
           "peak_rss_mb": rss, "train_rss_mb": rss / 2, "load_1m": 0.9, "cpus": 2, "git_commit": "ccc3333"}
          for impl, time, rss in (("graphscale", 1.0, 500.0), ("pyg-csr", 3.0, 1000.0), ("pyg", 6.0, 4000.0))),
        {"bench": "full_batch", "impl": "graphscale", "model": "gat", "status": "oom", "load_1m": 0.9, "cpus": 2,
         "git_commit": "ccc3333"},
    ]
    write(root / "full_batch" / "arxiv.jsonl", full_batch)
    metrics = {"dataset": "fb15k-237", "model": "rotate", "dim": 500, "negatives": 256, "negative_mode": "shared",
               "epochs": 36, "epochs_done": 36, "threads": 2, "train_time_s": 2588.0, "mrr": 0.3330, "mr": 167.6,
               "hits_at_1": 0.2394, "hits_at_3": 0.3671, "hits_at_10": 0.5226, "test_head_mrr": 0.2344,
               "test_tail_mrr": 0.4317, "target_mrr": 0.33, "reached_target_mrr": True, "target_hits_at_10": 0.52,
               "reached_target_hits_at_10": True, "output_dir": "benchmarks/out/kg/d500"}
    (root / "kg").mkdir(parents=True)
    (root / "kg" / "fb-rotate.json").write_text(json.dumps(metrics, indent=2))
    write(root / "kg" / "fb-rotate.progress.jsonl",
          [{"epoch": 1, "train_time_s": 60.0}, {"epoch": 2, "train_time_s": 120.0, "valid": {"mrr": 0.25}}])
    return root


def test_tables_trace_every_figure_to_a_record_line(records: Path) -> None:
    text = report.build(records)
    sampling = section(text, "Neighbour-sampling")
    # latest line of each impl: graphscale from the later run (alone: no ratio), the loader from the first
    latest = row(sampling, "graphscale")
    assert "1,500" in latest and "bbb2222+" in latest and "1.7 / 2" in latest
    assert "no peer in this run" in latest and "1,000" not in sampling.split("Ratio lines")[0]
    loader = row(sampling, "graphscale-loader")
    assert "2,000" in loader and "4.00x vs pyg" in loader and "0.50" in loader and "aaa1111" in loader
    assert "torch_geometric 2.8.1, torch 2.13.0+cpu" in row(sampling, "pyg")
    assert "no graphbolt \\| for this torch" in sampling  # a status with "|" keeps the table intact
    assert "speedup 4" in sampling and "line 6" in sampling  # the script's own ratio line, located
    assert "1 unreadable lines skipped" in sampling
    assert "2 cores" in sampling and "commits aaa1111, bbb2222+" in sampling
    full = section(text, "Full-batch training")
    assert "3.00x vs pyg-csr" in row(full, "graphscale") and "0.50" in row(full, "graphscale")
    assert "oom" in text and "ccc3333" in full


def test_missing_records_say_so_and_give_the_command(records: Path) -> None:
    text = report.build(records)
    products = section(text, "Full batch beyond memory")
    assert "No records yet" in products and "python benchmarks/products_full_batch.py" in products
    assert "What limits graphscale here" in products
    assert "Full batch beyond memory: synthetic-products (`products_full_batch.py`): no records yet" in text
    assert "Neighbour-sampling throughput vs PyG and DGL (`sampling.py`): records" in text
    empty = report.build(records.parent / "nowhere")  # no records folder at all
    assert empty.count("No records yet") == len(report.SECTIONS)
    assert "No records yet" in section(empty, "Mini-batch accuracy") and "| " not in empty


def test_kg_runs_and_their_validation_curve(records: Path) -> None:
    kg = section(report.build(records), "Knowledge-graph embeddings: accuracy")
    cells = row(kg, "fb-rotate")
    assert "0.333" in cells and "2,588" in cells and "yes" in cells and "0.2344 / 0.4317" in cells
    assert "2: 120 / 0.25" in kg  # from fb-rotate.progress.jsonl


def test_minibatch_table_reuses_the_study_code(records: Path) -> None:
    lines = [{"bench": "minibatch-accuracy", "stage": "final", "dataset": "citeseer", "method": method,
              "key": f"k-{method}", "seed": seed, "status": "ok", "test_acc": acc, "val_acc": acc}
             for method, acc in (("full", 0.70), ("neighbor", 0.68)) for seed in range(7)]
    lines += [{**lines[0], "seed": 0, "stage": "tune", "test_acc": 0.99}]  # a tuning seed is never reported
    write(records / "minibatch" / "citeseer.jsonl", lines)
    mini = section(report.build(records), "Mini-batch accuracy")
    assert "| citeseer | full | - | 5 | 70.00 ± 0.00 |" in mini  # seeds 2-6: 0 and 1 tune
    assert "| citeseer | neighbor | - | 5 | 68.00 ± 0.00 | -2.00 | ≥ full − 1.0 | NOT met |" in mini
    assert "15 lines carry no commit or load" in mini


def test_main_writes_and_checks(records: Path, tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert report.main(["--records", str(records), "--out", str(out)]) == 0
    assert report.main(["--records", str(records), "--out", str(out), "--check"]) == 0
    out.write_text(out.read_text() + "edited by hand\n")
    assert report.main(["--records", str(records), "--out", str(out), "--check"]) == 1
