"""``pairsim eval MODEL_DIR [RECIPE] [key=value ...]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pairsim.errors import ConfigError, DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a saved model on a recipe's test split",
                       description="Evaluate a saved model on the test split of a recipe's data.")  # fmt: skip
    p.add_argument("model", help="saved model directory (e.g. runs/digits/model)")
    p.add_argument("recipe", nargs="?", help="recipe YAML; default: the recipe.yaml next to the model directory")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the recipe")
    p.add_argument("--split", choices=["val", "test"], default="test", help="which split (default: test)")
    p.add_argument("--out", help="output directory for metrics.json and plots (default: MODEL/../eval)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.data import build_source
    from pairsim.data.require import require_splits
    from pairsim.evaluate import evaluate_split, save_eval_plots
    from pairsim.metrics import format_table, write_json
    from pairsim.model import PairModel
    from pairsim.recipe import Recipe
    from pairsim.train.distributed import pick_device

    model_dir = Path(args.model)
    if args.recipe and "=" in args.recipe and not Path(args.recipe).is_file():  # an override, not a recipe
        args.overrides, args.recipe = [args.recipe, *args.overrides], None
    recipe_path = Path(args.recipe) if args.recipe else model_dir.parent / "recipe.yaml"
    if not recipe_path.is_file():
        raise ConfigError(
            f"no recipe given and none found at {recipe_path}: pass the recipe the model was trained with"
        )
    recipe = Recipe.load(recipe_path, args.overrides)
    out = Path(args.out) if args.out else model_dir.parent / "eval"
    if out.exists() and not out.is_dir():
        raise DataError(f"{'--out' if args.out else 'eval folder'} {out} is a file; expected a folder for metrics.json")
    model = PairModel.from_pretrained(model_dir, device=str(pick_device(recipe.train.device, where="train.device")))
    source = build_source(recipe.data)
    splits = source.load()
    data = splits.val if args.split == "val" else splits.test
    require_splits(splits, recipe.data, needed=[args.split])
    metrics, scored = evaluate_split(model, data, recipe.eval, split=args.split, calibrate=False, source=source)
    out.mkdir(parents=True, exist_ok=True)
    write_json(metrics, out / "metrics.json")
    plots = save_eval_plots(model, scored, out, prefix=args.split) if recipe.eval.plots else []
    print(format_table({args.split: metrics}))
    print(f"metrics in {out / 'metrics.json'}" + (f", plots in {out}" if plots else ""))
    return 0
