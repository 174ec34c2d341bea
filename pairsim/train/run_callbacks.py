"""The callbacks a recipe asks for: reporters (``train.report_to``), a time budget (``train.time_budget``) and,
without a progress bar, log lines (pairsim/train/progress_log.py)."""

from __future__ import annotations

from pairsim.recipe import Recipe
from pairsim.train.budget import TimeBudget
from pairsim.train.callbacks import Callback
from pairsim.train.progress_log import ProgressLog
from pairsim.train.report import build_reporters


def recipe_callbacks(recipe: Recipe, *, log_lines: bool) -> tuple[list[Callback], list[Callback]]:
    """The recipe's watchers of a run, as (called before the caller's callbacks, called after them).

    The time budget comes last, so a caller's callback (a sweep's pruner) sees a step before a budget stop.

    Args:
        recipe: The run's recipe.
        log_lines: Log progress lines (no progress bar is shown).

    Returns:
        ``(first, last)``.

    Raises:
        ConfigError: An unknown reporter, or one whose library is not installed.

    Example:
        >>> r = Recipe.from_dict({"model": {"tower": {"name": "lstm"}}, "loss": {"name": "contrastive"},
        ...                       "data": {"name": "digits"}}, overrides=["train.time_budget=5"])
        >>> [type(c).__name__ for part in recipe_callbacks(r, log_lines=True) for c in part]
        ['ProgressLog', 'TimeBudget']
    """
    first: list[Callback] = [*build_reporters(recipe.train.report_to)]
    if log_lines:
        first.append(ProgressLog())
    last: list[Callback] = [TimeBudget(recipe.train.time_budget)] if recipe.train.time_budget else []
    return first, last
