"""Losses, by registered name: ``contrastive``, ``triplet``, ``bce``, ``infonce``, ``ranking``, ``cosent``,
``prototypical``. Label 1 = similar."""

from pairsim.losses import bce, contrastive, cosent, infonce, prototypical, ranking, triplet  # noqa: F401
from pairsim.losses.base import LOSSES, Loss, LossConfig

__all__ = ["LOSSES", "Loss", "LossConfig"]
