"""Losses, by registered name: ``contrastive``, ``triplet``, ``bce``, ``infonce``, ``ranking``, ``cosent``. Label 1 = similar."""

from pairsim.losses import bce, contrastive, cosent, infonce, ranking, triplet  # noqa: F401  (registers the losses)
from pairsim.losses.base import LOSSES, InputKind, Loss, LossConfig

__all__ = ["LOSSES", "InputKind", "Loss", "LossConfig"]
