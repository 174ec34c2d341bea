"""Evaluation plots, each written to a PNG file: training curves, ROC, score histograms, hardest pairs.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from sklearn.metrics import roc_auc_score, roc_curve

from pairsim.errors import DataError
from pairsim.images import load_image
from pairsim.metrics._inputs import as_labels, as_scores, oriented
from pairsim.metrics.verification import calibrate_threshold, decide, equal_error_rate

_SIMILAR_COLOR = "tab:blue"
_DISSIMILAR_COLOR = "tab:orange"
_MAX_BINS = 60
_TEXT_WIDTH = 30  # characters per line of a text item in a hardest-pairs cell
_TEXT_LINES = 9


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` with Agg into a PNG at ``path`` (parent folders created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(target, format="png", dpi=100, bbox_inches="tight")
    return target


def _direction_label(higher_is_similar: bool) -> str:
    return "similarity (higher = more similar)" if higher_is_similar else "distance (lower = more similar)"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def plot_curves(
    history: Sequence[Mapping[str, Any]], path: str | Path, *, val_keys: Sequence[str] | None = None
) -> Path:
    """Plot training loss and validation metrics over training.

    One panel of losses, then one panel per metric family (:func:`metric_family`: AUCs, correlations,
    accuracies, error rates, retrieval recall, ... each on its own scale). Losses (every key ending in
    ``loss``: ``loss``, ``val_loss`` ...) are plotted against ``step``; an entry that has only an ``epoch``
    (a validation entry) is placed at the last step logged for that epoch. Validation metrics (other keys
    starting with ``val_``) are plotted against ``step`` when every one of their entries has it (the
    trainer's step-0 validation then marks the untrained starting point), else against ``epoch``; by default
    only those whose values all lie in [-1, 1] (rates, AUC, correlations) are drawn, never counts
    (``val_n_...``); ``val_keys`` picks them instead. Other keys, and None/NaN values, are skipped.

    Args:
        history: Logged entries in order, e.g. ``{"step": 10, "epoch": 0, "loss": 0.5}`` and
            ``{"epoch": 0, "val_roc_auc": 0.9}``.
        path: The PNG file to write.
        val_keys: The validation keys to draw (e.g. ``["val_roc_auc", "val_eer"]``), or None for the
            default choice above.

    Returns:
        The path written.

    Raises:
        DataError: ``history`` holds no loss or ``val_`` value to plot, an entry has neither ``step``
            nor ``epoch``, or a key in ``val_keys`` is never logged.

    Example:
        >>> import tempfile, pathlib
        >>> hist = [{"step": 1, "epoch": 0, "loss": 0.9}, {"step": 2, "epoch": 0, "loss": 0.7},
        ...         {"epoch": 0, "val_roc_auc": 0.8}]
        >>> plot_curves(hist, pathlib.Path(tempfile.mkdtemp()) / "curves.png").suffix
        '.png'
    """
    for i, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            raise DataError(f"history entry {i} is a {type(entry).__name__}; expected a dict")
    epoch_end_step: dict[Any, float] = {}
    for entry in history:
        if _is_number(entry.get("step")) and "epoch" in entry:
            epoch_end_step[entry["epoch"]] = max(epoch_end_step.get(entry["epoch"], -math.inf), entry["step"])

    # Each point: (step or None, epoch or None, value).
    loss_series: dict[str, list[tuple[float | None, float | None, float]]] = {}
    val_series: dict[str, list[tuple[float | None, float | None, float]]] = {}
    for i, entry in enumerate(history):
        step = entry["step"] if _is_number(entry.get("step")) else epoch_end_step.get(entry.get("epoch"))
        epoch = entry["epoch"] if _is_number(entry.get("epoch")) else None
        for key, value in entry.items():
            if key in ("step", "epoch") or not _is_number(value) or not math.isfinite(value):
                continue
            if not key.endswith("loss") and not key.startswith("val_"):
                continue
            if step is None and epoch is None:
                raise DataError(f"history entry {i} has {key!r} but neither 'step' nor 'epoch'")
            series = loss_series if key.endswith("loss") else val_series
            series.setdefault(key, []).append((step, epoch, float(value)))
    if val_keys is None:
        val_series = {
            key: points
            for key, points in val_series.items()
            if not key.startswith("val_n_") and all(-1.0 <= value <= 1.0 for _, _, value in points)
        }
    else:
        missing = [key for key in val_keys if key not in val_series]
        if missing:
            raise DataError(f"val_keys {missing} are not in history; logged: {sorted(val_series)}")
        val_series = {key: val_series[key] for key in val_keys}
    if not loss_series and not val_series:
        raise DataError("history has no 'loss' or 'val_*' values to plot")
    loss_by_step = all(step is not None for points in loss_series.values() for step, _, _ in points)
    val_by_epoch = all(epoch is not None for points in val_series.values() for _, epoch, _ in points)
    if not val_by_epoch and not all(step is not None for pts in val_series.values() for step, _, _ in pts):
        raise DataError("cannot put the val_* entries on one axis: some have only a 'step', others only an 'epoch'")
    if not loss_by_step and not all(epoch is not None for pts in loss_series.values() for _, epoch, _ in pts):
        raise DataError("cannot put the loss entries on one axis: some have only a 'step', others only an 'epoch'")

    families: dict[str, dict[str, list[tuple[float | None, float | None, float]]]] = {}
    for key, val_points in val_series.items():
        families.setdefault(metric_family(key), {})[key] = val_points
    n_panels = int(bool(loss_series)) + len(families)
    cols = min(3, n_panels)
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(5.0 * cols, 3.8 * rows), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    panel = 0
    if loss_series:
        ax = axes[panel]
        for key, loss_points in loss_series.items():
            points = [(step if loss_by_step else epoch, value) for step, epoch, value in loss_points]
            xs, ys = zip(*sorted(points), strict=True)
            style = {"marker": "o"} if key.startswith("val_") or len(points) < 20 else {}
            ax.plot(xs, ys, label=key, **style)
        _finish_panel(ax, "step" if loss_by_step else "epoch", "loss", "Loss", xs=_xs(loss_series, loss_by_step))
        panel += 1
    val_by_step = all(step is not None for pts in val_series.values() for step, _, _ in pts)
    for family, series in families.items():
        ax = axes[panel]
        for key, val_points in series.items():
            points = [(step if val_by_step else epoch, value) for step, epoch, value in val_points]
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=key)
            if xs[0] == 0 and val_by_step:  # the untrained starting point (the trainer's step-0 validation)
                ax.annotate("untrained", (xs[0], ys[0]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        _finish_panel(ax, "step" if val_by_step else "epoch", family, f"Validation: {family}",
                      xs=_xs(series, val_by_step))  # fmt: skip
        panel += 1
    return _save(fig, path)


_FAMILIES = (
    ("ranking (AUC)", ("roc_auc", "pr_auc", "average_precision")),
    ("correlation", ("spearman", "pearson")),
    ("accuracy", ("accuracy", "official_accuracy", "balanced_accuracy", "f1", "precision", "recall")),
    ("error rate", ("eer", "far", "frr", "error_rate")),
)


def metric_family(key: str) -> str:
    """The panel of a validation metric in :func:`plot_curves`: metrics on one scale share a panel.

    Example:
        >>> metric_family("val_roc_auc"), metric_family("val_t2i_recall@5"), metric_family("val_median_rank")
        ('ranking (AUC)', 'retrieval recall', 'median_rank')
    """
    name = key.removeprefix("val_")
    for family, names in _FAMILIES:
        if name in names:
            return family
    if "recall@" in name:
        return "retrieval recall"
    if name.startswith("oneshot"):
        return "one-shot"
    return name


def _xs(series: Mapping[str, Sequence[tuple[float | None, float | None, float]]], by_step: bool) -> list[float]:
    return [float(step if by_step else epoch) for pts in series.values() for step, epoch, _ in pts]  # type: ignore[arg-type]


def _finish_panel(ax: Any, xlabel: str, ylabel: str, title: str, *, xs: Sequence[float]) -> None:
    """Labels, legend and grid; a single x value gets a readable axis around it instead of +-0.04."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if xs and min(xs) == max(xs):
        ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


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
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")
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
