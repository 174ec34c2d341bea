"""``pairsim push MODEL REPO_ID``: upload a saved model to the Hugging Face hub with its metrics and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from pairsim.cli.args import add_allow_unverified


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "push",
        help="upload a saved model to the Hugging Face hub",
        description="Upload MODEL (a saved model directory) to the hub repository REPO_ID. For a training run's "
        "RUN/model, RUN/metrics.json and RUN/plots/*.png go into the model card unless --metrics / --plots say otherwise.",
    )
    p.add_argument("model", help="saved model directory")
    p.add_argument("repo_id", help="hub repository, user/name (created if missing)")
    p.add_argument("--metrics", help="metrics.json for the model card (default: MODEL/../metrics.json if present)")
    p.add_argument("--plots", help="folder of .png plots for the model card (default: MODEL/../plots if present)")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--token", help="hub token (default: the logged-in user's)")
    add_allow_unverified(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.errors import DataError
    from pairsim.model import PairModel
    from pairsim.push import read_metrics

    model_dir = Path(args.model)
    if not model_dir.is_dir():
        raise DataError(f"push: {model_dir} is not a saved model directory")
    metrics_file = Path(args.metrics) if args.metrics else model_dir.parent / "metrics.json"
    metrics = read_metrics(metrics_file) if args.metrics or metrics_file.is_file() else None
    plots_dir = Path(args.plots) if args.plots else model_dir.parent / "plots"
    if args.plots and not plots_dir.is_dir():
        raise DataError(f"push: --plots {plots_dir} is not a folder")
    plots = sorted(plots_dir.glob("*.png")) if plots_dir.is_dir() else []
    model = PairModel.from_pretrained(model_dir, allow_unverified=args.allow_unverified)
    url = model.push_to_hub(args.repo_id, metrics=metrics, plots=plots, private=args.private or None, token=args.token)
    print(f"pushed {model_dir} to {args.repo_id}: {url}")
    return 0
