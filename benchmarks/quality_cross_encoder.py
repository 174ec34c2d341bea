"""STS-B test Spearman of a MiniLM cross-encoder, and of a MiniLM bi-encoder distilled from it (issue 25).

Teacher: ``recipes/stsb_cross_encoder.yaml`` (all-MiniLM-L6-v2 read as a cross-encoder, MSE on gold / 5).
Student: ``recipes/stsb_distilled.yaml`` (the tied all-MiniLM-L6-v2 bi-encoder of ``stsb_minilm.yaml``, MSE on
the teacher's scores) trained on silver data that :func:`pairsim.train.distill.build_silver` writes: the STS-B
training pairs and pairs sampled from the training sentences (Augmented SBERT: BM25 neighbours), all labelled
by the teacher; validation and test keep their gold scores. Every run goes through the shipped recipe plus
``key=value`` overrides, as ``pairsim train RECIPE overrides...``; each finished run is appended to
``OUT/runs.jsonl`` at once and ``OUT/summary.json`` is rewritten (keys ``teacher_spearman``,
``student_spearman``: mean, std, values, x100), so a budget cut short still leaves its figures.

    PAIRSIM_DATA_DIR=../shared/data nice -n 5 python benchmarks/quality_cross_encoder.py --part teacher --seeds 0 1 2
    PAIRSIM_DATA_DIR=../shared/data nice -n 5 python benchmarks/quality_cross_encoder.py --part student --seeds 0 \
        --teacher runs/quality_ce/teacher_s0/model
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
from pathlib import Path
from typing import Any

from quality_common import REPO, run, show

TEACHER = "recipes/stsb_cross_encoder.yaml"
STUDENT = "recipes/stsb_distilled.yaml"
RESULTS = REPO / "benchmarks" / "results" / "cross_encoder.json"


def _summary(out: Path) -> dict[str, Any]:
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line.strip()]
    summary: dict[str, Any] = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    for part in ("teacher", "student"):
        values = [100 * r["test"]["spearman"] for r in runs if r["part"] == part]
        if values:
            summary[f"{part}_spearman"] = {
                "mean": round(statistics.mean(values), 2),
                "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
                "values": [round(v, 2) for v in values],
                "best_val": [r.get("best_val") for r in runs if r["part"] == part],
                "runs": [{k: r.get(k) for k in ("seed", "seconds", "steps", "best_epoch", "command", "load_start",
                                                "load_end", "epochs", "max_steps", "extra", "model")}
                         for r in runs if r["part"] == part],
            }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")  # the committed copy (runs/ is not committed)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=["teacher", "student"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs (budget)")
    parser.add_argument("--max-steps", type=int, default=None, help="override train.schedule.max_steps (budget)")
    parser.add_argument("--no-start-validation", action="store_true", help="train.validation.at_start=false")
    parser.add_argument("--out", default="runs/quality_ce")
    parser.add_argument("--teacher", default=None, help="student: the teacher's saved model directory")
    parser.add_argument("--augment", default="bm25", choices=["none", "bm25", "knn"])
    parser.add_argument("--per-text", type=int, default=2, help="student: sampled partners per training sentence")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minilm", default=None, help="all-MiniLM-L6-v2 directory (default: the recipes' path)")
    args = parser.parse_args()
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.jsonl").touch()
    common = [f"train.speed.threads={args.threads}", "eval.plots=false", "train.checkpoint.keep=false"]
    if args.epochs is not None:
        common.append(f"train.epochs={args.epochs}")
    if args.max_steps is not None:
        common.append(f"train.schedule.max_steps={args.max_steps}")
    if args.no_start_validation:
        common.append("train.validation.at_start=false")
    if args.minilm:  # a checkout whose ../shared is elsewhere (a git worktree)
        common.append(f"model.tower.model={args.minilm}")
        if args.part == "teacher":
            common.append(f"model.head.model={args.minilm}")
    extra: dict[str, Any] = {}
    if args.part == "student":
        from pairsim.train.distill import build_silver

        if not args.teacher:
            parser.error("--part student needs --teacher MODEL_DIR")
        silver = out / f"silver_{args.augment}{args.per_text}"
        extra = build_silver(args.teacher, {"name": "stsb"}, silver, augment=args.augment, per_text=args.per_text,
                             seed=0, threads=args.threads)  # fmt: skip
        extra["teacher"] = args.teacher
        common.append(f"data.path={silver / 'train.csv'}")
        common.append(f"data.val_path={silver / 'val.csv'}")
        common.append(f"data.test_path={silver / 'test.csv'}")
    for seed in args.seeds:
        overrides = [*common, f"train.seed={seed}", f"output_dir={out}/{args.part}_s{seed}"]
        result = run(TEACHER if args.part == "teacher" else STUDENT, overrides)
        result.update(part=args.part, epochs=args.epochs, max_steps=args.max_steps, extra=extra)
        result["model"] = str(out / f"{args.part}_s{seed}" / "model")  # the saved model (a student's teacher)
        show(f"{args.part} seed {seed}", result, ["spearman"], scale=100)
        with (out / "runs.jsonl").open("a") as f:
            f.write(json.dumps(result) + "\n")
        print(json.dumps(_summary(out), indent=2), flush=True)


if __name__ == "__main__":
    main()
