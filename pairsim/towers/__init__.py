"""Towers, by registered name: ``cnn``, ``mlp``, ``torchvision``, ``timm``, ``lstm``, ``transformer``."""

from pairsim.towers import cnn, lstm, mlp, timm_tower, torchvision_tower, transformer  # noqa: F401  (registers)
from pairsim.towers.base import TOWERS, Batch, Features, Tower, TowerConfig

__all__ = ["TOWERS", "Batch", "Features", "Tower", "TowerConfig"]
