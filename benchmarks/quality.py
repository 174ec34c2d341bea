"""Quality of pairsim's recipes on real data, next to published anchors. ``--only NAME`` / ``--all`` pick the runs.

Every run goes through :class:`pairsim.train.trainer.Trainer` with a recipe from ``recipes/`` and
``key=value`` overrides, exactly as ``pairsim train RECIPE overrides...`` does; each figure is printed with
that command. ``--quick`` shrinks every run to a smoke test (its figures mean nothing and are never written
to the summary). After each benchmark its headline figures go to ``benchmarks/results/summary.json`` and
the summary table of ``benchmarks/RESULTS.md`` (see ``quality_summary.py``); ``--json`` keeps every metric.

* ``stsb``: STS-B test Spearman x100 of all-MiniLM-L6-v2 frozen (evaluated as downloaded, see
  :func:`evaluate_untrained`) and fine-tuned with the recipe (anchor: 82.03 frozen). ``--record
  stsb=RUN_DIR`` takes the fine-tuned figures from a finished ``pairsim train`` run instead.
* ``mrpc``: MRPC test accuracy / F1 (threshold calibrated on the validation split) frozen and fine-tuned.
* ``faces``: AT&T faces with ``--face-recipe`` (default the fine-tuned EfficientNet-Lite0 recipe),
  subject-disjoint folds (``--face-folds`` folds of 40 / folds test subjects, as
  many validation subjects, the rest for training; the validation split needs n_way subjects too):
  verification ROC-AUC, EER, accuracy at the threshold calibrated on validation subjects, 1-shot
  identification accuracy among all held-out subjects (n_way = test subjects, 1 support image each);
  mean +- sample std over folds.
* ``flickr``: Flickr8k held-out images, Recall@1/5/10 both ways, the shipped recipe against frozen towers
  with trained projections, over seeds: see ``quality_flickr.py``.
* ``omniglot``: the CPU recipe (prototypical Conv-4) on the 20 official runs over seeds: see
  ``quality_omniglot.py``.
* ``omniglot_koch``: a CPU-sized reduction of the Koch et al. recipe (narrower, smaller images, far fewer
  steps; noted as such): the 20 official within-alphabet 20-way runs (Koch et al.'s protocol) and random
  20-way episodes drawn across the evaluation alphabets (``eval.within_group=false``: the recipe's
  within-alphabet episodes cannot be drawn on its validation split, which holds at most 8 characters of
  any background alphabet, so the recipe as shipped stops at its first validation).
* ``fnc1``: FNC-1 related vs unrelated on the competition test set: the recipe (``fnc1_title_body``) and the
  two no-training baselines it must beat, TF-IDF cosine (scikit-learn) and frozen all-MiniLM-L6-v2 cosine,
  every threshold calibrated on the validation bodies.
* ``rankiqa``: image quality ranking, the ``rankiqa`` recipe against the untrained tower and the variance of the
  Laplacian, on held-out images and a held-out distortion (``quality_rankiqa.py``).
* ``quora``: prints the command of the full run (Quora Question Pairs is not available offline).
* ``heads``: the seed's claim about heads tested: ``cosine`` vs ``exp`` vs ``euclidean`` with the same tower, loss,
  data and budget on STS-B, MRPC and FNC-1, 3 seeds each (``quality_heads.py``; ``--heads-*`` options).

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/quality.py --only stsb --only mrpc --json benchmarks/results/quality.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import quality_fashion
import quality_flickr
import quality_heads
import quality_omniglot
import quality_rankiqa
import quality_summary
from quality_baselines import tfidf_cosine  # (benchmarks/, beside this file)
from quality_common import REPO, evaluate_untrained, load, out, recorded, run, show, summarize

from pairsim.recipe import Recipe

ANCHORS = {
    "stsb": "all-MiniLM-L6-v2 frozen: 82.03 Spearman x100 on STS-B test (sentence-transformers model card / MTEB)",
    "mrpc": "no anchor for this model; frozen vs fine-tuned shown side by side",
    "faces": "no published anchor for this protocol (the tutorial reports no test figure)",
    "omniglot": "Koch et al. 2015: 92.0% 20-way one-shot (official runs); Prototypical Networks: 96.0%",
    "fnc1": "no published ROC-AUC for related vs unrelated; the two no-training baselines are the comparison",
    "quora": "MaLSTM (Mueller & Thyagarajan 2016): about 82% accuracy on Quora Question Pairs",
}


# -- tasks --------------------------------------------------------------------------------------------------------
def stsb(args: argparse.Namespace) -> dict[str, Any]:
    common = ["eval.plots=false"] + (["data.limit=200"] if args.quick else [])
    res = {"anchor": ANCHORS["stsb"]}
    res["frozen"] = evaluate_untrained("recipes/stsb_minilm.yaml", common)
    show("STS-B frozen all-MiniLM-L6-v2 (Spearman x100)", res["frozen"], ["spearman", "pearson"], 100)
    epochs = [f"train.epochs={args.stsb_epochs}"] if args.stsb_epochs else []  # default: the recipe's
    tune = [*epochs, out(args, "stsb_finetuned"), "train.checkpoint.every=0", *common]
    rec = args.record.get("stsb")
    res["finetuned"] = recorded(rec) if rec else run("recipes/stsb_minilm.yaml", tune)
    show(
        f"STS-B fine-tuned {args.stsb_epochs or 'the recipe'} epoch(s) (Spearman x100)",
        res["finetuned"],
        ["spearman", "pearson"],
        100,
    )
    return res


def mrpc(args: argparse.Namespace) -> dict[str, Any]:
    common = ["eval.plots=false"] + (["data.limit=200"] if args.quick else [])
    res = {"anchor": ANCHORS["mrpc"]}
    res["frozen"] = evaluate_untrained("recipes/mrpc_minilm.yaml", common)
    show("MRPC frozen (accuracy, F1 x100)", res["frozen"], ["accuracy", "f1", "roc_auc"], 100)
    epochs = [f"train.epochs={args.mrpc_epochs}"] if args.mrpc_epochs else []  # default: the recipe's
    tune = [*epochs, out(args, "mrpc_finetuned"), "train.checkpoint.every=0", *common]
    rec = args.record.get("mrpc")
    res["finetuned"] = recorded(rec) if rec else run("recipes/mrpc_minilm.yaml", tune)
    show(
        f"MRPC fine-tuned {args.mrpc_epochs or 'the recipe'} epoch(s) (accuracy, F1 x100)",
        res["finetuned"],
        ["accuracy", "f1", "roc_auc"],
        100,
    )
    return res


def faces(args: argparse.Namespace) -> dict[str, Any]:
    subjects = [f"s{i}" for i in range(1, 41)]
    per = len(subjects) // args.face_folds
    folds = []
    for k in range(args.face_folds):
        test = subjects[k * per : (k + 1) * per]
        overrides = [
            f"data.test_subjects=[{','.join(test)}]", f"data.val_count={per}", f"data.seed={k}",
            "train.checkpoint.every=0", f"eval.n_way={len(test)}", "eval.within_group=false",
            f"eval.episodes={20 if args.quick else 400}", f"eval.pairs={100 if args.quick else 2000}", "eval.plots=false",
            out(args, f"{Path(args.face_recipe).stem}_fold{k}"),
        ]  # fmt: skip
        if args.quick:
            overrides += ["train.schedule.max_steps=2", "train.validation.at_start=false", "train.epochs=1"]
        elif args.face_epochs:
            overrides.append(f"train.epochs={args.face_epochs}")
        result = run(args.face_recipe, overrides)
        result["test_subjects"] = test
        show(f"AT&T faces fold {k} (test {test[0]}..{test[-1]})", result,
             ["roc_auc", "eer", "accuracy", "oneshot_accuracy"])  # fmt: skip
        folds.append(result)
    keys = ["roc_auc", "eer", "accuracy", "oneshot_accuracy"]
    summary = summarize(folds, keys)
    print(f"\n== AT&T faces, {args.face_folds} subject-disjoint folds of {per} test subjects (mean +- sample std): "
          + ", ".join(f"{k}={v['mean']:.4f}+-{v['std']:.4f}" for k, v in summary.items()), flush=True)  # fmt: skip
    return {"anchor": ANCHORS["faces"], "folds": folds, "summary": summary}


def omniglot_koch(args: argparse.Namespace) -> dict[str, Any]:
    reduced = [
        f"model.tower.width={args.koch_width}", f"model.tower.image_size=[{args.koch_size},{args.koch_size}]",
        f"model.tower.out_dim={args.koch_out_dim}", "train.batch_size=64",
        f"train.epochs={1 if args.quick else args.koch_epochs}",
        f"train.schedule.steps_per_epoch={3 if args.quick else args.koch_steps}", "train.checkpoint.every=0",
        f"eval.episodes={10 if args.quick else 200}", f"eval.pairs={100 if args.quick else 1000}", "eval.plots=false",
        "eval.within_group=false",  # the val split holds <= 8 characters per alphabet: no 20-way within-alphabet episode
        out(args, "omniglot_reduced"),
    ]  # fmt: skip
    res = {"anchor": ANCHORS["omniglot"], "note": "CPU-reduced run, not the paper's schedule or network size",
           "full_command": "PAIRSIM_DATA_DIR=../shared/data pairsim train recipes/omniglot_oneshot.yaml  # on a GPU"}  # fmt: skip
    res["reduced"] = run("recipes/omniglot_oneshot.yaml", reduced)
    show("Omniglot CPU-reduced (20-way one-shot)", res["reduced"],
         ["official_accuracy", "oneshot_accuracy", "roc_auc"])  # fmt: skip
    print(f"   full run (GPU): {res['full_command']}", flush=True)
    return res


def fnc1(args: argparse.Namespace) -> dict[str, Any]:
    """FNC-1 related vs unrelated on the competition test set, no training: TF-IDF cosine and frozen MiniLM
    cosine, each with the threshold calibrated on the validation bodies (the recipe's split)."""
    from pairsim.data import load_dataset

    limit = ["data.limit=400"] if args.quick else []
    r = Recipe.load(REPO / "recipes/fnc1_title_body.yaml", limit)
    start_load, t0 = load(), time.perf_counter()
    splits = load_dataset(r.data)
    res: dict[str, Any] = {"anchor": ANCHORS["fnc1"]}
    res["tfidf"] = tfidf_cosine(splits)
    res["tfidf"].update(seconds=round(time.perf_counter() - t0, 1), seed=r.data.seed, load_start=start_load,
                        load_end=load(), command="python benchmarks/quality.py --only fnc1  # tfidf_cosine()")  # fmt: skip
    show("FNC-1 TF-IDF cosine (no training)", res["tfidf"], ["roc_auc", "accuracy", "f1"])
    # the tied all-MiniLM-L6-v2 as downloaded (256 tokens of each body), scored with its cosine
    frozen = ["model.tower_b=null", "model.tower.max_length=0", "model.tower.out_dim=0", "model.head={name: cosine}",
              "loss={name: contrastive}", "eval.plots=false", *limit]  # fmt: skip
    res["frozen"] = evaluate_untrained("recipes/fnc1_title_body.yaml", frozen)
    res["frozen"]["seed"] = r.data.seed
    show("FNC-1 frozen all-MiniLM-L6-v2 cosine (no training)", res["frozen"], ["roc_auc", "accuracy", "f1"])
    if not args.fnc1_baselines_only:
        quick = ["train.schedule.max_steps=2", "train.validation.at_start=false"] if args.quick else []
        trained = [*limit, *quick, "eval.plots=false", "train.checkpoint.every=0", out(args, "fnc1_title_body")]
        res["trained"] = run("recipes/fnc1_title_body.yaml", trained)
        show(
            "FNC-1 the recipe (headline tower tuned, body tower locked)", res["trained"], ["roc_auc", "accuracy", "f1"]
        )
    return res


def quora(args: argparse.Namespace) -> dict[str, Any]:
    cmd = ("PAIRSIM_DATA_DIR=~/data pairsim train recipes/quora_pairs.yaml data.download=true "
           "output_dir=runs/quora_pairs  # needs network: fetches quora_duplicate_questions.tsv")  # fmt: skip
    print(
        f"\n== Quora Question Pairs: not run (no offline copy of the data). Anchor: {ANCHORS['quora']}\n   command: {cmd}"
    )
    return {"anchor": ANCHORS["quora"], "command": cmd, "note": "not run: the data is not available offline"}


TASKS = {
    "stsb": stsb,
    "mrpc": mrpc,
    "faces": faces,
    "flickr": quality_flickr.task,
    "omniglot": quality_omniglot.task,
    "omniglot_koch": omniglot_koch,
    "fnc1": fnc1,
    "quora": quora,
    "fashion": quality_fashion.task,
    "heads": quality_heads.task,
    "rankiqa": quality_rankiqa.task,
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in TASKS:
        p.add_argument(f"--{name}", action="store_true", help=f"run the {name} benchmark")
    p.add_argument("--all", action="store_true", help="every benchmark")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        choices=list(TASKS),
        metavar="NAME",
        help=f"run this benchmark (repeatable): {', '.join(TASKS)}",
    )
    p.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="NAME=RUN_DIR",
        help="stsb / mrpc: take the fine-tuned figures from a finished `pairsim train` run of the recipe "
        "in RUN_DIR instead of training again",
    )
    p.add_argument(
        "--no-summary",
        action="store_true",
        help="leave benchmarks/results/summary.json and RESULTS.md's summary table alone",
    )
    p.add_argument("--quick", action="store_true", help="smoke-test sizes (figures meaningless)")
    p.add_argument("--out-root", default="runs/bench", help="output_dir of each run goes under this")
    p.add_argument("--json", help="merge results into this JSON file")
    p.add_argument("--stsb-epochs", type=int, default=0, help="0: the recipe's (2)")
    p.add_argument("--mrpc-epochs", type=int, default=0, help="0: the recipe's (3)")
    p.add_argument("--face-folds", type=int, default=5, help="folds of 40 / folds test subjects (as many for val)")
    p.add_argument("--face-recipe", default="recipes/att_faces_efficientnet.yaml",
                   help="recipes/att_faces.yaml: the tutorial's small CNN (its full schedule is ~1 h per fold on 2 cores)")  # fmt: skip
    p.add_argument("--face-epochs", type=int, default=0, help="0: the recipe's")
    p.add_argument("--fnc1-baselines-only", action="store_true", help="fnc1: only the two no-training baselines")
    p.add_argument("--koch-width", type=float, default=0.25, help="omniglot_koch: the reduced Koch net's width")
    p.add_argument("--koch-size", type=int, default=72)
    p.add_argument("--koch-out-dim", type=int, default=1024)
    p.add_argument("--koch-epochs", type=int, default=6, help="the recipe: 50 (x 500 steps of 128 pairs)")
    p.add_argument("--koch-steps", type=int, default=200)
    quality_fashion.add_args(p)
    quality_flickr.add_args(p)
    quality_omniglot.add_args(p)
    quality_heads.add_args(p)
    quality_rankiqa.add_args(p)
    args = p.parse_args()
    chosen = [n for n in TASKS if args.all or getattr(args, n) or n in args.only]
    if not chosen:
        p.error(f"pick at least one benchmark (--only NAME, NAME one of {', '.join(TASKS)}) or --all")
    try:
        args.record = dict(item.split("=", 1) for item in args.record)
    except ValueError:
        p.error("--record: expected NAME=RUN_DIR, e.g. --record stsb=runs/stsb_minilm")
    for name, run_dir in args.record.items():
        if name not in ("stsb", "mrpc") or not (Path(run_dir) / "metrics.json").is_file():
            p.error(f"--record {name}={run_dir}: expected stsb or mrpc and a finished run directory (metrics.json)")
    results: dict[str, Any] = {}
    if args.json and Path(args.json).is_file():
        results = json.loads(Path(args.json).read_text())
    for name in chosen:
        print(f"\n#### {name} ({time.strftime('%Y-%m-%d %H:%M:%S')}, {load()})", flush=True)
        result = TASKS[name](args)
        result["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime())
        result["invocation"] = " ".join(["python", *sys.argv])
        if not (args.quick or args.no_summary):  # smoke-test figures never reach the summary
            quality_summary.write_results(quality_summary.update(name, result, date=result["date"]))
        key = name + ("_quick" if args.quick else "")
        results[key] = {**results.get(key, {}), **result}  # a partial rerun (one variant) keeps the others
        if args.json:  # after each task, so a later failure keeps the earlier figures
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
