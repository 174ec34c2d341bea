"""Evaluation plots, each written to a PNG file: ROC, score histograms, hardest pairs (training curves: curves.py).

The figures are built with matplotlib's object API and rendered by the Agg backend directly, without
pyplot: no window opens, no global backend is switched, and nothing is left open after a call, so the
functions are safe on a headless server, in a training loop and next to a user's own pyplot figures.

Example:
    >>> import tempfile, pathlib
    >>> out = plot_roc([0.9, 0.8, 0.4, 0.2], [1, 0, 1, 0], higher_is_similar=True,
    ...                path=pathlib.Path(tempfile.mkdtemp()) / "roc.png")
    >>> out.stat().st_size > 0
    True
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from sklearn.metrics import roc_auc_score, roc_curve

from pairsim.errors import DataError
from pairsim.images import load_image, to_mode
from pairsim.metrics._figure import _save
from pairsim.metrics._inputs import as_labels, as_scores, oriented
from pairsim.metrics.curves import metric_family as metric_family  # re-exported: curves moved to curves.py
from pairsim.metrics.curves import plot_curves as plot_curves
from pairsim.metrics.verification import calibrate_threshold, decide, equal_error_rate

_SIMILAR_COLOR = "tab:blue"
_DISSIMILAR_COLOR = "tab:orange"
_MAX_BINS = 60
_TEXT_WIDTH = 30  # characters per line of a text item in a hardest-pairs cell
_TEXT_LINES = 9


def _direction_label(higher_is_similar: bool) -> str:
    return "similarity (higher = more similar)" if higher_is_similar else "distance (lower = more similar)"


def plot_roc(scores: Any, labels: Any, *, higher_is_similar: bool, path: str | Path) -> Path:
    """Plot the ROC curve of scored pairs (similar = positive), with its AUC and equal-error point.

    Args:
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar; both must occur.
        higher_is_similar: True for similarity scores, False for distances.
        path: The PNG file to write.

    Returns:
        The path written.

    Raises:
        DataError: Lengths differ, a label is not 0/1, or only one class occurs.

    Example:
        >>> import tempfile, pathlib
        >>> plot_roc([0.1, 0.5, 0.9], [1, 0, 0], higher_is_similar=False,
        ...          path=pathlib.Path(tempfile.mkdtemp()) / "roc.png").name
        'roc.png'
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=True)
    s = oriented(values, higher_is_similar)
    fpr, tpr, _ = roc_curve(y, s)
    auc = roc_auc_score(y, s)
    eer, _ = equal_error_rate(values, y, higher_is_similar=higher_is_similar)
    fig = Figure(figsize=(5.0, 5.0))
    ax = fig.subplots()
    ax.plot(fpr, tpr, color=_SIMILAR_COLOR, lw=2, label=f"ROC (AUC = {auc:.4f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance")
    ax.plot([0, 1], [1, 0], color="grey", ls=":", lw=1)
    ax.plot([eer], [1 - eer], "o", color="tab:red", label=f"EER = {eer:.4f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (dissimilar pairs judged similar)")
    ax.set_ylabel("true positive rate (similar pairs found)")
    ax.set_title(f"ROC, {y.size} pairs")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_score_histograms(
    scores: Any, labels: Any, *, higher_is_similar: bool, path: str | Path, threshold: float | None = None
) -> Path:
    """Plot the score distribution of similar and of dissimilar pairs, with the decision threshold.

    Both histograms share their bins; each is normalised to unit area so an imbalanced pair set still
    shows both shapes (the legend gives the counts).

    Args:
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar (one class alone is allowed).
        higher_is_similar: True for similarity scores, False for distances (only labels the axis).
        path: The PNG file to write.
        threshold: The decision threshold to draw as a vertical line, or None for none.

    Returns:
        The path written.

    Raises:
        DataError: Lengths differ or a label is not 0/1.

    Example:
        >>> import tempfile, pathlib
        >>> plot_score_histograms([0.9, 0.7, 0.2], [1, 1, 0], higher_is_similar=True, threshold=0.5,
        ...                       path=pathlib.Path(tempfile.mkdtemp()) / "hist.png").name
        'hist.png'
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=False)
    edges = np.histogram_bin_edges(values, bins="auto")
    if edges.size - 1 > _MAX_BINS:
        edges = np.histogram_bin_edges(values, bins=_MAX_BINS)
    fig = Figure(figsize=(7.0, 4.0))
    ax = fig.subplots()
    for label, name, color in ((1, "similar", _SIMILAR_COLOR), (0, "dissimilar", _DISSIMILAR_COLOR)):
        group = values[y == label]
        if group.size:
            ax.hist(group, bins=edges, density=True, alpha=0.55, color=color, label=f"{name} (n={group.size})")
    if threshold is not None:
        ax.axvline(threshold, color="tab:red", ls="--", lw=1.5, label=f"threshold = {threshold:.4g}")
    ax.set_xlabel(_direction_label(higher_is_similar))
    ax.set_ylabel("density")
    ax.set_title("Scores of similar and dissimilar pairs")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _is_text_item(item: Any, kind: Literal["auto", "image", "text"]) -> bool:
    if kind != "auto":
        return kind == "text"
    if not isinstance(item, str):
        return False
    suffix = Path(item).suffix.lower()
    return not (suffix and suffix in Image.registered_extensions())


def _draw_item(ax: Any, item: Any, is_text: bool, load: Callable[[Any], Any] | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if is_text:
        lines = textwrap.wrap(str(item), width=_TEXT_WIDTH) or [""]
        if len(lines) > _TEXT_LINES:
            lines = [*lines[: _TEXT_LINES - 1], lines[_TEXT_LINES - 1][: _TEXT_WIDTH - 3] + "..."]
        ax.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_facecolor("#f4f4f4")
        return
    image = load_image(load(item) if load is not None else item)
    if image.mode not in ("L", "RGB"):
        image = to_mode(image, "RGB")  # 16-bit scaled, transparency over white
    ax.imshow(np.asarray(image), cmap="gray" if image.mode == "L" else None)


def hardest_pair_indices(scores: Any, labels: Any, *, higher_is_similar: bool, threshold: float, n: int) -> np.ndarray:
    """Return the indices of the ``n`` hardest pairs, hardest first (the pairs :func:`plot_hardest_pairs` shows).

    A pair's hardness is how far its score lies on the wrong side of ``threshold`` (in the head's units):
    for a similar pair, how far it is on the "different" side; for a dissimilar pair, how far on the "same"
    side. Misclassified pairs therefore come first, the most confident mistakes leading; equal hardness
    keeps the input order.

    Args:
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar.
        higher_is_similar: True for similarity scores, False for distances.
        threshold: The decision threshold, in the head's units.
        n: How many indices to return (all pairs when there are fewer).

    Returns:
        An int array of at most ``n`` pair indices.

    Raises:
        DataError: Lengths differ or a label is not 0/1.

    Example:
        >>> hardest_pair_indices([0.9, 0.2, 0.6, 0.4], [0, 1, 1, 0], higher_is_similar=True,
        ...                      threshold=0.5, n=3).tolist()
        [0, 1, 2]
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=False)
    margin = oriented(values, higher_is_similar) - (threshold if higher_is_similar else -threshold)
    hardness = np.where(y == 1, -margin, margin)
    return np.argsort(-hardness, kind="stable")[:n]


def plot_hardest_pairs(
    items_a: Sequence[Any],
    items_b: Sequence[Any],
    scores: Any,
    labels: Any,
    *,
    higher_is_similar: bool,
    path: str | Path,
    n: int = 8,
    threshold: float | None = None,
    load: Callable[[Any], Any] | None = None,
    kind: Literal["auto", "image", "text"] = "auto",
) -> Path:
    """Show the hardest pairs (the most confident mistakes first) side by side, with score and label.

    A pair's hardness is how far its score lies on the wrong side of the threshold: a similar pair
    scored far on the "different" side, or a dissimilar pair scored far on the "same" side (see
    :func:`hardest_pair_indices`). The ``n`` hardest are drawn in a grid, 4 pairs a row, the two items of a pair next to each other under a title
    with its score and label, red when the pair is misclassified (if there are fewer than ``n`` mistakes,
    the least confident correct pairs follow, titled in black). Images are drawn as pictures, texts as
    wrapped text.

    Args:
        items_a: The first item of each pair: image paths, PIL images, arrays, tensors, or texts.
        items_b: The second item of each pair.
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar.
        higher_is_similar: True for similarity scores, False for distances.
        path: The PNG file to write.
        n: How many pairs to show (all of them when there are fewer).
        threshold: The decision threshold in the head's units; None calibrates one on these pairs with
            :func:`~pairsim.metrics.verification.calibrate_threshold` (which needs both classes).
        load: Turns an image item into something :func:`pairsim.images.load_image` accepts (e.g. reads
            it from a dataset); None passes items to ``load_image`` as they are.
        kind: "image" or "text" to say what the items are; "auto" treats a string as an image path when
            it ends in an image extension (``.png``, ``.jpg`` ...) and as text otherwise, and everything
            else (paths, PIL images, arrays, tensors) as an image.

    Returns:
        The path written.

    Raises:
        DataError: The item lists and scores differ in length, a label is not 0/1, ``n`` is not a
            positive integer, an image cannot be loaded, or no threshold is given and only one class occurs.

    Example:
        >>> import tempfile, pathlib
        >>> out = plot_hardest_pairs(["a cat", "a dog"], ["a cat", "a car"], [0.2, 0.9], [1, 0],
        ...                          higher_is_similar=True, threshold=0.5, n=2,
        ...                          path=pathlib.Path(tempfile.mkdtemp()) / "hard.png")
        >>> out.stat().st_size > 0
        True
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=threshold is None)
    if len(items_a) != values.size or len(items_b) != values.size:
        raise DataError(
            f"got {len(items_a)} items_a, {len(items_b)} items_b and {values.size} scores; need one of each per pair"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"n must be a positive integer, got {n!r}")
    if threshold is None:
        threshold = calibrate_threshold(values, y, higher_is_similar=higher_is_similar)
    order = hardest_pair_indices(values, y, higher_is_similar=higher_is_similar, threshold=threshold, n=int(n))
    wrong = decide(values, threshold, higher_is_similar) != (y == 1)

    cols = min(4, order.size)
    rows = math.ceil(order.size / cols)
    fig = Figure(figsize=(4.4 * cols, 2.7 * rows + 0.4), layout="constrained")
    subfigs = fig.subfigures(rows, cols, squeeze=False)
    for cell, index in enumerate(order):
        subfig = subfigs[cell // cols][cell % cols]
        ax_a, ax_b = subfig.subplots(1, 2)
        _draw_item(ax_a, items_a[index], _is_text_item(items_a[index], kind), load)
        _draw_item(ax_b, items_b[index], _is_text_item(items_b[index], kind), load)
        truth = "similar" if y[index] == 1 else "dissimilar"
        verdict = "WRONG" if wrong[index] else "right"
        subfig.suptitle(
            f"#{cell + 1}  score {values[index]:.4g}  label: {truth} ({verdict})",
            color="tab:red" if wrong[index] else "black",
            fontsize=9,
        )
    for cell in range(order.size, rows * cols):
        subfigs[cell // cols][cell % cols].set_visible(False)
    fig.suptitle(
        f"Hardest pairs: {int(wrong.sum())} of {values.size} misclassified at threshold {threshold:.4g} "
        f"({_direction_label(higher_is_similar)})",
        fontsize=11,
    )
    return _save(fig, path)
