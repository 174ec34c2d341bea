"""Euclidean distance head: lower is more similar, 0 for identical embeddings."""

from __future__ import annotations

import math

import torch

from pairsim.heads.base import HEADS, Head


@HEADS.register("euclidean")
class EuclideanHead(Head):
    """``||a - b||_2``, a distance: **lower** means more similar.

    Example:
        >>> head = EuclideanHead(EuclideanHead.Config(name="euclidean"))
        >>> float(head(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]])))
        5.0
    """

    higher_is_similar = False
    best = 0.0
    neutral = 1.0
    score_range = (0.0, math.inf)
    faiss_metric = "METRIC_L2"  # ranks rows as this head does (FAISS returns it squared: same order)
    st_similarity = "euclidean"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # eps inside the sqrt keeps the gradient finite for identical embeddings
        return ((a - b).pow(2).sum(dim=-1) + 1e-12).sqrt()  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cdist(a, b, p=2)  # (Ba, Bb)
