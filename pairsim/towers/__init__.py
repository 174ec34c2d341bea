"""Towers, by registered name: ``cnn``, ``torchvision``, ``timm``, ``lstm``, ``transformer``."""

from pairsim.towers import cnn, lstm, timm_tower, torchvision_tower, transformer  # noqa: F401  (registers)
from pairsim.towers.base import TOWERS, Batch, Features, Tower, TowerConfig

__all__ = ["TOWERS", "Batch", "Features", "Tower", "TowerConfig"]
