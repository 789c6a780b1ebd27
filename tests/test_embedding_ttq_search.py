"""benchmarks/embedding.py ttq: the peers' search over (window, loss) families of cost-ordered (walks, epochs) rungs."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
embedding = pytest.importorskip("embedding")

TARGET = 0.40


def test_peer_ladder_is_ordered_by_walks_times_epochs_fewer_walks_first():
    ladder = embedding.peer_ladder(embedding.PEER_WALKS, embedding.PEER_EPOCHS)
    assert ladder == [(10, 1), (10, 2), (20, 1), (20, 2), (40, 1), (10, 5), (40, 2), (80, 1), (20, 5), (80, 2),
                      (40, 5), (80, 5)]


def _runner(quality, seconds, log, status=lambda rung: "ok"):
    """A fake pipeline run: Micro-F1 and time as functions of the rung index."""
    def run(rung):
        log.append(rung)
        return {"status": status(rung), "setting": str(rung), "micro_f1": quality(rung),
                "total_time_s": seconds(rung)}
    return run


@pytest.mark.parametrize("first_hit", range(13))
def test_bisect_finds_the_cheapest_rung_reaching_the_target(first_hit):
    log = []
    found, runs, note, failure = embedding.search_ladder(
        list(range(12)), _runner(lambda r: 0.5 if r >= first_hit else 0.3, float, log), TARGET)
    assert (found or {}).get("setting") == (str(first_hit) if first_hit < 12 else None)
    assert len(runs) == len(log) <= 4 and not note and not failure


def test_scan_runs_the_rungs_cheapest_first_up_to_the_first_hit():
    log = []
    found, runs, _, _ = embedding.search_ladder(
        list(range(12)), _runner(lambda r: 0.5 if r >= 3 else 0.3, float, log), TARGET, mode="scan")
    assert found["setting"] == "3" and log == [0, 1, 2, 3]


def test_a_miss_slower_than_the_best_time_ends_the_family():
    log = []
    found, _, note, failure = embedding.search_ladder(
        list(range(12)), _runner(lambda r: 0.5 if r >= 9 else 0.3, lambda r: 10.0 * (r + 1), log), TARGET,
        best_time=lambda: 50.0)
    assert found is None and log == [5] and note.startswith("stopped above 5") and not failure


def test_a_timeout_leaves_the_costlier_rungs_out():
    log = []
    found, _, note, failure = embedding.search_ladder(
        list(range(12)), _runner(lambda r: 0.5 if r >= 2 else 0.3, float, log,
                                 status=lambda r: "timeout (>60 s)" if r >= 4 else "ok"), TARGET)
    assert found["setting"] == "2" and max(log) == 5 and "timed out" in note and not failure


def test_an_error_ends_the_search_with_its_status():
    found, runs, _, failure = embedding.search_ladder(
        list(range(12)), _runner(lambda r: 0.5, float, [], status=lambda r: "error: boom"), TARGET)
    assert found is None and len(runs) == 1 and failure == "error: boom"


def test_bench_ttq_picks_each_pipelines_fastest_family_and_the_ratio(monkeypatch):
    emitted, ran = [], []
    cost = {(5, "ns"): 1.0, (5, "hs"): 0.8, (10, "ns"): 2.0, (10, "hs"): 1.6}

    def fake_pipeline(runner, impl, setting):
        ran.append((impl, setting.get("window"), setting.get("loss"), setting["num_walks"], setting.get("epochs")))
        if impl == "graphscale":
            record = {"micro_f1": 0.41 if setting["num_walks"] >= 90 else 0.39, "total_time_s": setting["num_walks"]}
        else:
            work = setting["num_walks"] * setting["epochs"]
            record = {"micro_f1": 0.41 if work >= 80 else 0.39,
                      "total_time_s": work * cost[setting["window"], setting["loss"]]}
        record = {"bench": "ttq-run", "impl": impl, **setting, "status": "ok", **record}
        emitted.append(record)
        return record

    monkeypatch.setattr(embedding, "run_pipeline", fake_pipeline)
    monkeypatch.setattr(embedding, "graphscale_settings", lambda: ({"num_walks": 120}, "config.yaml"))
    args = SimpleNamespace(impls=["graphscale", "gensim"], target=TARGET, graphscale_ladder=(0.5, 0.75, 1.0),
                           peer_windows=(5, 10), peer_losses=("ns", "hs"), peer_walks=embedding.PEER_WALKS,
                           peer_epochs=embedding.PEER_EPOCHS, peer_search="bisect", peer_prune=True)
    runner = SimpleNamespace(args=args, emit=lambda record: emitted.append(record) or record)
    best = embedding.bench_ttq(runner)

    assert best["graphscale"]["num_walks"] == 90
    # window 5 with hierarchical softmax at 40 walks x 2 epochs (80 x 0.8 s) is the fastest rung reaching 0.41
    assert (best["gensim"]["window"], best["gensim"]["loss"], best["gensim"]["num_walks"],
            best["gensim"]["epochs"]) == (5, "hs", 40, 2)
    summary = next(r for r in emitted if r["bench"] == "time-to-quality" and r["impl"] == "gensim")
    assert summary["status"] == "ok" and summary["setting"] == best["gensim"]["setting"]
    assert summary["runs"] == sum(1 for r in ran if r[0] == "gensim") < 4 * 4
    assert [f["cheapest_reaching"] for f in summary["families"]][:2] == ["40x2", "40x2"]
    assert all("stopped above" in f["note"] for f in summary["families"][2:])  # window 10 is slower: pruned
    ratio = next(r for r in emitted if r.get("impl") == "ratio")
    assert ratio["best_peer"] == "gensim" and ratio["speedup"] == pytest.approx(64 / 90, abs=0.01)
