"""Fitters, by registered name: ``cohort`` (S-norm), ``projection`` (WCCN); see :mod:`.base`."""

from pairsim.train.fitters import cohort, projection  # noqa: F401  (registers the fitters)
from pairsim.train.fitters.base import FITTERS, Fitter, build_fitters

__all__ = ["FITTERS", "Fitter", "build_fitters"]
