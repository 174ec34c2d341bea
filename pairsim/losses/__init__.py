"""Losses, by registered name: ``contrastive``, ``triplet``, ``bce``, ``infonce``, ``ranking``, ``cosent``,
``prototypical``, ``mse``, ``listwise``, ``margin_mse``. Label 1 = similar."""

from pairsim.losses import (  # noqa: F401
    bce,
    contrastive,
    cosent,
    infonce,
    listwise,
    margin_mse,
    mse,
    prototypical,
    ranking,
    triplet,
)
from pairsim.losses.base import LOSSES, Loss, LossConfig

__all__ = ["LOSSES", "Loss", "LossConfig"]
