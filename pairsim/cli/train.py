"""``pairsim train RECIPE [key=value ...] [--resume | --overwrite] [--threads N]``."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_threads, threads_override


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a recipe", description="Train the model a recipe describes.")
    p.add_argument("recipe", help="recipe YAML file, e.g. recipes/digits_pairs.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=1 output_dir=runs/x")
    p.add_argument("--resume", action="store_true", help="continue from output_dir/checkpoints/last.pt")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in output_dir (only once the new run has finished; until then it is kept)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar: a log line every 30 s instead")
    add_threads(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.metrics import format_table
    from pairsim.recipe import Recipe
    from pairsim.train.trainer import Trainer

    recipe = Recipe.load(args.recipe, [*args.overrides, *threads_override(args)])
    metrics = Trainer(recipe, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress).run()
    if metrics:
        print(format_table({"test": metrics["test"]}))
        print(f"model, metrics.json, plots and log in {recipe.output_dir}")
    return 0
