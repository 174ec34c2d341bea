"""Fitters: parts of a model fitted from the training split in closed form, not by gradient steps.

Each fitter owns one such part (a tower's projection whitened by WCCN, a head's S-norm cohort): it says from
the recipe and the model whether it applies, checks before any work that it can run (one error naming the
setting), fits at the start of a run (also on ``--resume``) and refreshes before every validation and
snapshot, so a saved model carries what was fitted for its own weights. What it fits lives in the model's own
weights and buffers, so saving and loading need nothing of it. The trainer calls every fitter through these
three hooks and knows none by name; heads and the model know no fitter at all.

Example:
    >>> from pairsim.train.fitters import FITTERS
    >>> FITTERS.names()
    ['cohort', 'projection']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pairsim.registry import Registry

if TYPE_CHECKING:
    from pairsim.model import PairModel

FITTERS: Registry[type[Fitter]] = Registry("fitter")


class Fitter:
    """Base class of fitters; subclasses register with ``@FITTERS.register(name)``.

    Args:
        recipe: The run's recipe (a fitter reads its own settings from it).
    """

    def __init__(self, recipe: Any) -> None:
        self.recipe = recipe

    @classmethod
    def applies(cls, model: PairModel, recipe: Any) -> bool:
        """Whether this run has something for this fitter to fit."""
        raise NotImplementedError

    def check(self, model: PairModel, train: Any) -> None:
        """Raise a one-line error now, before any fitting or training, if fitting cannot succeed.

        Args:
            model: The model as built.
            train: The training split.
        """

    def fit(self, model: PairModel, train: Any) -> None:
        """Fit at the start of a run (on ``--resume`` too: caches built after it need the fitted part)."""

    def refresh(self, model: PairModel, train: Any) -> None:
        """Fit again for the model's current weights, before a validation or a snapshot."""


def build_fitters(model: PairModel, recipe: Any) -> list[Fitter]:
    """The fitters that apply to this run, in registry order, each checked against the training split later.

    Args:
        model: The model as built.
        recipe: The run's recipe.

    Returns:
        One instance of each fitter that applies.
    """
    return [FITTERS.get(name)(recipe) for name in FITTERS.names() if FITTERS.get(name).applies(model, recipe)]
