"""The headline figures of ``quality.py``: ``benchmarks/results/summary.json`` and RESULTS.md's summary table.

``summary.json`` holds one float per key of :data:`KEYS` (accuracies and recalls as fractions in 0..1,
Spearman as a correlation in -1..1), or null where the row has not been measured; never a figure that was
not produced by a run. Next to the figures, ``rows`` gives each measured key's command, wall time, load
average, seeds and date. A rerun of one benchmark replaces only its own keys.

The table between the two markers in ``benchmarks/RESULTS.md`` is regenerated from ``summary.json``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUMMARY = REPO / "benchmarks" / "results" / "summary.json"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
START, END = "<!-- quality-summary:start -->", "<!-- quality-summary:end -->"

# key -> (what it is, the target of issue 11); the order is the table's
KEYS: dict[str, tuple[str, str]] = {
    "omniglot_official_acc": ("Omniglot 20-way 1-shot, 20 official runs, mean over seeds", ">= 0.955"),
    "omniglot_train_minutes": ("Omniglot wall minutes per seed (training + evaluation)", "<= 60"),
    "omniglot_minutes_to_92": (
        "Omniglot training minutes to the first snapshot at >= 92% on the official runs, mean over seeds",
        "report",
    ),
    "att_faces_auc_mean": ("AT&T faces ROC-AUC, mean of 5 subject-disjoint folds", ">= 0.99"),
    "att_faces_eer_mean": ("AT&T faces EER, mean of 5 folds", "<= 0.03"),
    "flickr8k_t2i_r1": ("Flickr8k text-to-image R@1, shipped recipe, mean over seeds", ">= 0.40"),
    "flickr8k_frozen_t2i_r1": ("Flickr8k t2i R@1, frozen towers + trained projections, mean over seeds", "baseline"),
    "stsb_test_spearman": ("STS-B test Spearman (cosine)", ">= 0.850"),
    "mrpc_test_acc": ("MRPC test accuracy at the val threshold", ">= 0.78"),
    "mrpc_test_f1": ("MRPC test F1 at the val threshold", ">= 0.85"),
    "fnc1_test_auc": ("FNC-1 related vs unrelated, competition test ROC-AUC", "> both baselines"),
    "fnc1_test_acc": ("FNC-1 competition test accuracy at the val threshold", "> both baselines"),
    "fnc1_tfidf_acc": ("FNC-1 TF-IDF cosine accuracy (baseline)", "baseline"),
    "fnc1_frozen_acc": ("FNC-1 frozen all-MiniLM-L6-v2 cosine accuracy (baseline)", "baseline"),
    "fnc1_tfidf_auc": ("FNC-1 TF-IDF cosine ROC-AUC (baseline)", "baseline"),
    "fnc1_frozen_auc": ("FNC-1 frozen all-MiniLM-L6-v2 cosine ROC-AUC (baseline)", "baseline"),
    "fashion_mnist_pair_acc": (
        "Fashion-MNIST pair accuracy, the seed's MLP (standard split)",
        "report",
    ),
    "fashion_mnist_cnn_pair_acc": ("Fashion-MNIST pair accuracy, CNN recipe", "above the MLP"),
    "fashion_mnist_mlp_oneshot_unseen": ("Fashion-MNIST 5-way 1-shot on unseen classes 5-9, MLP", "report"),
    "fashion_mnist_cnn_oneshot_unseen": ("Fashion-MNIST 5-way 1-shot on unseen classes 5-9, CNN", "above the MLP"),
    "rankiqa_spearman": (
        "RankIQA Spearman of the score with the distortion level, held-out images, blur + noise (pooled)",
        "> both baselines",
    ),
    "rankiqa_baseline_spearman": ("RankIQA, the stronger no-training baseline on the same split", "baseline"),
    "rankiqa_heldout_spearman": (
        "RankIQA Spearman on the held-out distortion (JPEG), held-out images",
        "> both baselines",
    ),
    "rankiqa_heldout_baseline_spearman": ("RankIQA held-out distortion, the stronger no-training baseline", "baseline"),
    # issue 25: modern training (filled by `python benchmarks/quality_summary.py --collect` from results/*.json)
    "stsb_cross_encoder_spearman": ("STS-B test Spearman, MiniLM cross-encoder, mean over seeds", ">= 0.880"),
    "stsb_distilled_spearman": ("STS-B test Spearman, MiniLM bi-encoder distilled from it, mean", ">= 0.875"),
    "mrpc_cosent_test_acc": ("MRPC test accuracy, MiniLM + CoSENT, mean over seeds", ">= 0.80"),
    "mrpc_cosent_test_f1": ("MRPC test F1, MiniLM + CoSENT, mean over seeds", ">= 0.86"),
    "mrpc_mined_test_acc": ("MRPC test accuracy, infonce on mined negatives, mean over seeds", ">= 0.80"),
    "mrpc_mined_test_f1": ("MRPC test F1, infonce on mined negatives, mean over seeds", ">= 0.86"),
    "flickr8k_mined_t2i_r1": ("Flickr8k t2i R@1, key masking + mined negatives, mean over seeds", ">= 0.45"),
    "matryoshka_stsb_share_128": ("Matryoshka STS-B test Spearman at 128 of 384 dims, share of 384", ">= 0.98"),
    "cached_infonce_peak_ratio": ("cached infonce peak memory, batch 1,024 over batch 64", "<= 1.3"),
}
# --collect: task name -> its committed result file (the task names task_figures reads)
RESULT_FILES = {"cross_encoder": "cross_encoder.json", "mrpc_cosent": "mrpc_cosent.json",
                "mined_mrpc": "mined_mrpc.json", "mined_flickr": "mined_flickr.json",
                "matryoshka": "quality_matryoshka.json", "cached_infonce": "cached_infonce_memory.json"}  # fmt: skip


def task_figures(name: str, result: dict[str, Any]) -> dict[str, tuple[float, dict[str, Any]]]:
    """The summary keys a finished task measured: ``{key: (value, its run)}``; a key it did not measure is absent,
    a figure it measured and found missing (Omniglot's minutes to 92% when a seed never got there) is None.

    Args:
        name: The task (``stsb``, ``mrpc``, ``faces``, ``flickr``, ``omniglot``, ``fnc1``, ``fashion``, ``rankiqa``;
            a task without summary keys, such as ``heads`` or ``omniglot_koch``, gives none).
        result: What the task returned (runs with ``test`` metrics, ``command``, ``seconds``, ...).
    """
    got: dict[str, tuple[float, dict[str, Any]]] = {}

    def put(key: str, run: dict[str, Any] | None, metric: str) -> None:
        if run and isinstance(run.get("test", {}).get(metric), (int, float)):
            got[key] = (float(run["test"][metric]), run)

    if name == "stsb":
        put("stsb_test_spearman", result.get("finetuned"), "spearman")
    elif name == "mrpc":
        put("mrpc_test_acc", result.get("finetuned"), "accuracy")
        put("mrpc_test_f1", result.get("finetuned"), "f1")
    elif name == "flickr":
        for variant, key in (("recipe", "flickr8k_t2i_r1"), ("frozen_towers", "flickr8k_frozen_t2i_r1")):
            cell = result.get(variant)
            if cell and "t2i_recall@1" in cell["summary"]:
                got[key] = (float(cell["summary"]["t2i_recall@1"]["mean"]), merged(cell["runs"], "seeds"))
    elif name == "fnc1":
        put("fnc1_test_auc", result.get("trained"), "roc_auc")
        put("fnc1_test_acc", result.get("trained"), "accuracy")
        put("fnc1_tfidf_acc", result.get("tfidf"), "accuracy")
        put("fnc1_frozen_acc", result.get("frozen"), "accuracy")
        put("fnc1_tfidf_auc", result.get("tfidf"), "roc_auc")
        put("fnc1_frozen_auc", result.get("frozen"), "roc_auc")
    elif name == "faces" and result.get("folds"):
        for key, metric in (("att_faces_auc_mean", "roc_auc"), ("att_faces_eer_mean", "eer")):
            if metric in result["summary"]:
                got[key] = (float(result["summary"][metric]["mean"]), merged(result["folds"], "folds"))
    elif name == "fashion":
        for arch, protocol, key, metric in (
            ("mlp", "pairs", "fashion_mnist_pair_acc", "accuracy"),
            ("cnn", "pairs", "fashion_mnist_cnn_pair_acc", "accuracy"),
            ("mlp", "unseen_classes", "fashion_mnist_mlp_oneshot_unseen", "oneshot_accuracy"),
            ("cnn", "unseen_classes", "fashion_mnist_cnn_oneshot_unseen", "oneshot_accuracy"),
        ):
            cell = result.get(arch, {}).get(protocol)
            if cell and metric in cell["summary"]:
                got[key] = (float(cell["summary"][metric]["mean"]), merged(cell["runs"], "seeds"))
    elif name == "omniglot" and result.get("runs"):
        runs = result["runs"]
        row = {**merged(runs, "seeds"), "seconds": result["minutes_per_seed"] * 60}  # per seed, like the figure
        got["omniglot_official_acc"] = (float(result["summary"]["official_accuracy"]["mean"]), row)
        got["omniglot_train_minutes"] = (float(result["minutes_per_seed"]), row)
        reached = result.get("minutes_to_target") or []
        # the mean when every seed got there; None (the figure cleared) when a seed did not or had no snapshots
        got["omniglot_minutes_to_92"] = (statistics.mean(reached) if reached and None not in reached else None, row)
    elif name == "rankiqa" and result.get("trained"):
        put("rankiqa_spearman", result["trained"], "rank_spearman")
        put("rankiqa_baseline_spearman", result[result["baseline"]], "rank_spearman")
        put("rankiqa_heldout_spearman", result["trained"], "heldout_distortion_rank_spearman")
        put("rankiqa_heldout_baseline_spearman", result[result["heldout_baseline"]], "heldout_distortion_rank_spearman")
    # omniglot_koch: the CPU-reduced Koch run is not the issue's protocol, so it fills no key
    elif name in RESULT_FILES:
        got.update(issue25_figures(name, result))
    return got


def _load_text(averages: list[float] | None) -> str:
    """A raw ``os.getloadavg()`` triple written as the other rows write it (``load 1.00 0.50 0.25``)."""
    return "?" if not averages else "load " + " ".join(f"{x:.2f}" for x in averages)


def issue25_figures(name: str, result: dict[str, Any]) -> dict[str, tuple[float, dict[str, Any]]]:
    """The issue-25 keys of one committed result file (see :data:`RESULT_FILES`), each with its summary row."""
    got: dict[str, tuple[float, dict[str, Any]]] = {}
    if name == "cross_encoder":
        for part, key in (("teacher", "stsb_cross_encoder_spearman"), ("student", "stsb_distilled_spearman")):
            if cell := result.get(f"{part}_spearman"):
                got[key] = (cell["mean"] / 100, merged(cell["runs"], "seeds"))
    elif name in ("mrpc_cosent", "mined_mrpc", "mined_flickr"):
        summary = result.get("summary") or result.get("test") or {}
        keys = {"mrpc_cosent": [("mrpc_cosent_test_acc", "accuracy"), ("mrpc_cosent_test_f1", "f1")],
                "mined_mrpc": [("mrpc_mined_test_acc", "accuracy"), ("mrpc_mined_test_f1", "f1")],
                "mined_flickr": [("flickr8k_mined_t2i_r1", "t2i_recall@1")]}[name]  # fmt: skip
        for key, metric in keys:
            if metric in summary and result.get("runs"):
                got[key] = (float(summary[metric]["mean"]), merged(result["runs"], "seeds"))
    elif name == "matryoshka" and (cell := result.get("test_spearman_x100", {}).get("matryoshka_mean", {}).get("128")):
        row = {"command": result["command"], "seconds": result["wall_seconds"], "seed": result["seeds"],
               "load_start": _load_text(result.get("load_average_start")),
               "load_end": _load_text(result.get("load_average_end"))}  # fmt: skip
        got["matryoshka_stsb_share_128"] = (float(cell["share_of_full"]), row)
    elif name == "cached_infonce" and (ratio := result.get("ratio_1024_over_64", {}).get("cached_infonce")):
        # the benchmark writes one load average, taken at its end
        row = {"command": result["command"], "seconds": result["wall_seconds"], "seed": result.get("seed"),
               "load_start": "?", "load_end": _load_text(result.get("load_average"))}  # fmt: skip
        got["cached_infonce_peak_ratio"] = (float(ratio["peak_rss"]), row)
    return got


def merged(runs: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """One summary row for a figure averaged over several runs (folds, seeds): the first command, the total
    wall time, the load at the first start and the last end, every seed."""
    return {"command": runs[0]["command"] + f"  # and {len(runs) - 1} more {what}" * (len(runs) > 1),
            "seconds": sum(r["seconds"] for r in runs), "load_start": runs[0]["load_start"],
            "load_end": runs[-1]["load_end"], "seed": [r.get("seed") for r in runs]}  # fmt: skip


def update(name: str, result: dict[str, Any], *, date: str, path: Path = SUMMARY) -> dict[str, Any]:
    """Merge one task's figures into ``summary.json`` (written) and return the whole summary."""
    summary = json.loads(path.read_text()) if path.is_file() else {}
    figures = {key: summary.get(key) for key in KEYS}
    rows = summary.get("rows", {})
    for key, (value, run) in task_figures(name, result).items():
        figures[key] = value
        if value is None:  # measured and not reached: no earlier figure may stand in for it
            rows.pop(key, None)
            continue
        rows[key] = {"task": name, "command": run["command"], "wall_s": run.get("seconds"),
                     "load": f"{run.get('load_start')} -> {run.get('load_end')}", "seeds": run.get("seed"),
                     "date": date}  # fmt: skip
    summary = {**figures, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def table(summary: dict[str, Any]) -> str:
    """The Markdown time-to-quality table of a summary (one row per key, measured or not)."""
    lines = ["| figure | value | target | wall time | load (1/5/15 min) | seeds | date | command |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, (what, target) in KEYS.items():
        value, row = summary.get(key), summary.get("rows", {}).get(key)
        if value is None or row is None:
            lines.append(f"| {what} (`{key}`) | not measured | {target} | | | | | |")
            continue
        wall = f"{row['wall_s'] / 60:.1f} min" if isinstance(row.get("wall_s"), (int, float)) else "?"
        lines.append(f"| {what} (`{key}`) | **{value:.4f}** | {target} | {wall} | {row['load']} | {row['seeds']} | "
                     f"{row['date']} | `{row['command']}` |")  # fmt: skip
    return "\n".join(lines)


def write_results(summary: dict[str, Any], path: Path = RESULTS) -> None:
    """Replace the table between the markers in RESULTS.md (appended with the markers if they are missing)."""
    text = path.read_text()
    block = f"{START}\n{table(summary)}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def collect(results: Path = SUMMARY.parent) -> dict[str, Any]:
    """Fold every committed result file of :data:`RESULT_FILES` into ``summary.json`` and RESULTS.md's table.

    Example:
        >>> # python benchmarks/quality_summary.py --collect
    """
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.is_file() else {}
    for name, file in RESULT_FILES.items():
        if (results / file).is_file():
            result = json.loads((results / file).read_text())
            summary = update(name, result, date=str(result.get("date", "?")))
    write_results(summary)
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="fold committed result files into summary.json and RESULTS.md")
    parser.add_argument("--collect", action="store_true", required=True)
    parser.parse_args()
    collect()
