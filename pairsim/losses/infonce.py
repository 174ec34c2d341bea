"""In-batch contrastive loss (InfoNCE / CLIP; with hard negatives, MultipleNegativesRankingLoss) for retrieval.

Each anchor is classified among candidates: every row's positive (in-batch negatives) and, with
``negatives: n``, every row's ``n`` explicit negatives (a mined table's ``negative_1 .. negative_n`` columns, the
``hard_negatives`` sampler). False negatives are masked out of the softmax: a candidate with the row's key
(``mask_keys``: rows sharing a key are never each other's negatives, explicit negatives included) and, with a
``guide`` model, a candidate the guide scores above the positive's score minus ``guide_margin`` (GISTEmbed).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig
from pairsim.losses.guide import Guide

MAX_NEGATIVES = 1024


@dataclasses.dataclass(kw_only=True)
class InfoNCEConfig(LossConfig):
    temperature: float = bounded(0.07, gt=0)  # initial softmax temperature (CLIP)
    learn_temperature: bool = True  # learn log(1 / temperature)
    max_scale: float = bounded(100.0, gt=0)  # cap on 1 / temperature, as in CLIP
    gather: bool = True  # under torch.distributed, use every rank's batch as negatives
    negatives: int = bounded(0, ge=0, le=MAX_NEGATIVES)  # explicit negatives per row (the table's first n)
    symmetric: bool = True  # also classify each positive among the anchors (explicit negatives take no part)
    mask_keys: bool = True  # drop candidates that share the row's key (needs the keys target: negatives or guide)
    guide: str | None = None  # a saved pairsim / sentence-transformers model whose scores drop false negatives
    guide_margin: float = bounded(0.0)  # drop a candidate the guide scores above (positive's score - margin)


def _gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' rows (gradients flow back to each rank), and this rank's offset in them."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    if not x.is_floating_point():  # ids: no gradient
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts), dist.get_rank() * x.shape[0]
    from torch.distributed.nn.functional import all_gather

    parts = all_gather(x)
    return torch.cat(parts), dist.get_rank() * x.shape[0]


def _columns(x: torch.Tensor) -> torch.Tensor:
    """``(B, n)`` or ``(B, n, D)`` -> ``(n*B,)`` / ``(n*B, D)``: column 0 of every row first, then column 1, ..."""
    return x.transpose(0, 1).reshape(-1, *x.shape[2:])


@LOSSES.register("infonce")
class InfoNCELoss(Loss):
    """Cross-entropy of each ``a[i]`` against every candidate (each ``b[j]``, and each row's explicit negatives)
    where the row's own positive is the target (label 1 = similar: the diagonal); symmetric: also each ``b[i]``
    against every ``a[j]``. Logits are the head's signed scores times a learnable ``1 / temperature``; masked
    candidates (false negatives, see the module) get a logit of ``-inf``: they are absent from the loss.

    Under ``torch.distributed`` the other ranks' rows are gathered (with gradients) so the negatives are
    the whole global batch, and the result equals a single process with the same global batch.

    Rows: ``forward(a, b)`` from the ``aligned`` sampler (no explicit negatives, no guide), else
    ``forward(a, b, neg_1, ..., neg_n, keys)`` from ``hard_negatives`` with ``keys (B, 2 + n, 2)``: each slot's key
    id and item index.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        >>> loss = InfoNCELoss(InfoNCEConfig(name="infonce"), head=head)
        >>> loss(torch.eye(4), torch.eye(4)) < loss(torch.eye(4), torch.eye(4).roll(1, 0))
        tensor(True)
    """

    Config = InfoNCEConfig

    def __init__(self, config: InfoNCEConfig, *, head: Head) -> None:
        super().__init__(config, head=head)
        init = torch.tensor(math.log(1.0 / config.temperature))
        self.log_scale = nn.Parameter(init) if config.learn_temperature else nn.Buffer(init)
        self.guide: Guide | None = None  # set by prepare() from config.guide, or by hand

    @property
    def consumes(self) -> Consumes:  # type: ignore[override]
        if self.config.negatives == 0 and self.config.guide is None:
            return Consumes(("a", "b"), "none", sampler="aligned")
        return Consumes(("a", "b", *["b"] * self.config.negatives), "keys", sampler="hard_negatives")

    def prepare(self, side_inputs: dict[str, Sequence[Any]]) -> None:
        """Embed every item with the guide model (``config.guide``), once, before training."""
        if self.config.guide is not None and self.guide is None:
            self.guide = Guide.from_model(self.config.guide, side_inputs)

    def scale(self) -> torch.Tensor:
        """The logits' multiplier ``1 / temperature``, capped at ``max_scale``."""
        return self.log_scale.clamp(max=math.log(self.config.max_scale)).exp()

    def forward(self, a: torch.Tensor, b: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)``, row i of ``a`` matches row i of ``b``; then ``n`` negatives ``(B, D)``
        and, when the loss consumes them, ``keys (B, 2 + n, 2)``. Returns: scalar loss."""
        n = self.config.negatives
        if len(rest) not in (n, n + 1):
            raise ValueError(
                f"infonce with {n} negatives takes {n} negative slots and an optional keys target after a and b, "
                f"got {len(rest)} more inputs"
            )
        negatives, keys = rest[:n], (rest[n] if len(rest) > n else None)
        gather = _gather if self.config.gather else (lambda x: (x, 0))
        all_a, offset = gather(a)  # (W*B, D)
        all_b, _ = gather(b)  # (W*B, D)
        parts = [all_b] + [gather(x)[0] for x in negatives]
        candidates = torch.cat(parts)  # (C, D), C = W*B*(1 + n): every positive, then each negative column
        targets = torch.arange(a.shape[0], device=a.device) + offset  # (B,)
        scale = self.scale()
        logits_ab = scale * self.head._signed(self.head.matrix(a, candidates))  # (B, C)
        logits_ab = logits_ab.masked_fill(self._mask_ab(keys, targets, gather), float("-inf"))
        loss = F.cross_entropy(logits_ab, targets)
        if not self.config.symmetric:
            return loss
        logits_ba = scale * self.head._signed(self.head.matrix(b, all_a))  # (B, W*B)
        logits_ba = logits_ba.masked_fill(self._mask_ba(keys, targets, gather), float("-inf"))
        return (loss + F.cross_entropy(logits_ba, targets)) / 2

    def _mask_ab(self, keys: torch.Tensor | None, targets: torch.Tensor, gather: Any) -> torch.Tensor:
        """``(B, C)`` True where candidate c is a false negative of anchor i (never the positive itself)."""
        if keys is None:
            return torch.zeros(1, 1, dtype=torch.bool, device=targets.device)
        cand_keys = _columns(gather(keys[:, 1:, 0])[0])  # (C,) key of each candidate, in candidate order
        cand_ids = _columns(gather(keys[:, 1:, 1])[0])  # (C,) item index (side b) of each candidate
        mask = torch.zeros(len(targets), len(cand_keys), dtype=torch.bool, device=targets.device)  # (B, C)
        if self.config.mask_keys:
            mask |= keys[:, 1, 0][:, None] == cand_keys[None, :]
        if self.guide is not None:
            g = self.guide.scores("a", keys[:, 0, 1], "b", cand_ids)  # (B, C) the guide's anchor-candidate scores
            positive = g.gather(1, targets[:, None])  # (B, 1)
            mask |= g > positive - self.config.guide_margin
        own = torch.arange(len(cand_keys), device=targets.device)[None, :] == targets[:, None]  # (B, C)
        return mask & ~own

    def _mask_ba(self, keys: torch.Tensor | None, targets: torch.Tensor, gather: Any) -> torch.Tensor:
        """``(B, W*B)`` True where anchor j is a false negative of positive i (never row i's own anchor)."""
        if keys is None:
            return torch.zeros(1, 1, dtype=torch.bool, device=targets.device)
        anchor_keys = gather(keys[:, 0, 0])[0]  # (W*B,)
        anchor_ids = gather(keys[:, 0, 1])[0]  # (W*B,)
        mask = torch.zeros(len(targets), len(anchor_keys), dtype=torch.bool, device=targets.device)
        if self.config.mask_keys:
            mask |= keys[:, 1, 0][:, None] == anchor_keys[None, :]
        if self.guide is not None:
            g = self.guide.scores("b", keys[:, 1, 1], "a", anchor_ids)  # (B, W*B)
            mask |= g > g.gather(1, targets[:, None]) - self.config.guide_margin
        own = torch.arange(len(anchor_keys), device=targets.device)[None, :] == targets[:, None]
        return mask & ~own
