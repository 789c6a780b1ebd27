"""The bad-input corpus: every case ends with exit code 2, one stderr line naming the path, and no damage.

Each case starts from a small good input built here (a custom CSV graph, a KG folder, an edge list, copies of
the published Cora and Texas files), applies one edit, runs ``graphscale train | embed | kg | visualize``
in-process through :func:`graphscale.cli.main`, and asserts:

* exit code 2 and no exception escaping ``main`` (so no traceback);
* exactly one line on stderr, ``graphscale: error: ...``, naming the file (or folder) at fault and containing
  the case's key phrase;
* the output folder unchanged: every case runs with ``--overwrite`` against a folder holding an earlier run (or,
  for the resume cases, ``--resume``), and the folder's file checksums are the same before and after.

``python tests/test_bad_input.py`` prints the table of cases and their messages for the README's "Bad input"
section; ``test_readme_lists_every_case`` keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from graphscale.cli import main

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRAPHSCALE_DATA", REPO.parent / "shared" / "datasets")).expanduser().resolve()
FAST_TRAIN = ("--no-progress", "--epochs", "2", "--seeds", "1", "model.hidden_dim=4", "output.plot=false")
FAST_KG = ("--no-progress", "--epochs", "2", "--dim", "4", "--negatives", "2", "train.batch_size=8")
FAST_EMBED = ("--no-progress", "--model", "line", "--dim", "4", "model.num_samples=2000", "evaluate.repeats=1")


# -- good inputs --------------------------------------------------------------------------------------------------
def write_graph(folder: Path, num_nodes: int = 40, weighted: bool = True) -> Path:
    """A 2-class custom graph: ``edges.csv`` (ring + chords, weighted) and ``nodes.csv`` (id,label,split,f0,f1)."""
    folder.mkdir(parents=True, exist_ok=True)
    edges = ["src,dst,weight"] + [f"{i},{(i + 1) % num_nodes},1.0" for i in range(num_nodes)]
    edges += [f"{i},{(i + 7) % num_nodes},0.5" for i in range(0, num_nodes, 3)]
    if not weighted:
        edges = [line.rsplit(",", 1)[0] for line in edges]
    (folder / "edges.csv").write_text("\n".join(edges) + "\n")
    splits = ["train", "train", "val", "test"]
    nodes = ["id,label,split,f0,f1"] + [f"{i},{i % 2},{splits[i % 4]},{(i % 2) + 0.1 * (i % 5):.2f},{i / num_nodes:.3f}"
                                        for i in range(num_nodes)]
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    return folder


def write_kg(folder: Path) -> Path:
    """A KG folder with train / valid / test triples over entities e0..e11 and relations r0, r1."""
    folder.mkdir(parents=True, exist_ok=True)
    train = [f"e{i}\tr{i % 2}\te{(i + 1) % 12}" for i in range(12)] + [f"e{i}\tr1\te{(i + 5) % 12}" for i in range(12)]
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "valid.txt").write_text("e0\tr0\te2\ne3\tr1\te5\n")
    (folder / "test.txt").write_text("e1\tr0\te3\ne4\tr1\te6\ne7\tr0\te9\n")
    return folder


def write_edgelist(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i} {(i + 1) % 30}\n{i} {(i + 4) % 30}\n" for i in range(30)))
    return path


def copy_published(name: str, root: Path) -> Path:
    """Copy ``$GRAPHSCALE_DATA/<name>`` into ``root/<name>`` (a fresh data root the case may edit)."""
    source = DATA / name
    if not source.is_dir():
        from graphscale.datasets.io import in_ci

        if in_ci():
            pytest.fail(f"dataset folder {name!r} missing under $GRAPHSCALE_DATA (CI=true: missing data is an error)")
        pytest.skip(f"dataset folder {name!r} missing under $GRAPHSCALE_DATA")
    shutil.copytree(source, root / name)
    for path in (root / name).rglob("*"):  # the shared copy may be read-only
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return root / name


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def insert_bytes(path: Path, number: int, raw: bytes) -> None:
    lines = path.read_bytes().splitlines()
    lines[number - 1] = lines[number - 1] + raw
    path.write_bytes(b"\n".join(lines) + b"\n")


def finished_run(folder: Path) -> Path:
    """A folder holding an earlier run's files (its contents are what the checksums guard)."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.yaml").write_text("data:\n  dataset: earlier\n")
    (folder / "metrics.json").write_text('{"test_acc": 0.5}\n')
    (folder / "checkpoints" / "run0.pt").write_bytes(os.urandom(64))
    return folder


def checksums(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    if folder.is_file():
        return {folder.name: hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# -- the cases ----------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    """One bad input: ``setup(tmp) -> argv`` builds the good input, makes the one edit and returns the
    command line; ``names`` must appear in the message, ``phrase`` too. Without an ``--out`` of its own the
    command gets ``--out tmp/out --overwrite`` over a folder holding an earlier run."""

    id: str
    what: str
    setup: Callable[[Path], list[str]]
    names: tuple[str, ...]
    phrase: str


def graph_case(edit: Callable[[Path], None], *extra: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        folder = write_graph(tmp / "graph")
        edit(folder)
        return ["train", "--dataset", str(folder), *FAST_TRAIN, *extra]
    return setup


def kg_case(edit: Callable[[Path], None], *extra: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        folder = write_kg(tmp / "kg")
        edit(folder)
        return ["kg", "--dataset", str(folder), "--model", "transe", *FAST_KG, *extra]
    return setup


def embed_case(edit: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        path = write_edgelist(tmp / "edges.txt")
        edit(path)
        return ["embed", "--dataset", str(path), *FAST_EMBED]
    return setup


def published_case(name: str, dataset: str, edit: Callable[[Path], None], *extra: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        folder = copy_published(name, tmp / "root")
        edit(folder)
        return ["train", "--dataset", dataset, f"data.root={tmp / 'root'}", *FAST_TRAIN, *extra]
    return setup


def _drop_column(folder: Path, column: str) -> None:
    rows = [line.split(",") for line in (folder / "nodes.csv").read_text().splitlines()]
    at = rows[0].index(column)
    (folder / "nodes.csv").write_text("\n".join(",".join(r[:at] + r[at + 1:]) for r in rows) + "\n")


def _set_column(folder: Path, column: str, value: Callable[[str], str]) -> None:
    rows = [line.split(",") for line in (folder / "nodes.csv").read_text().splitlines()]
    at = rows[0].index(column)
    for row in rows[1:]:
        row[at] = value(row[at])
    (folder / "nodes.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")


def _gzip_truncated(folder: Path) -> None:
    data = gzip.compress((folder / "edges.csv").read_bytes())
    (folder / "edges.csv").unlink()
    (folder / "edges.csv.gz").write_bytes(data[: len(data) // 2])


def _gzip_fake(folder: Path) -> None:
    (folder / "edges.csv").rename(folder / "edges.csv.gz")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _crafted_pickle(folder: Path) -> None:
    (folder / "ind.cora.x").write_bytes(pickle.dumps(_Evil(), protocol=2))


def _cora_y_is_ty(folder: Path) -> None:
    shutil.copy(folder / "ind.cora.ty", folder / "ind.cora.y")


def _geomgcn_nan(folder: Path) -> None:
    path = folder / "out1_node_feature_label.txt"
    lines = path.read_text().splitlines()
    node, features, label = lines[3].split("\t")
    lines[3] = "\t".join([node, "nan" + features[1:], label])
    path.write_text("\n".join(lines) + "\n")


def with_real_run(*extra: str, edit: Callable[[Path], None] = lambda out: None,
                  weighted: bool = True) -> Callable[[Path], list[str]]:
    """A finished ``graphscale train`` run in ``tmp/out`` on the small graph, one ``edit`` to it, then the same
    command again into it with ``extra`` flags."""
    def setup(tmp: Path) -> list[str]:
        graph = write_graph(tmp / "graph", weighted=weighted)
        argv = ["train", "--dataset", str(graph), *FAST_TRAIN, "--out", str(tmp / "out")]
        assert main(argv) == 0
        edit(tmp / "out")
        return [*argv, *extra]
    return setup


def _out_is_a_file(tmp: Path) -> list[str]:
    (tmp / "out").write_text("not a folder\n")
    return ["train", "--dataset", str(write_graph(tmp / "graph")), *FAST_TRAIN, "--out", str(tmp / "out")]


def _out_under_a_file(tmp: Path) -> list[str]:
    (tmp / "out").write_text("not a folder\n")
    return ["train", "--dataset", str(write_graph(tmp / "graph")), *FAST_TRAIN, "--out", str(tmp / "out" / "run")]


def _rerun(tmp: Path) -> list[str]:
    finished_run(tmp / "out")
    return ["train", "--dataset", str(write_graph(tmp / "graph")), *FAST_TRAIN, "--out", str(tmp / "out")]


CASES: list[Case] = [
    # silent wrong results, before
    Case("nan-feature", "`nodes.csv` with a NaN feature", graph_case(lambda f: replace_line(
        f / "nodes.csv", 5, "3,1,test,nan,0.1")), ("nodes.csv", "line 5", "f0"), "finite number"),
    Case("inf-feature", "`nodes.csv` with an inf feature", graph_case(lambda f: replace_line(
        f / "nodes.csv", 6, "4,0,train,0.1,inf")), ("nodes.csv", "line 6", "f1"), "finite number"),
    Case("geomgcn-nan-feature", "Geom-GCN feature file with a NaN (Texas)",
         published_case("texas", "texas", _geomgcn_nan), ("out1_node_feature_label.txt", "line 4"), "finite"),
    Case("no-label-column", "`nodes.csv` without a label column", graph_case(lambda f: _drop_column(f, "label") or
         _drop_column(f, "split")), ("nodes.csv",), "labels"),
    Case("empty-labels", "`nodes.csv` with every label empty", graph_case(lambda f: _drop_column(f, "split") or
         _set_column(f, "label", lambda v: "")), ("nodes.csv",), "labels"),
    Case("no-train-rows", "a split column with no `train` rows", graph_case(lambda f: _set_column(
        f, "split", lambda v: "val" if v == "train" else v)), ("nodes.csv",), "train split"),
    Case("unknown-edge-id", "`edges.csv` naming a node not in `nodes.csv` (`5,999`)", graph_case(lambda f: replace_line(
        f / "edges.csv", 4, "5,999,1.0")), ("edges.csv", "line 4", "999"), "nodes.csv"),
    Case("nan-weight", "`edges.csv` with a NaN weight", graph_case(lambda f: replace_line(
        f / "edges.csv", 3, "2,3,nan")), ("edges.csv", "line 3", "weight"), "finite"),
    Case("kg-empty-test", "KG folder with an empty `test.txt`", kg_case(lambda f: (f / "test.txt").write_text("")),
         ("test.txt",), "test triple"),
    Case("kg-unseen-entity", "KG test triple with an entity not in `train.txt`", kg_case(lambda f: replace_line(
        f / "test.txt", 2, "e4\tr1\tnovel")), ("test.txt", "line 2", "novel"), "train"),
    Case("kg-unseen-relation", "KG test triple with a relation not in `train.txt`", kg_case(lambda f: replace_line(
        f / "test.txt", 3, "e7\tr9\te9")), ("test.txt", "line 3", "r9"), "train"),
    Case("planetoid-y-is-ty", "Planetoid `ind.cora.y` replaced by `ind.cora.ty`",
         published_case("planetoid", "cora", _cora_y_is_ty), ("ind.cora.y",), "label row"),
    Case("planetoid-huge-index", "Planetoid `test.index` with 10^12",
         published_case("planetoid", "cora", lambda f: replace_line(f / "ind.cora.test.index", 7, "1000000000000")),
         ("ind.cora.test.index",), "1000000000000"),
    Case("planetoid-empty-index", "Planetoid `test.index` empty",
         published_case("planetoid", "cora", lambda f: (f / "ind.cora.test.index").write_text("")),
         ("ind.cora.test.index",), "empty file"),
    # tracebacks, before
    Case("utf8-edges", "non-UTF-8 bytes in `edges.csv`", graph_case(lambda f: insert_bytes(f / "edges.csv", 3, b"\xff")),
         ("edges.csv", "line 3"), "UTF-8"),
    Case("utf8-nodes", "non-UTF-8 bytes in `nodes.csv`", graph_case(lambda f: insert_bytes(f / "nodes.csv", 9, b"\xe9")),
         ("nodes.csv", "line 9"), "UTF-8"),
    Case("utf8-edgelist", "non-UTF-8 bytes in an edge list (`embed`)", embed_case(lambda p: insert_bytes(p, 5, b"\xff")),
         ("edges.txt", "line 5"), "UTF-8"),
    Case("utf8-kg", "non-UTF-8 bytes in KG triples", kg_case(lambda f: insert_bytes(f / "train.txt", 2, b"\xfe")),
         ("train.txt", "line 2"), "UTF-8"),
    Case("header-only-nodes", "`nodes.csv` with a header only", graph_case(lambda f: (f / "nodes.csv").write_text(
        "id,label,split,f0,f1\n")), ("nodes.csv",), "node row"),
    Case("truncated-gz", "a truncated `edges.csv.gz`", graph_case(_gzip_truncated), ("edges.csv.gz",), "gzip"),
    Case("fake-gz", "a plain text file named `edges.csv.gz`", graph_case(_gzip_fake), ("edges.csv.gz",), "gzip"),
    # what worked already
    Case("malformed-line", "`edges.csv` line with a missing field", graph_case(lambda f: replace_line(
        f / "edges.csv", 5, "4")), ("edges.csv", "line 5"), "expected 3 fields"),
    Case("unknown-dataset", "an unknown dataset name", lambda tmp: ["train", "--dataset", "coraa", *FAST_TRAIN],
         ("coraa",), "cora"),
    Case("unknown-key", "an unknown config key", lambda tmp: ["train", *FAST_TRAIN, "train.lrr=0.1"], ("train.lrr",),
         "train.lr"),
    Case("bad-size", "a malformed `--memory-budget`", lambda tmp: ["train", "--memory-budget", "lots", *FAST_TRAIN],
         ("memory_budget",), "lots"),
    Case("other-sampler-key", "a key of another sampler (`--sampler cluster --fanouts 5,5`)",
         lambda tmp: ["train", "--sampler", "cluster", "--fanouts", "5,5", *FAST_TRAIN], ("sampler.fanouts",),
         "setting of neighbor"),
    Case("crafted-pickle", "a crafted pickle in place of `ind.cora.x`",
         published_case("planetoid", "cora", _crafted_pickle), ("ind.cora.x",), "posix.system"),
    Case("kg-malformed-line", "KG line with two fields", kg_case(lambda f: replace_line(f / "train.txt", 4, "e3\tr1")),
         ("train.txt", "line 4"), "3 tab-separated fields"),
    Case("corrupt-checkpoint", "`--resume` over a corrupt checkpoint", with_real_run(
        "--resume", edit=lambda out: (out / "checkpoints" / "run0.pt").write_bytes(b"garbage")), ("run0.pt",),
        "checkpoint"),
    # output folders
    Case("rerun-finished", "a re-run into a finished `--out` (no `--resume` / `--overwrite`)", _rerun, ("out",),
         "earlier run"),
    Case("resume-changed", "`--resume` with other settings than the run's `config.yaml`",
         with_real_run("--resume", "train.lr=0.5"), ("config.yaml",), "train.lr"),
    Case("overwrite-fails", "`--overwrite` of a finished run by one that fails (`--memory-budget 1KB`)",
         with_real_run("--overwrite", "--memory-budget", "1KB", weighted=False), ("memory_budget",), "fits in"),
    Case("out-is-file", "`--out` naming an existing file", _out_is_a_file, ("out",), "existing file"),
    Case("out-under-file", "`--out` under a file", _out_under_a_file, ("out",), "among them"),
]


def run_case(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, err: str, names: tuple[str, ...], phrase: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("graphscale: error: ") and "Traceback" not in err, line
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    assert phrase.lower() in line.lower(), f"{phrase!r} not in: {line}"
    return line


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_harmless(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = complete(case.setup(tmp_path), tmp_path)
    capsys.readouterr()
    before = checksums(tmp_path / "out")
    code, _, err = run_case(capsys, argv)
    assert_one_error_line(code, err, case.names, case.phrase)
    assert checksums(tmp_path / "out") == before
    assert not list(tmp_path.glob("runs")), "nothing may be written to a default folder"


def complete(argv: list[str], tmp: Path) -> list[str]:
    """``argv`` plus ``--out tmp/out --overwrite`` over an earlier run, unless the case chose its ``--out``."""
    if "--out" in argv:
        return argv
    return [*argv, "--out", str(finished_run(tmp / "out")), "--overwrite"]


# -- output folders ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A real finished ``graphscale train`` run on the small graph: (data folder, run folder)."""
    base = tmp_path_factory.mktemp("finished")
    folder = write_graph(base / "graph")
    out = base / "run"
    assert main(["train", "--dataset", str(folder), *FAST_TRAIN, "--out", str(out)]) == 0
    return folder, out


def copy_run(finished_run_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished_run_folder, out)
    return out


def test_kg_changed_settings_on_resume_keep_config_yaml(tmp_path, capsys):
    folder = write_kg(tmp_path / "kg")
    out = tmp_path / "run"
    assert main(["kg", "--dataset", str(folder), "--model", "transe", *FAST_KG, "--out", str(out)]) == 0
    capsys.readouterr()
    before = checksums(out)
    code, _, err = run_case(capsys, ["kg", "--dataset", str(folder), "--model", "transe", *FAST_KG, "--out", str(out),
                                     "--resume", "--dim", "8"])
    assert_one_error_line(code, err, ("config.yaml",), "model.dim")
    assert checksums(out) == before


def test_overwrite_replaces_a_finished_run_and_leaves_no_backup(finished, tmp_path, capsys):
    folder, finished_out = finished
    out = copy_run(finished_out, tmp_path)
    (out / "notes.txt").write_text("mine\n")  # not a run file: never moved or deleted
    assert main(["train", "--dataset", str(folder), *FAST_TRAIN, "--out", str(out), "--overwrite",
                 "train.lr=0.02"]) == 0
    assert "lr: 0.02" in (out / "config.yaml").read_text()
    assert (out / "notes.txt").read_text() == "mine\n" and not list(out.glob(".replaced-*"))


def test_a_read_only_out_is_one_line(tmp_path, capsys):
    folder = write_graph(tmp_path / "graph")
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        code, _, err = run_case(capsys, ["train", "--dataset", str(folder), *FAST_TRAIN, "--out", str(parent / "run")])
    finally:
        parent.chmod(0o700)
    assert_one_error_line(code, err, (str(parent / "run"),), "writable")
    assert not (parent / "run").exists()


def test_disk_full_while_writing_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    from graphscale.train import checkpoint

    folder = write_graph(tmp_path / "graph")
    out = tmp_path / "run"

    def full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "save_atomic", full)
    monkeypatch.setattr("graphscale.train.loop.save_atomic", full)
    code, _, err = run_case(capsys, ["train", "--dataset", str(folder), *FAST_TRAIN, "--out", str(out)])
    assert_one_error_line(code, err, ("run0.pt",), "No space left on device")


def test_visualize_inside_a_run_folder_keeps_its_files(tmp_path, capsys):
    import numpy as np

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"micro_f1": 0.5}\n')
    before = (run / "metrics.json").read_bytes()
    rng = np.random.default_rng(0)
    np.save(run / "embeddings.npy", rng.normal(size=(60, 4)).astype(np.float32))
    args = ["visualize", "--embeddings", str(run / "embeddings.npy"), "--out", str(run / "plot.png"),
            "--no-progress", "--samples", "2000", "--recall-queries", "0"]
    assert main(args) == 0
    assert (run / "metrics.json").read_bytes() == before and (run / "plot.json").is_file()
    capsys.readouterr()
    plot = (run / "plot.png").read_bytes()
    code, _, err = run_case(capsys, args)   # a second time: refused without --overwrite
    assert_one_error_line(code, err, ("plot.png",), "--overwrite")
    assert (run / "plot.png").read_bytes() == plot


def test_default_folders_are_numbered_and_resume_picks_the_newest(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = write_graph(tmp_path / "graph")
    for _ in range(2):
        assert main(["train", "--dataset", str(folder), *FAST_TRAIN]) == 0
    assert (tmp_path / "runs" / "graph-gcn" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "graph-gcn-2" / "metrics.json").is_file()
    capsys.readouterr()
    assert main(["train", "--dataset", str(folder), *FAST_TRAIN, "--resume", "--json"]) == 0
    assert '"output_dir": "runs/graph-gcn-2"' in capsys.readouterr().out


# -- what is handled without an error -----------------------------------------------------------------------------
def test_an_edge_list_header_is_not_read_as_two_nodes(tmp_path):
    from graphscale.datasets.edgelist import load_edgelist

    path = write_edgelist(tmp_path / "edges.txt")
    plain = load_edgelist(path)
    path.write_text("src dst\n" + path.read_text())
    assert load_edgelist(path).num_nodes == plain.num_nodes == 30


def test_the_real_command_prints_no_traceback(tmp_path):
    """One case through a real process: the installed entry point, not only main()."""
    folder = write_graph(tmp_path / "graph")
    insert_bytes(folder / "edges.csv", 3, b"\xff")
    done = subprocess.run([sys.executable, "-m", "graphscale", "train", "--dataset", str(folder), *FAST_TRAIN,
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "edges.csv line 3" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


# -- README table ---------------------------------------------------------------------------------------------------
def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(r"^### Bad input\n(.*?)(?=^##|\Z)", text, flags=re.S | re.M)
    return match.group(1) if match else ""


def test_readme_lists_every_case():
    section = readme_section()
    missing = [case.what for case in CASES if case.what not in section]
    assert not missing, f"README's 'Bad input' table lacks: {missing} (regenerate: python tests/test_bad_input.py)"


def markdown_table(tmp: Path) -> str:
    """Run every case and return the README table: input, message (paths shortened to their last part)."""
    import contextlib
    import io

    rows = ["| bad input | what graphscale says (exit code 2) |", "|---|---|"]
    for case in CASES:
        folder = tmp / case.id
        folder.mkdir()
        err = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            argv = complete(case.setup(folder), folder)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main(argv)
        line = err.getvalue().strip().splitlines()[-1].removeprefix("graphscale: error: ")
        line = line.replace(str(folder) + os.sep, "").replace("|", "\\|")
        rows.append(f"| {case.what} | {line} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import tempfile

    os.environ.setdefault("GRAPHSCALE_DOWNLOAD", "0")
    with tempfile.TemporaryDirectory() as scratch:
        print(markdown_table(Path(scratch)))
