"""Towers, by registered name: ``cnn``, ``mlp``, ``torchvision``, ``timm``, ``lstm``, ``transformer``,
``pair_tokens`` (a cross-encoder's side: token ids)."""

from pairsim.towers import (  # noqa: F401  (registers)
    cnn,
    lstm,
    mlp,
    pair_tokens,
    timm_tower,
    torchvision_tower,
    transformer,
)
from pairsim.towers.base import TOWERS, Batch, Features, Tower, TowerConfig

__all__ = ["TOWERS", "Batch", "Features", "Tower", "TowerConfig"]
