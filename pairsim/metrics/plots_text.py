"""Plots for graded and text pairs: predicted-vs-gold scatter (Spearman in the title) and the hardest text pairs
of both error kinds (missed similar pairs, accepted different pairs) as readable text with the gold score.

Example:
    >>> import tempfile, pathlib
    >>> out = plot_graded_scatter([0.1, 0.5, 0.9], [0.0, 2.5, 5.0], higher_is_similar=True,
    ...                           path=pathlib.Path(tempfile.mkdtemp()) / "scatter.png")
    >>> out.stat().st_size > 0
    True
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from pairsim.errors import DataError
from pairsim.metrics._figure import _save
from pairsim.metrics._inputs import as_labels, as_scores, oriented
from pairsim.metrics.verification import calibrate_threshold

_WRAP = 70  # characters per line of a text in the hardest-pairs figure
_MAX_CHARS = 220  # a longer text is cut with an ellipsis


def plot_graded_scatter(scores: Any, gold: Any, *, higher_is_similar: bool, path: str | Path) -> Path:
    """Predicted score against the gold graded score of each pair, with Spearman's rho in the title.

    Args:
        scores: The model's score per pair (1-D).
        gold: The gold graded score per pair (e.g. STS-B 0-5).
        higher_is_similar: The head's direction (a distance is drawn as it is; rho is then negated).
        path: The PNG file to write.

    Returns:
        The path written.

    Raises:
        DataError: The lengths differ or there are fewer than 2 pairs.
    """
    pred, truth = as_scores(scores), as_scores(gold)
    if pred.size != truth.size or pred.size < 2:
        raise DataError(f"need one gold score per predicted score (at least 2), got {truth.size} and {pred.size}")
    rho = float(spearmanr(oriented(pred, higher_is_similar), truth).statistic)
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(truth, pred, s=8, alpha=0.5)
    ax.set_xlabel("gold score")
    ax.set_ylabel("predicted " + ("similarity" if higher_is_similar else "distance"))
    ax.set_title(f"Predicted vs gold (Spearman {rho:.3f}, {pred.size} pairs)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _clip(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def plot_hardest_text_pairs(
    items_a: Sequence[Any],
    items_b: Sequence[Any],
    scores: Any,
    labels: Any,
    *,
    higher_is_similar: bool,
    path: str | Path,
    threshold: float | None = None,
    gold: Sequence[float] | None = None,
    n: int = 5,
) -> Path:
    """The ``n`` most confident mistakes of each kind, as text: similar pairs scored as different (missed), and
    different pairs scored as similar (accepted), each with its score, the threshold and the gold score.

    Args:
        items_a: Texts of side a.
        items_b: Texts of side b.
        scores: One score per pair (1-D).
        labels: 1 = similar, 0 = different.
        higher_is_similar: The head's direction.
        path: The PNG file to write.
        threshold: The decision threshold; None calibrates one on these pairs.
        gold: The graded gold score per pair, shown where given.
        n: Pairs per kind.

    Returns:
        The path written.
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=threshold is None)
    if len(items_a) != values.size or len(items_b) != values.size:
        raise DataError(f"got {len(items_a)} items_a, {len(items_b)} items_b and {values.size} scores")
    if threshold is None:
        threshold = calibrate_threshold(values, y, higher_is_similar=higher_is_similar)
    margin = oriented(values, higher_is_similar) - oriented(np.asarray([threshold]), higher_is_similar)[0]
    missed = [i for i in np.argsort(margin, kind="stable") if y[i] == 1 and margin[i] < 0][:n]  # most sure first
    accepted = [i for i in np.argsort(-margin, kind="stable") if y[i] == 0 and margin[i] >= 0][:n]
    fig = Figure(figsize=(13, 1.2 + 1.25 * max(1, len(missed), len(accepted))), layout="constrained")
    axes = fig.subplots(1, 2)
    kinds = (("Missed similar pairs (label 1, scored as different)", missed),
             ("Accepted different pairs (label 0, scored as similar)", accepted))  # fmt: skip
    for ax, (title, chosen) in zip(axes, kinds, strict=True):
        ax.axis("off")
        ax.set_title(f"{title}: {len(chosen)} shown", fontsize=10, loc="left")
        blocks = []
        for i in chosen:
            head = f"score {values[i]:.3f} (threshold {threshold:.3f})"
            if gold is not None:
                head += f", gold {float(gold[i]):g}"
            a = textwrap.fill("A: " + _clip(items_a[i]), _WRAP, subsequent_indent="   ")
            b = textwrap.fill("B: " + _clip(items_b[i]), _WRAP, subsequent_indent="   ")
            blocks.append(f"{head}\n{a}\n{b}")
        text = "\n\n".join(blocks) if blocks else "none: no pair of this kind is on the wrong side"
        ax.text(0.0, 1.0, text, va="top", ha="left", fontsize=8, family="monospace", transform=ax.transAxes)
    return _save(fig, path)
