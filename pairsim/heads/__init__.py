"""Heads, by registered name: ``cosine``, ``exp``, ``euclidean``, ``weighted_l1``."""

from pairsim.heads import cosine, euclidean, exp, weighted_l1  # noqa: F401  (registers the heads)
from pairsim.heads.base import HEADS, Head, HeadConfig

__all__ = ["HEADS", "Head", "HeadConfig"]
