"""Heads: two embeddings -> one score per pair. Every head states its direction.

A head is the single place that knows whether a higher score means "more similar" (a similarity such as
cosine) or "less similar" (a distance). Losses and metrics ask the head through
:attr:`Head.higher_is_similar`, :meth:`Head.margin` and :attr:`Head.best` instead of checking its type
(the pattern of pytorch-metric-learning's distances).

An optional learnable scale and bias (``calibrated: true``) turn a score into a probability for
binary cross-entropy and calibration: ``p = sigmoid(scale * signed(score) + bias)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import torch
from torch import nn

from pairsim.config import ComponentConfig, bounded
from pairsim.registry import Registry

HEADS: Registry[type[Head]] = Registry("head")


@dataclasses.dataclass(kw_only=True)
class HeadConfig(ComponentConfig):
    """Config shared by all heads."""

    registry: ClassVar[Any] = HEADS
    calibrated: bool = False  # learn scale and bias so that sigmoid(scale * score + bias) is P(similar)
    init_scale: float = bounded(10.0, gt=0)  # initial scale of the calibration (used when calibrated)
    init_bias: float | None = bounded(None)  # initial bias; None: -scale * (the head's neutral score)


class Head(nn.Module):
    """Base class of heads.

    Subclasses set ``higher_is_similar``, ``best`` (the score of two identical embeddings), ``neutral``
    (a score halfway between similar and dissimilar, used to initialise calibration) and ``score_range``
    (the closed interval every score of :meth:`forward` lies in; a decision threshold must lie in it too)
    and implement :meth:`matrix`. :meth:`forward` defaults to the diagonal of :meth:`matrix` computed pairwise.

    Args:
        config: The head's config.
    """

    Config: ClassVar[type[HeadConfig]] = HeadConfig
    higher_is_similar: ClassVar[bool] = True
    best: ClassVar[float] = 1.0
    neutral: ClassVar[float] = 0.5
    score_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)  # [lo, hi] of every score forward() gives
    # What other libraries call this head, declared here so that no table elsewhere is keyed by head name:
    faiss_metric: ClassVar[str | None] = None  # FAISS metric ranking rows as this head does (None: exact search)
    faiss_normalize: ClassVar[bool] = False  # L2-normalise rows before that metric (cosine = inner product)
    st_similarity: ClassVar[str | None] = None  # sentence-transformers' similarity_fn_name with the same ranking
    # what the head reads from the towers: "embeddings" (vectors), or "tokens" (a cross-encoder's token-id rows
    # from a pair_tokens tower); a model's towers must give what its head reads
    reads: ClassVar[str] = "embeddings"

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        if config.calibrated:
            bias = -config.init_scale * self._signed(self.neutral) if config.init_bias is None else config.init_bias
            self.scale = nn.Parameter(torch.tensor(float(config.init_scale)))
            self.bias = nn.Parameter(torch.tensor(float(bias)))

    def beyond_embeddings(self) -> str | None:
        """What this head scores with besides the two embeddings (e.g. stored reference embeddings), which a
        library that only compares vectors (FAISS, sentence-transformers) cannot reproduce; None: its facts hold."""
        return None

    def bind(self, dim: int, *, tied: bool = True) -> None:
        """Called once the towers are built (heads that store embeddings size them; the rest ignore it).

        Args:
            dim: The towers' embedding size.
            tied: Whether one tower encodes both sides (a head storing one tower's embeddings needs that).

        Raises:
            ConfigError: The head cannot work with these towers.
        """

    def load_pretrained(self) -> None:
        """Load pretrained weights named by the config (a cross-encoder's transformer); most heads have none."""

    def onnx_graph(self) -> tuple[nn.Module, dict[str, torch.Tensor]] | None:
        """A network inside the head that ONNX export writes as its own graph (a cross-encoder's transformer),
        with sample inputs by name to trace it; None: the head's few parameters travel in ``head.json``."""
        return None

    def run_graph(self, run: Any) -> None:
        """Score with ``run`` (inputs by name -> the graph's output) instead of the network :meth:`onnx_graph`
        exported: an ONNX runtime's head. Only heads with an :meth:`onnx_graph` have it."""
        raise NotImplementedError(f"the {self.config.name} head has no graph of its own")

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Score each pair ``(a[i], b[i])``.

        Args:
            a: ``(B, D)`` embeddings.
            b: ``(B, D)`` embeddings.

        Returns:
            ``(B,)`` scores.
        """
        raise NotImplementedError

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Score every ``a[i]`` against every ``b[j]``: ``(Ba, D), (Bb, D) -> (Ba, Bb)``."""
        raise NotImplementedError

    # -- direction helpers used by losses and metrics ---------------------------------------------------
    def _signed(self, scores: torch.Tensor | float) -> torch.Tensor | float:
        return scores if self.higher_is_similar else -scores

    def margin(self, x: torch.Tensor | float, y: torch.Tensor | float) -> torch.Tensor | float:
        """How much more similar score ``x`` is than score ``y`` (positive when ``x`` is the better match)."""
        return x - y if self.higher_is_similar else y - x

    @property
    def gives_probability(self) -> bool:
        """Whether :meth:`logit` is meaningful (the head is calibrated or natively probabilistic)."""
        return self.config.calibrated

    def logit(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores ``(B,)`` -> logits of P(similar) ``(B,)``; needs ``calibrated: true`` unless overridden."""
        if not self.config.calibrated:
            raise RuntimeError(f"head {self.config.name!r} gives no probability; set head.calibrated=true")
        return self.scale * self._signed(scores) + self.bias

    def logit_of(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The logit of P(similar) of each pair ``(a[i], b[i])`` ``(B,)``: ``logit(forward(a, b))``, or a head's
        own exact logit (a cross-encoder's classifier output)."""
        return self.logit(self(a, b))

    def probability(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores ``(B,)`` -> P(similar) in (0, 1)."""
        return torch.sigmoid(self.logit(scores))

    def threshold_range(self) -> tuple[float, float]:
        """The closed interval a decision threshold must lie in: :attr:`score_range` unless a head's config
        widens its scores (score normalisation against stored embeddings)."""
        return self.score_range

    def check_threshold(self, threshold: float | None, *, where: str = "model.threshold") -> None:
        """Refuse a threshold that is not a finite number within :meth:`threshold_range` (outside it, every
        pair would get the same decision).

        Args:
            threshold: The threshold, or None (no threshold: nothing to check).
            where: Its name in the message (e.g. ``config.json:model.threshold``).

        Raises:
            ConfigError: One line naming ``where``, the value and the range.
        """
        from pairsim.errors import ConfigError

        if threshold is None:
            return
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ConfigError(f"{where}: expected a finite number, got {threshold!r}")
        lo, hi = self.threshold_range()
        if not lo <= threshold <= hi:
            raise ConfigError(
                f"{where}: {threshold!r} is outside the {self.config.name} head's score range [{lo:g}, {hi:g}] "
                "(every pair would get the same decision)"
            )

    def clamp_threshold(self, threshold: float) -> float:
        """``threshold`` moved into :meth:`threshold_range` (a calibrated threshold beyond every score, or past
        a bound by rounding, becomes the bound)."""
        lo, hi = self.threshold_range()
        return float(min(max(threshold, lo), hi))

    def is_similar(self, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        """Boolean decision per pair at ``threshold`` (in score units)."""
        return scores >= threshold if self.higher_is_similar else scores <= threshold
