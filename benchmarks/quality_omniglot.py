"""Omniglot 20-way one-shot on the 20 official within-alphabet runs, the CPU recipe (``--only omniglot``).

``recipes/omniglot_protonet.yaml`` (Conv-4 on drawings cropped to their strokes and resized to 32x32, prototypical
loss on 60-way episodes with rotated characters as extra classes, trained on the 30 background alphabets only) for each seed of
``--omniglot-seeds``, ``--omniglot-epochs`` epochs of 1,000 episodes each. Figures: the official-runs
accuracy per seed with its 95% interval over the 20 runs, the mean and spread over seeds, and the wall
minutes per seed (training and evaluation). Time to quality: the run saves a snapshot every
``--omniglot-snapshot-every`` steps (``train.checkpoint.snapshot_every``) with its training seconds (steps only, validation
and saving excluded); each snapshot is scored on the official runs afterwards and the first to reach 92%
(Koch et al.) gives the minutes to 92%. ``--omniglot-record DIR`` takes a seed's figures from a finished
``pairsim train`` run of the recipe (its own seed, read from its recipe.yaml) instead of training it again.

Anchors on this protocol: Koch et al. 2015 92.0%; prototypical networks 86.3% (Lake et al. 2019); people
95.5%; Bayesian program learning 96.7%. The Koch-faithful 105x105 recipe (``omniglot_oneshot.yaml``) is for
a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from quality_common import out, recorded, run, show, summarize

RECIPE = "recipes/omniglot_protonet.yaml"
KEYS = ["official_accuracy", "official_ci95_low", "official_ci95_high", "oneshot_accuracy"]
TARGET = 0.92  # Koch et al.'s figure on the official runs: the time-to-quality threshold


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--omniglot-seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    p.add_argument("--omniglot-epochs", type=int, default=1, help="epochs of 1,000 episodes (the recipe: 1)")
    p.add_argument(
        "--omniglot-snapshot-every",
        type=int,
        default=100,
        metavar="STEPS",
        help="steps between snapshots scored on the official runs (minutes to 92%%)",
    )
    p.add_argument("--omniglot-record", action="append", default=[], metavar="RUN_DIR",
                   help="a finished run of the recipe: its seed is taken from it, not trained again")  # fmt: skip


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Every seed; returns ``{"runs": [...], "summary": {...}, "minutes_per_seed": ...}``."""
    done = {}
    for run_dir in args.omniglot_record:
        result = recorded(run_dir)
        done[result["seed"]] = result
    runs = []
    for seed in args.omniglot_seeds:
        if seed in done:
            result = done[seed]
        else:
            epochs = (
                ["train.schedule.max_steps=2", "train.validation.at_start=false", "eval.episodes=10"]
                if args.quick
                else []
            )
            overrides = [f"train.seed={seed}", f"train.epochs={args.omniglot_epochs}", *epochs, "eval.plots=false",
                         "train.checkpoint.every=0", f"train.checkpoint.snapshot_every={args.omniglot_snapshot_every}",
                         out(args, f"omniglot_protonet_seed{seed}")]  # fmt: skip
            result = run(RECIPE, overrides)
            result["run_dir"] = out(args, f"omniglot_protonet_seed{seed}").split("=", 1)[1]
        result["curve"] = curve(Path(result.get("recorded_from") or result["run_dir"]))
        result["minutes_to_target"] = minutes_to(result["curve"], TARGET)
        show(f"Omniglot protonet seed {seed} (20 official runs)", result, KEYS)
        print(
            f"  minutes to {TARGET:.0%}: {result['minutes_to_target']}; curve "
            + ", ".join(f"{p['train_minutes']:.1f} min {p['official_accuracy']:.3f}" for p in result["curve"])
        )
        runs.append(result)
    summary = summarize(runs, KEYS)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    acc = summary["official_accuracy"]
    print(f"\n== Omniglot official runs over seeds {args.omniglot_seeds}: {acc['mean']:.4f} +- {acc['std']:.4f} "
          f"(per seed {', '.join(f'{v:.3f}' for v in acc['values'])}); {minutes:.1f} wall min per seed", flush=True)  # fmt: skip
    reached = [r["minutes_to_target"] for r in runs]
    return {"anchor": "Koch et al. 92.0%; people 95.5%", "runs": runs, "summary": summary,
            "minutes_per_seed": minutes, "epochs": args.omniglot_epochs, "minutes_to_target": reached,
            "target": TARGET}  # fmt: skip


def curve(run_dir: Path) -> list[dict[str, float]]:
    """Official-runs accuracy of each snapshot of a finished run, with its training minutes.

    Args:
        run_dir: A ``pairsim train`` output directory (relative to the working directory, like ``output_dir``).

    Returns:
        ``[{"step", "train_minutes", "official_accuracy"}, ...]`` in snapshot order; ``[]`` without snapshots.
        The runs come from the run's own data config (its ``recipe.yaml``).
    """
    from pairsim.data import build_source
    from pairsim.evaluate import episode_scores
    from pairsim.model import PairModel
    from pairsim.recipe import Recipe

    index_path = run_dir / "snapshots" / "index.json"
    if not index_path.is_file():
        return []
    recipe = Recipe.load(run_dir / "recipe.yaml")
    episodes = build_source(recipe.data).one_shot_runs()
    points = []
    for entry in json.loads(index_path.read_text()):
        model = PairModel.from_pretrained(run_dir / "snapshots" / entry["model"], device="cpu")
        accuracy = episode_scores(model, episodes, recipe.eval.batch_size)["accuracy"]
        points.append({"step": entry["step"], "train_minutes": round(entry["train_seconds"] / 60, 2),
                       "official_accuracy": accuracy})  # fmt: skip
    return points


def minutes_to(points: list[dict[str, float]], target: float) -> float | None:
    """Training minutes of the first snapshot at or above ``target``.

    One snapshot is 400 queries (1 query = 0.25 points), so a first crossing can be a lucky one: the whole curve
    is kept beside it.

    Args:
        points: :func:`curve`'s output.
        target: Accuracy to reach (0..1).

    Returns:
        The minutes, or None when no snapshot reached ``target``.
    """
    return next((p["train_minutes"] for p in points if p["official_accuracy"] >= target), None)
