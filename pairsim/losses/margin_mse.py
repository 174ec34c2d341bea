"""MarginMSE (Hofstaetter et al. 2020): a student's score margin between a positive and a negative matches a
teacher's margin; the distillation loss of sentence-transformers' ``MarginMSELoss``."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pairsim.data.samplers import Consumes
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class MarginMSEConfig(LossConfig):
    pass


@LOSSES.register("margin_mse")
class MarginMSELoss(Loss):
    """``mean(((s(q, p) - s(q, n)) - m) ** 2)`` with ``m`` the teacher's margin ``t(q, p) - t(q, n)``.

    Rows are (query, positive, negative) with the teacher's margin as the target
    (:func:`pairsim.train.distill.teacher_margins` computes it); the student's margin comes from the head in its
    own direction (:meth:`Head.margin`), so a distance head learns the same order. In a recipe the default
    ``margins`` sampler reads them from a ``negatives_table`` with ``margin: <column>``
    (:func:`pairsim.train.distill.write_margins` writes such a table from a mined one and a teacher).

    Example:
        >>> from pairsim.heads import HEADS
        >>> loss = MarginMSELoss(MarginMSEConfig(name="margin_mse"), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> q = torch.tensor([[1.0, 0.0]]); p = torch.tensor([[1.0, 0.0]]); n = torch.tensor([[0.0, 1.0]])
        >>> float(loss(q, p, n, torch.tensor([0.5])))  # (1 - 0 - 0.5) ** 2
        0.25
    """

    Config = MarginMSEConfig
    reads = "scores"
    consumes = Consumes(("a", "b", "b"), "graded", sampler="margins")

    def forward(self, q: torch.Tensor, p: torch.Tensor, n: torch.Tensor, margins: torch.Tensor) -> torch.Tensor:
        """Args: ``q, p, n``: ``(B, D)``; ``margins``: ``(B,)`` the teacher's ``t(q, p) - t(q, n)``."""
        student = self.head.margin(self.head(q, p), self.head(q, n))  # (B,)
        return F.mse_loss(student, margins.to(student.dtype))
