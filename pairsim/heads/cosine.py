"""Cosine similarity head: higher is more similar, in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pairsim.heads.base import HEADS, Head


@HEADS.register("cosine")
class CosineHead(Head):
    """``cos(a, b)``; 1 for identical directions.

    Example:
        >>> head = CosineHead(CosineHead.Config(name="cosine"))
        >>> round(float(head(torch.ones(1, 3), torch.ones(1, 3))), 4)
        1.0
    """

    higher_is_similar = True
    best = 1.0
    neutral = 0.5

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(a, b, dim=-1, eps=1e-8)  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.normalize(a, dim=-1, eps=1e-8) @ F.normalize(b, dim=-1, eps=1e-8).T  # (Ba, Bb)
