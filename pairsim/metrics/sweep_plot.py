"""The figure of a sweep: each trial's validation value (mean ± sd over seeds) and the best so far over time.

Example:
    >>> rows = [{"trial": 0, "val_mean": 0.8, "val_sd": 0.01, "end_minutes": 1.0, "state": "complete"},
    ...         {"trial": 1, "val_mean": 0.9, "val_sd": 0.0, "end_minutes": 2.0, "state": "pruned"}]
    >>> plot_sweep(rows, metric="roc_auc", lower_is_better=False, winner=1, path="/tmp/s.png").name  # doctest: +SKIP
    's.png'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pairsim.metrics._figure import _save

_COLOURS = {"complete": "tab:blue", "pruned": "tab:orange"}


def plot_sweep(
    rows: Sequence[Mapping[str, Any]], *, metric: str, lower_is_better: bool, winner: int | None, path: str | Path
) -> Path:
    """Two panels: validation value per trial (error bars: sd over seeds; colour: state; star: the winner), and
    the best validation value so far against the sweep's minutes.

    Args:
        rows: One mapping per trial with ``trial``, ``val_mean``, ``val_sd``, ``end_minutes`` (minutes since the
            sweep started when the trial ended) and ``state``; trials without a value are left out.
        metric: The validation metric's name (axis label).
        lower_is_better: Whether the metric improves downwards (the best-so-far line follows it).
        winner: The chosen trial's number, or None.
        path: Where the PNG goes.

    Returns:
        ``path``.
    """
    done = [r for r in rows if r.get("val_mean") is not None]
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    for state in sorted({r["state"] for r in done}):
        some = [r for r in done if r["state"] == state]
        left.errorbar([r["trial"] for r in some], [r["val_mean"] for r in some], yerr=[r["val_sd"] or 0 for r in some],
                      fmt="o", capsize=3, color=_COLOURS.get(state, "tab:gray"), label=state)  # fmt: skip
    best = [r for r in done if r["trial"] == winner]
    if best:
        left.plot([best[0]["trial"]], [best[0]["val_mean"]], marker="*", markersize=16, color="tab:red",
                  linestyle="none", label="chosen")  # fmt: skip
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("trial")
    left.set_ylabel(f"val {metric} (mean ± sd over seeds)")
    left.set_title("validation per trial")
    if done:
        left.legend(loc="best", fontsize=8)
    ordered = sorted(done, key=lambda r: r["end_minutes"])
    xs, ys, so_far = [], [], None
    for r in ordered:
        value = r["val_mean"]
        if so_far is None or (value < so_far if lower_is_better else value > so_far):
            so_far = value
        xs.append(r["end_minutes"])
        ys.append(so_far)
    right.step(xs, ys, where="post", color="tab:green")
    right.plot([r["end_minutes"] for r in ordered], [r["val_mean"] for r in ordered], "o", color="tab:gray", alpha=0.6)
    right.set_xlabel("minutes since the sweep started")
    right.set_ylabel(f"best val {metric} so far")
    right.set_title("over time")
    fig.tight_layout()
    return _save(fig, path)
