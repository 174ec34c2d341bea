"""Losses, by registered name: ``contrastive``, ``triplet``, ``bce``, ``infonce``, ``cached_infonce``, ``ranking``,
``cosent``, ``prototypical``, ``mse``, ``listwise``, ``margin_mse``, ``matryoshka`` (a wrapper over embedding
sizes). Label 1 = similar."""

from pairsim.losses import (  # noqa: F401
    bce,
    cached_infonce,
    contrastive,
    cosent,
    infonce,
    listwise,
    margin_mse,
    matryoshka,
    mse,
    prototypical,
    ranking,
    triplet,
)
from pairsim.losses.base import LOSSES, Loss, LossConfig

__all__ = ["LOSSES", "Loss", "LossConfig"]
