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

    The time budget and the log lines come after the caller's callbacks: the budget plans the total the lines show,
    and a caller's callback (a sweep's pruner) is called first.

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
        ['TimeBudget', 'ProgressLog']
    """
    first: list[Callback] = [*build_reporters(recipe.train.report_to)]
    last: list[Callback] = [TimeBudget(recipe.train.time_budget)] if recipe.train.time_budget else []
    if log_lines:  # after the budget: a line shows the planned total
        last.append(ProgressLog())
    return first, last
