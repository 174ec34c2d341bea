"""Manhattan head of MaLSTM (Mueller & Thyagarajan 2016): ``exp(-||a - b||_1)`` in (0, 1]."""

from __future__ import annotations

import torch

from pairsim.heads.base import HEADS, Head


@HEADS.register("exp")
class ExpHead(Head):
    """``exp(-||a - b||_1)``: 1 for identical embeddings, towards 0 as they move apart; higher is similar.

    The score is already a probability-like value, so binary cross-entropy can use it directly.

    Example:
        >>> head = ExpHead(ExpHead.Config(name="exp"))
        >>> float(head(torch.zeros(1, 2), torch.ones(1, 2)))  # exp(-2)
        0.1353352814912796
    """

    higher_is_similar = True
    best = 1.0
    neutral = 0.5
    score_range = (0.0, 1.0)  # exp(-d) for d >= 0; 0 once exp underflows
    faiss_metric = "METRIC_L1"  # ranks rows as exp(-L1) does (reversed: FAISS gives the distance)
    st_similarity = "manhattan"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(a - b).abs().sum(dim=-1))  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(a, b, p=1))  # (Ba, Bb)

    @property
    def gives_probability(self) -> bool:
        return True

    def logit(self, scores: torch.Tensor) -> torch.Tensor:
        if self.config.calibrated:
            return super().logit(scores)
        p = scores.clamp(1e-6, 1 - 1e-6)
        return torch.log(p) - torch.log1p(-p)  # logit of the score itself
