"""Cosine similarity head: higher is more similar, in [-1, 1]; optionally normalised against a cohort (S-norm)."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from pairsim.config import MAX_COUNT, bounded
from pairsim.errors import ConfigError
from pairsim.heads.base import HEADS, Head, HeadConfig


@dataclasses.dataclass(kw_only=True)
class CosineConfig(HeadConfig):
    # symmetric score normalisation (S-norm) against the embeddings of up to this many training items (the
    # cohort, stored with the model; training fills it): a pair's cosine is measured in standard deviations above
    # each side's mean cosine to the cohort, which removes per-input offsets (faces that match everyone); 0: off
    cohort: int = bounded(0, ge=0, le=MAX_COUNT)

    def check(self) -> None:
        if self.cohort == 1:
            raise ConfigError("head.cohort: expected 0 (off) or at least 2 embeddings (a spread needs two), got 1")
        if self.cohort and self.calibrated:
            raise ConfigError(
                "head.cohort: S-norm scores are not cosines, so calibrated: true (fitted on cosines) cannot be used "
                "with a cohort; set one of them off"
            )


@HEADS.register("cosine")
class CosineHead(Head):
    """``cos(a, b)``; 1 for identical directions.

    With ``cohort: K`` and a stored cohort ``C`` (:meth:`set_cohort`), scores in eval mode are S-norm
    (Auckenthaler et al. 2000; symmetric form as in speaker verification back-ends)::

        s'(a, b) = ((s - mean_C(a)) / std_C(a) + (s - mean_C(b)) / std_C(b)) / 2,   s = cos(a, b)

    where ``mean_C(x)``, ``std_C(x)`` are over the cosines of ``x`` to the cohort. Still higher is more similar,
    but no longer within [-1, 1] (:attr:`best` stays the plain cosine's 1). Training losses (train mode) see plain
    cosines; so does a head whose cohort is still empty (all zeros).

    Example:
        >>> head = CosineHead(CosineConfig(name="cosine"))
        >>> round(float(head(torch.ones(1, 3), torch.ones(1, 3))), 4)
        1.0
    """

    Config = CosineConfig
    higher_is_similar = True
    best = 1.0
    neutral = 0.5
    score_range = (-1.0, 1.0)
    faiss_metric = "METRIC_INNER_PRODUCT"  # ranks rows as this head does (after L2 normalisation)
    faiss_normalize = True
    st_similarity = "cosine"

    def __init__(self, config: CosineConfig) -> None:
        super().__init__(config)
        if config.cohort:  # only then: models without a cohort keep their saved keys
            self.cohort_embeddings = torch.nn.Buffer(torch.zeros(config.cohort, 0))  # (K, D): sized by bind()

    def beyond_embeddings(self) -> str | None:
        """S-norm shifts each row's scores by that row's own cohort statistics: no plain vector metric does."""
        return "an S-norm cohort" if self.config.cohort else None

    def threshold_range(self) -> tuple[float, float]:
        """[-1, 1]; with a cohort, S-norm scores are unbounded (standard deviations), and so is the threshold."""
        return (-math.inf, math.inf) if self.config.cohort else self.score_range

    def bind(self, dim: int, *, tied: bool = True) -> None:
        """Size the cohort for embeddings of ``dim`` (zeros: not set yet).

        Args:
            dim: The towers' embedding size.
            tied: Whether one tower encodes both sides.

        Raises:
            ConfigError: A cohort with two towers (it holds one tower's embeddings).
        """
        if self.config.cohort and not tied:
            raise ConfigError("head.cohort: score normalisation needs a tied model (one tower); remove model.tower_b")
        if self.config.cohort:
            self.cohort_embeddings = torch.nn.Buffer(torch.zeros(self.config.cohort, dim))  # (K, D), zeros: not set

    def set_cohort(self, embeddings: torch.Tensor) -> None:
        """Store the cohort (its rows are normalised here).

        Args:
            embeddings: ``(K, D)``, ``K`` the config's ``cohort``.

        Raises:
            RuntimeError: The head was built with ``cohort: 0``.
            ValueError: ``K`` differs from the config's ``cohort``.
        """
        if not self.config.cohort:
            raise RuntimeError("the cosine head was built without a cohort (cohort: 0)")
        if embeddings.shape[0] != self.config.cohort:
            raise ValueError(f"cohort: expected {self.config.cohort} embeddings, got {embeddings.shape[0]}")
        with torch.no_grad():  # in place: the buffer bind() sized stays the module's (DDP, optimisers keep it)
            self.cohort_embeddings.copy_(F.normalize(embeddings.detach().float(), dim=-1, eps=1e-8))

    @property
    def _normalising(self) -> bool:
        return bool(self.config.cohort) and not self.training and bool(self.cohort_embeddings.any())

    def _cohort_stats(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation ``(B,), (B,)`` of each normalised row's cosines to the cohort."""
        sims = z @ self.cohort_embeddings.to(device=z.device, dtype=z.dtype).T  # (B, K)
        return sims.mean(-1), sims.std(-1).clamp_min(1e-6)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s = F.cosine_similarity(a, b, dim=-1, eps=1e-8)  # (B,)
        if not self._normalising:
            return s
        za, zb = F.normalize(a, dim=-1, eps=1e-8), F.normalize(b, dim=-1, eps=1e-8)  # (B, D)
        (ma, sa), (mb, sb) = self._cohort_stats(za), self._cohort_stats(zb)  # (B,) each
        return ((s - ma) / sa + (s - mb) / sb) / 2  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        za, zb = F.normalize(a, dim=-1, eps=1e-8), F.normalize(b, dim=-1, eps=1e-8)  # (Ba, D), (Bb, D)
        s = za @ zb.T  # (Ba, Bb)
        if not self._normalising:
            return s
        (ma, sa), (mb, sb) = self._cohort_stats(za), self._cohort_stats(zb)  # (Ba,), (Bb,)
        return ((s - ma[:, None]) / sa[:, None] + (s - mb[None, :]) / sb[None, :]) / 2  # (Ba, Bb)
