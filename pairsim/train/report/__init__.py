"""Run tracking (``train.report_to``): reporters send a run's scalars and plots to a tracking tool.

Each reporter is a :class:`~pairsim.train.callbacks.Callback` registered in :data:`REPORTERS` by short name
(``tensorboard``, ``mlflow``, ``wandb``); a recipe lists the ones it wants, and nothing is reported by default.
What is reported is what ``metrics.json`` records: each history entry's ``loss`` and ``lr`` (tags ``train/loss``,
``train/lr``) and validation metrics (``val/<metric>``) at the entry's step, the training throughput
(``train/pairs_per_s``, measured between history entries, validation pauses excluded), the test metrics
(``test/<metric>``) and, at the end, the plots as images. The tracking libraries are imported only by a run that
names them; a missing one is one line naming the extra to install.

Example:
    >>> sorted(REPORTERS.names())
    ['mlflow', 'tensorboard', 'wandb']
"""

from __future__ import annotations

from pairsim.errors import ConfigError
from pairsim.registry import Registry
from pairsim.train.report.base import Reporter
from pairsim.train.report.mlflow import MLflowReporter
from pairsim.train.report.tensorboard import TensorBoardReporter
from pairsim.train.report.wandb import WandbReporter

REPORTERS: Registry[type[Reporter]] = Registry("reporter")
REPORTERS.register("tensorboard")(TensorBoardReporter)
REPORTERS.register("mlflow")(MLflowReporter)
REPORTERS.register("wandb")(WandbReporter)


def build_reporters(names: list[str]) -> list[Reporter]:
    """The reporters a recipe names (``train.report_to``), each with its library checked.

    Args:
        names: Registered reporter names, in order.

    Returns:
        One reporter per name.

    Raises:
        ConfigError: A name is unknown (the message lists the valid ones) or its library is not installed (the
            message names the extra).
    """
    reporters = []
    for name in names:
        try:
            cls = REPORTERS.get(name)
        except ConfigError as err:
            raise ConfigError(f"train.report_to: {err}") from None
        reporters.append(cls())
    return reporters


__all__ = ["REPORTERS", "Reporter", "build_reporters"]
