"""``benchmarks/quality_summary.py``: summary.json holds measured figures or null, and RESULTS.md's table follows it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from quality_summary import END, KEYS, START, update, write_results


def _run(test: dict[str, float], command: str) -> dict[str, object]:
    return {"test": test, "command": command, "seconds": 120.0, "seed": 42, "load_start": "load 1.00",
            "load_end": "load 2.00"}  # fmt: skip


def test_a_task_fills_only_the_keys_it_measured_and_a_rerun_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    update("mrpc", {"finetuned": _run({"accuracy": 0.8, "f1": 0.86}, "pairsim train mrpc")}, date="d1", path=path)
    summary = update("stsb", {"finetuned": _run({"spearman": 0.851}, "pairsim train stsb")}, date="d2", path=path)
    assert json.loads(path.read_text()) == summary
    assert summary["stsb_test_spearman"] == 0.851
    assert (summary["mrpc_test_acc"], summary["mrpc_test_f1"]) == (0.8, 0.86)
    unmeasured = [k for k in KEYS if k not in {"stsb_test_spearman", "mrpc_test_acc", "mrpc_test_f1"}]
    assert unmeasured and all(summary[k] is None for k in unmeasured)
    assert summary["rows"]["mrpc_test_f1"]["command"] == "pairsim train mrpc"
    assert summary["rows"]["stsb_test_spearman"] == {"task": "stsb", "command": "pairsim train stsb", "wall_s": 120.0,
                                                     "load": "load 1.00 -> load 2.00", "seeds": 42, "date": "d2"}  # fmt: skip


def test_a_run_without_the_metric_writes_no_figure(tmp_path: Path) -> None:
    summary = update("stsb", {"finetuned": _run({"accuracy": 0.9}, "x")}, date="d", path=tmp_path / "s.json")
    assert summary["stsb_test_spearman"] is None and summary["rows"] == {}


def test_results_table_is_replaced_between_its_markers(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\nbefore\n\n{START}\nold table\n{END}\n\nafter\n")
    summary = update(
        "stsb", {"finetuned": _run({"spearman": 0.851}, "pairsim train stsb")}, date="d", path=tmp_path / "s.json"
    )
    write_results(summary, results)
    text = results.read_text()
    assert text.startswith("# Results\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old table" not in text
    table = text[text.index(START) : text.index(END)]
    assert "| **0.8510** |" in table and "2.0 min" in table and "`pairsim train stsb`" in table
    assert table.count("not measured") == len(KEYS) - 1


def test_rankiqa_fills_the_trained_figures_and_the_stronger_baseline(tmp_path: Path) -> None:
    result = {
        "trained": _run({"rank_spearman": 0.7, "heldout_distortion_rank_spearman": 0.5}, "pairsim train rankiqa"),
        "laplacian": _run({"rank_spearman": 0.05, "heldout_distortion_rank_spearman": 0.4}, "laplacian"),
        "untrained": _run({"rank_spearman": 0.2, "heldout_distortion_rank_spearman": 0.1}, "untrained"),
        "baseline": "untrained",
        "heldout_baseline": "laplacian",
    }
    summary = update("rankiqa", result, date="d", path=tmp_path / "s.json")
    assert (summary["rankiqa_spearman"], summary["rankiqa_baseline_spearman"]) == (0.7, 0.2)
    assert (summary["rankiqa_heldout_spearman"], summary["rankiqa_heldout_baseline_spearman"]) == (0.5, 0.4)
    assert summary["rows"]["rankiqa_heldout_baseline_spearman"]["command"] == "laplacian"


def _omniglot(reached: list[float | None]) -> dict[str, object]:
    runs = [_run({"official_accuracy": 0.93}, "pairsim train omniglot") for _ in reached]
    summary = {"official_accuracy": {"mean": 0.93}}
    return {"runs": runs, "summary": summary, "minutes_per_seed": 20.0, "minutes_to_target": reached}


def test_omniglot_minutes_to_92_is_the_mean_over_seeds_only_when_every_seed_got_there(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    summary = update("omniglot", _omniglot([6.0, 9.0, 12.0]), date="d1", path=path)
    assert summary["omniglot_minutes_to_92"] == 9.0 and summary["omniglot_official_acc"] == 0.93
    assert summary["rows"]["omniglot_minutes_to_92"]["date"] == "d1"
    summary = update("omniglot", _omniglot([6.0, None, 12.0]), date="d2", path=path)  # a rerun where seed 1 missed
    assert summary["omniglot_minutes_to_92"] is None and "omniglot_minutes_to_92" not in summary["rows"]
    assert summary["omniglot_train_minutes"] == 20.0 and summary["rows"]["omniglot_train_minutes"]["date"] == "d2"


def test_minutes_to_target_is_the_first_snapshot_at_or_above_it() -> None:
    from quality_omniglot import minutes_to

    points = [{"train_minutes": m, "official_accuracy": a} for m, a in [(2.0, 0.85), (4.0, 0.92), (6.0, 0.91)]]
    assert minutes_to(points, 0.92) == 4.0
    assert minutes_to(points, 0.95) is None


def test_issue25_result_files_fill_their_keys_with_the_mean_over_seeds(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    runs = [_run({"accuracy": acc, "f1": f1}, f"pairsim train mrpc seed {i}") for i, (acc, f1) in
            enumerate([(0.79, 0.85), (0.81, 0.87)])]  # fmt: skip
    update("mrpc_cosent", {"summary": {"accuracy": {"mean": 0.80}, "f1": {"mean": 0.86}}, "runs": runs},
           date="d", path=path)  # fmt: skip
    teacher = {"mean": 81.81, "runs": [{**_run({}, "pairsim train ce"), "seed": 0}]}
    summary = update("cross_encoder", {"teacher_spearman": teacher}, date="d", path=path)
    assert (summary["mrpc_cosent_test_acc"], summary["mrpc_cosent_test_f1"]) == (0.80, 0.86)
    assert summary["stsb_cross_encoder_spearman"] == 0.8181 and summary["stsb_distilled_spearman"] is None
    assert summary["rows"]["mrpc_cosent_test_acc"]["command"] == "pairsim train mrpc seed 0  # and 1 more seeds"
    assert summary["rows"]["mrpc_cosent_test_acc"]["wall_s"] == 240.0
    matryoshka = {"command": "quality_matryoshka.py", "wall_seconds": 60.0, "seeds": [0, 1, 2],
                  "load_average_start": [1.0, 0.5, 0.25], "load_average_end": [2.0, 1.5, 1.25],
                  "test_spearman_x100": {"matryoshka_mean": {"128": {"share_of_full": 0.991}}}}  # fmt: skip
    summary = update("matryoshka", matryoshka, date="d", path=path)
    row = summary["rows"]["matryoshka_stsb_share_128"]
    assert summary["matryoshka_stsb_share_128"] == 0.991 and row["seeds"] == [0, 1, 2]
    assert row["load"] == "load 1.00 0.50 0.25 -> load 2.00 1.50 1.25"
