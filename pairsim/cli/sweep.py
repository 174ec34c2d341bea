"""``pairsim sweep RECIPE --budget 60m [key=value ...] [--try key=v1,v2 ...] [--trials N] [--seeds K] [--resume]``."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_threads, threads_override


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="try variants of a recipe under one time budget (Optuna), choose on validation",
        description="Train variants of a recipe (its sweep: section and/or --try) under one total time budget with "
        "Optuna's samplers and pruners; each trial is an ordinary run in OUTPUT_DIR/trials/NNN. The best trial on "
        "validation (mean over seeds where validation is small) is the only one evaluated on test; OUTPUT_DIR gets "
        "sweep.md, sweep.json and sweep.png.",
    )
    p.add_argument("recipe", help="recipe YAML file, e.g. recipes/digits_pairs.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides of every trial, e.g. output_dir=runs/sweep1")
    p.add_argument("--budget", help="total wall time: 60m, 1.5h, 900s (a bare number: minutes); default sweep.budget")
    p.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="choices of one dotted recipe key (YAML values, commas inside [] or {} kept), e.g. "
        "--try train.fit.projection=none,wccn; repeat for more keys; adds to the recipe's sweep.space",
    )
    p.add_argument("--trials", type=int, default=None, help="at most this many trials (default: as the budget allows)")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="training seeds per trial (default: 3 where validation has < 200 pairs or < 10 classes, else 1)",
    )
    p.add_argument("--resume", action="store_true", help="continue the sweep in output_dir (finished trials kept)")
    p.add_argument("--progress", action="store_true", help="progress bars in the trials")
    add_threads(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.train.sweep.runner import run_sweep

    summary = run_sweep(
        args.recipe,
        [*args.overrides, *threads_override(args)],
        tries=args.tries,
        budget=args.budget,
        trials=args.trials,
        seeds=args.seeds,
        resume=args.resume,
        progress=args.progress,
    )
    winner = summary["winner"]
    params = ", ".join(f"{k}={v}" for k, v in winner["params"].items())
    test = ", ".join(f"{k}={v['mean']:.4f}" for k, v in winner["test"].items() if v["mean"] is not None)
    print(f"chosen: trial {winner['trial']:03d} ({params}); test {test}")
    print(f"table in {summary['output_dir']}/sweep.md, figure in {summary['output_dir']}/sweep.png")
    return 0
