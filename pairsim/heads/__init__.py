"""Heads, by registered name: ``cosine``, ``exp``, ``euclidean``, ``weighted_l1``, ``cross_encoder``."""

from pairsim.heads import cosine, cross_encoder, euclidean, exp, weighted_l1  # noqa: F401  (registers the heads)
from pairsim.heads.base import HEADS, Head, HeadConfig

__all__ = ["HEADS", "Head", "HeadConfig"]
