"""Training curves: the loss, and one panel per family of validation metrics, over steps (or epochs).

Example:
    >>> import tempfile, pathlib
    >>> plot_curves([{"step": 0, "epoch": 0, "val_roc_auc": 0.6}, {"step": 5, "epoch": 0, "loss": 0.5},
    ...              {"step": 5, "epoch": 0, "val_roc_auc": 0.8}], pathlib.Path(tempfile.mkdtemp()) / "c.png").suffix
    '.png'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pairsim.errors import DataError
from pairsim.metrics._figure import _is_number, _save


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
