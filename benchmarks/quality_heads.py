"""The seed's claim about heads, tested: cosine vs ``exp(-||a-b||_1)`` vs euclidean on the same tower and budget.

The design pairsim comes from says cosine suits word-level similarity while ``exp(-||a - b||_1)`` (MaLSTM's head)
suits sentence- and paragraph-level similarity, because exp keeps the vectors' lengths. This task trains the
same tied GloVe BiLSTM tower with the same loss (CoSENT, which only asks the head for its direction through
``head.margin``), data, steps, learning rate and seeds, changing nothing but ``model.head``, on

* STS-B (sentences, graded 0-5 gold scores): test Spearman;
* MRPC (sentences, paraphrase or not): test accuracy / F1 at the threshold calibrated on validation, ROC-AUC;
* FNC-1 headline vs body (a sentence vs a paragraph, related vs unrelated): competition test ROC-AUC and
  accuracy at the validation threshold; bodies cut to the tower's ``max_length`` words.

Every run goes through the shipped recipe plus ``key=value`` overrides (:func:`overrides`), as ``pairsim
train RECIPE overrides...``. The tower does not L2-normalise its output (``lstm`` ends in a linear
projection), so the three heads really see different geometry: on unit vectors euclidean would be a
monotone function of cosine and exp would lose the lengths the claim is about.

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/quality.py --heads --no-summary
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from quality_common import REPO, load, run, show, summarize

HEADS = ("cosine", "exp", "euclidean")
GLOVE = "../shared/models/glove/glove.6B.50d.top100k.txt.gz"
# one tower for every dataset and head: GloVe 50-d words, a BiLSTM of 64 units per direction, mean pooling,
# a linear projection to 50 dims (MaLSTM's size), no normalisation; texts cut at 100 words (FNC-1 bodies)
TOWER = (
    f"{{name: lstm, embed_dim: 50, glove: {GLOVE}, hidden_dim: 64, bidirectional: true, pooling: mean, "
    "max_length: 100, min_freq: 2, out_dim: 50}"
)
TRAIN = ["loss={name: cosent}", "train.batch_size=32", "train.lr=0.001", "train.optim.weight_decay=0", "train.schedule.warmup=0.1",
         "train.speed.threads=1", "train.checkpoint.every=0", "train.checkpoint.keep=false", "train.validation.at_start=false",
         "eval.plots=false"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One row group of the table: a shipped recipe, what changes in it besides the head, and the metrics shown."""

    recipe: str
    budget: list[str]  # epochs / steps, identical for every head
    metrics: list[str]  # test metrics reported, in the table's order
    title: str


DATASETS: dict[str, Dataset] = {
    "stsb": Dataset("recipes/stsb_minilm.yaml", ["train.epochs=6"], ["spearman"], "STS-B test"),
    "mrpc": Dataset("recipes/mrpc_minilm.yaml", ["train.epochs=6"], ["accuracy", "f1", "roc_auc"], "MRPC test"),
    # FNC-1: tied tower (the recipe's body tower and its frozen setting dropped), 4 x 100 steps of ~45k pairs
    "fnc1": Dataset(
        "recipes/fnc1_title_body.yaml",
        ["model.tower_b=null", "train.tower_b.freeze=false", "train.epochs=4", "train.schedule.steps_per_epoch=100"],
        ["roc_auc", "accuracy"],
        "FNC-1 competition test",
    ),
}
METRIC_NAMES = {"spearman": "Spearman", "accuracy": "accuracy", "f1": "F1", "roc_auc": "ROC-AUC"}


def overrides(dataset: str, head: str, seed: int, output_dir: str, *, quick: bool = False) -> list[str]:
    """The ``key=value`` overrides of one run: everything but ``model.head`` and ``train.seed`` is shared.

    Args:
        dataset: A key of :data:`DATASETS`.
        head: A registered head name.
        seed: ``train.seed`` (model init, pair order); the data split is the recipe's, the same for every run.
        output_dir: Where the run writes its model.
        quick: Two steps on 200 pairs per file (a smoke test; figures meaningless).

    Returns:
        The overrides, in the order they are applied.

    Example:
        >>> overrides("stsb", "exp", 1, "runs/x")[:2]
        ['model.tower={name: lstm, embed_dim: 50, glove: ../shared/models/glove/glove.6B.50d.top100k.txt.gz, \
hidden_dim: 64, bidirectional: true, pooling: mean, max_length: 100, min_freq: 2, out_dim: 50}', 'model.head={name: exp}']
    """
    budget = ["train.epochs=1", "train.schedule.max_steps=2", "data.limit=200"] if quick else []
    return [f"model.tower={TOWER}", f"model.head={{name: {head}}}", *TRAIN, *DATASETS[dataset].budget, *budget,
            f"train.seed={seed}", f"output_dir={output_dir}"]  # fmt: skip


def cell(mean: float, std: float) -> str:
    """``mean +- std`` x100 with one decimal, e.g. ``cell(0.8123, 0.0105) == '81.2 +- 1.1'``."""
    return f"{100 * mean:.1f} +- {100 * std:.1f}"


def table(summary: dict[str, dict[str, dict[str, dict[str, Any]]]], heads: tuple[str, ...] = HEADS) -> str:
    """The Markdown table: one row per dataset and metric, one column per head, mean +- sample std x100.

    Args:
        summary: ``{dataset: {head: {metric: {"mean", "std", "values"}}}}`` as :func:`task` returns it.
        heads: The columns.

    Returns:
        The table; the best mean of each row in bold, a missing cell as ``-``.
    """
    lines = ["| dataset, test metric (x100) | " + " | ".join(f"`{h}`" for h in heads) + " |",
             "|---" * (len(heads) + 1) + "|"]  # fmt: skip
    for name, data in DATASETS.items():
        if name not in summary:
            continue
        for metric in data.metrics:
            stats = [summary[name].get(h, {}).get(metric) for h in heads]
            best = max((s["mean"] for s in stats if s), default=None)
            cells = ["-" if s is None else (f"**{cell(s['mean'], s['std'])}**" if s["mean"] == best
                     else cell(s["mean"], s["std"])) for s in stats]  # fmt: skip
            n = max((len(s["values"]) for s in stats if s), default=0)
            lines.append(f"| {data.title} {METRIC_NAMES.get(metric, metric)} ({n} seeds) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_args(parser: argparse.ArgumentParser) -> None:
    """The ``--heads`` task's options."""
    parser.add_argument("--heads-seeds", type=int, default=3, help="heads: training seeds per cell (0, 1, ...)")
    parser.add_argument("--heads-datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS),
                        help="heads: datasets (rows) to run")  # fmt: skip
    parser.add_argument("--heads-heads", nargs="+", default=list(HEADS), help="heads: the heads (columns) compared")
    parser.add_argument("--heads-json", default="benchmarks/results/heads.json",
                        help="heads: every run's figures, rewritten after each run (not with --quick)")  # fmt: skip


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Train every (dataset, seed, head) run, in that order, and summarise each cell over seeds.

    Args:
        args: ``quick``, ``out_root`` and the options of :func:`add_args`.

    Returns:
        ``{"settings", "runs": {dataset: {head: [run, ...]}}, "summary": {dataset: {head: {metric: stats}}},
        "table", "wall_s"}``; each run is :func:`quality_common.run`'s dict.
    """
    seeds = range(1 if args.quick else args.heads_seeds)
    heads = tuple(args.heads_heads)
    res: dict[str, Any] = {
        "claim": "cosine suits word-level similarity; exp(-||a-b||_1) suits sentence- and paragraph-level "
        "similarity because it keeps the vectors' lengths",
        "settings": {
            "tower": TOWER,
            "shared": TRAIN,
            "budget": {k: d.budget for k, d in DATASETS.items()},
            "seeds": list(seeds),
            "heads": list(heads),
            "load_start": load(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        },
        "runs": {},
        "summary": {},
    }
    json_path = None if args.quick else REPO / args.heads_json
    t0 = time.perf_counter()
    for name in args.heads_datasets:
        data = DATASETS[name]
        runs: dict[str, list[dict[str, Any]]] = res["runs"].setdefault(name, {h: [] for h in heads})
        for seed in seeds:
            for head in heads:
                out_dir = Path(args.out_root) / "heads" / f"{name}_{head}_seed{seed}"
                result = run(data.recipe, overrides(name, head, seed, str(out_dir), quick=args.quick))
                show(f"heads: {data.title}, {head}, seed {seed} (x100)", result, data.metrics, 100)
                runs[head].append(result)
                res["summary"][name] = {h: summarize(r, data.metrics) for h, r in runs.items() if r}
                res["wall_s"] = round(time.perf_counter() - t0, 1)
                if json_path is not None:  # after every run, so an interrupted sweep keeps what it measured
                    json_path.parent.mkdir(parents=True, exist_ok=True)
                    json_path.write_text(json.dumps(res, indent=1, default=str) + "\n")
    res["settings"]["load_end"] = load()
    res["table"] = table(res["summary"], heads)
    print(f"\n== heads: the seed's claim tested ({res['wall_s'] / 60:.1f} min)\n{res['table']}", flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps(res, indent=1, default=str) + "\n")
    return res
