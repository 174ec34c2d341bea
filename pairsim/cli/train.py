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
    from pairsim.track.recipe import is_tracking_recipe
    from pairsim.train.api import run_recipe

    if is_tracking_recipe(args.recipe):  # task: tracking (recipes/siamfc.yaml): a SiamFC tracker
        return _track(args)

    recipe = Recipe.load(args.recipe, [*args.overrides, *threads_override(args)])
    metrics = run_recipe(recipe, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress).metrics
    if metrics:
        print(format_table({"test": metrics["test"]}))
        print(f"model, metrics.json, plots and log in {recipe.output_dir}")
    return 0


def _track(args: argparse.Namespace) -> int:
    """Train a tracking recipe (``task: tracking``) into ``output_dir/model``."""
    from pathlib import Path

    from pairsim.errors import ConfigError
    from pairsim.track.recipe import TrackRecipe, expand
    from pairsim.track.recipe import run as run_tracking
    from pairsim.train.run_dir import setup_logging
    from pairsim.train.threads import use_threads

    if args.resume:
        raise ConfigError("--resume: a tracking recipe trains in one go (no checkpoints); run it again instead")
    recipe = TrackRecipe.load(args.recipe, args.overrides)
    out = Path(expand(recipe.output_dir))
    setup_logging(out, True)
    with use_threads(args.threads or 0):
        result = run_tracking(recipe)
    model_dir = result["model_dir"]
    print(f"model in {model_dir} (track with: pairsim track VIDEO --model {model_dir} --init x,y,w,h)")
    return 0
