"""``pairsim eval MODEL [RECIPE] [key=value ...]`` and ``pairsim eval --untrained RECIPE [key=value ...]``.

MODEL is a saved pairsim model directory or hub id, or an off-the-shelf Hugging Face / sentence-transformers
encoder (a directory or hub id): it is evaluated as a tied ``transformer`` tower with a ``cosine`` head, its
decision threshold calibrated on the validation split, and one line on stderr says so. ``--untrained`` builds
the recipe's ``model:`` section as training would start it (pretrained backbones loaded, nothing trained). Such
frozen models are evaluated without the training split's filters (``data.drop_test_overlap``): they never see it.

A saved model keeps its stored threshold; one warning line says when it was calibrated on another validation
split than the recipe's (``threshold_data`` in its config, :mod:`pairsim.data.fingerprint`), and ``--recalibrate``
calibrates it on the recipe's validation split instead. Overrides may also follow the options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pairsim.cli.args import add_allow_unverified, add_strict_text, add_threads, threads_override
from pairsim.errors import ConfigError, DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model on a recipe's test split",
                       description="Evaluate a saved model, an off-the-shelf Hugging Face / sentence-transformers "
                                   "encoder, or (--untrained) a recipe's model as built, on a recipe's data.")  # fmt: skip
    p.add_argument("model", help="saved model directory or hub id (e.g. runs/digits/model), a Hugging Face / "
                                 "sentence-transformers encoder directory or hub id, or with --untrained the recipe")  # fmt: skip
    p.add_argument("recipe", nargs="?", help="recipe YAML; default: the recipe.yaml next to the model directory")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the recipe")
    p.add_argument("--untrained", action="store_true",
                   help="evaluate the recipe's model: section untrained (MODEL is then the recipe)")  # fmt: skip
    p.add_argument("--split", choices=["val", "test"], default="test", help="which split (default: test)")
    p.add_argument("--recalibrate", action="store_true",
                   help="calibrate a saved model's decision threshold on the recipe's validation split instead of "
                        "using the stored one (a warning says when the stored one came from other data)")  # fmt: skip
    p.add_argument("--out", help="output directory for metrics.json and plots (default: MODEL/../eval; "
                                 "--untrained or an encoder: OUTPUT_DIR/eval-untrained)")  # fmt: skip
    add_threads(p)
    add_allow_unverified(p)
    add_strict_text(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.recipe import Recipe
    from pairsim.train.threads import use_threads

    if args.untrained:  # MODEL is the recipe; what argparse took as the recipe is the first override
        args.overrides = [*([args.recipe] if args.recipe else []), *args.overrides]
        args.recipe, recipe_path = args.model, Path(args.model)
    else:
        if args.recipe and "=" in args.recipe and not Path(args.recipe).is_file():  # an override, not a recipe
            args.overrides, args.recipe = [args.recipe, *args.overrides], None
        recipe_path = Path(args.recipe) if args.recipe else Path(args.model).parent / "recipe.yaml"
    if not recipe_path.is_file():
        raise ConfigError(
            f"no recipe given and none found at {recipe_path}: pass the recipe the model was trained with"
        )
    recipe = Recipe.load(recipe_path, [*args.overrides, *threads_override(args)])
    note = recipe.renamed_note()  # an earlier run's recipe.yaml may use old key names: one line says which
    if note:
        print(note, file=sys.stderr)
    with use_threads(recipe.train.speed.threads):
        return _evaluate(args, recipe)


def _evaluate(args: argparse.Namespace, recipe: Any) -> int:
    from pairsim.data import build_source, side_inputs
    from pairsim.data.require import require_splits
    from pairsim.device import pick_device
    from pairsim.evaluate import check_evaluation, evaluate_split, save_eval_plots, save_graded_plot
    from pairsim.metrics import format_table, write_json
    from pairsim.model import PairModel

    _log_data_to_stderr()
    if args.out == "-":
        raise DataError("--out -: eval writes a folder (metrics.json and plots), not standard output; give a folder")
    device = str(pick_device(recipe.train.device, where="train.device"))
    model, frozen = (None, True) if args.untrained else _model(args, device)
    calibrate = frozen or args.recalibrate  # a model not trained on this data: its threshold comes from val
    source = build_source(_without_train_filters(recipe.data) if frozen else recipe.data)
    splits = source.load()
    require_splits(splits, recipe.data, needed=[args.split, *(["val"] if calibrate else [])])
    for name in dict.fromkeys([*(["val"] if calibrate else []), args.split]):  # settings the splits cannot meet
        check_evaluation(getattr(splits, name), recipe.eval, split=name)
    if model is None:  # --untrained: the recipe's model as training would start it
        model = PairModel.from_config(recipe.model, adapt_on=side_inputs(splits.train)).to(device)
    model.strict_text = args.strict_text  # empty / unknown-word texts in the split: a warning, or an error
    default_out = Path(args.model).parent / "eval" if not frozen else Path(recipe.output_dir) / "eval-untrained"
    out = Path(args.out) if args.out else default_out
    if out.exists() and not out.is_dir():
        from pairsim.safe_io import kind_of

        raise DataError(f"{'--out' if args.out else 'eval folder'} {out} is {kind_of(out)}; expected a folder for "
                        "metrics.json")  # fmt: skip
    if calibrate:
        val, _ = evaluate_split(model, splits.val, recipe.eval, split="val", calibrate=True)
        model.config.threshold = val.get("threshold")
    else:
        _warn_other_data(model, recipe, splits.val)
    data = splits.val if args.split == "val" else splits.test
    metrics, scored = evaluate_split(model, data, recipe.eval, split=args.split, calibrate=False, source=source)
    out.mkdir(parents=True, exist_ok=True)
    write_json(metrics, out / "metrics.json")
    plots = (
        [
            *save_eval_plots(model, scored, out, prefix=args.split),
            *save_graded_plot(model, scored, out, prefix=args.split),
        ]
        if recipe.eval.plots
        else []
    )
    print(format_table({args.split: metrics}))
    print(f"metrics in {out / 'metrics.json'}" + (f", plots in {out}" if plots else ""))
    return 0


def _without_train_filters(config: Any) -> Any:
    """The data config with the training split's filters off (a frozen model never sees that split), with one line
    on the data log (stderr, where the filters' own lines go) naming the filters that were on."""
    import logging

    off = [name for name in config.train_filters if getattr(config, name)]
    if off:
        logging.getLogger("pairsim.data").info(
            "the model is evaluated as it is (not trained on this recipe), so the training split's filters are not "
            "applied (%s)", ", ".join(f"data.{n}" for n in off),
        )  # fmt: skip
    return config.without_train_filters()


def _warn_other_data(model: Any, recipe: Any, val: Any) -> None:
    """One warning line when the model's stored threshold was calibrated on another validation split than this
    recipe's (pairsim/data/fingerprint.py); nothing when it was, or when the model records nothing."""
    from pairsim.data.fingerprint import calibration_record, same_data

    record = model.config.threshold_data
    if model.config.threshold is None or record is None or same_data(record, val):
        return
    print(
        f"pairsim: warning: the model's decision threshold ({model.config.threshold:.6g}) was calibrated on other "
        f"data ({record}) than this recipe's validation split ({calibration_record(recipe.data.name, 'val', val)}); "
        "accuracy, F1, precision and recall use it as stored: pass --recalibrate to calibrate it on this recipe's "
        "validation split",
        file=sys.stderr,
    )


def _model(args: argparse.Namespace, device: str) -> tuple[Any, bool]:
    """The saved model or off-the-shelf encoder to evaluate, and whether it is frozen (not trained by pairsim: its
    threshold is calibrated on val, and the training split's filters do not apply)."""
    from pairsim.cli.model_arg import load_model_arg

    return load_model_arg(args.model, device=device, allow_unverified=args.allow_unverified, use="evaluating")


def _log_data_to_stderr() -> None:
    """Show the data sources' lines (what a filter removed) on stderr, as training shows them in its log."""
    import logging

    logger = logging.getLogger("pairsim.data")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
