"""A sweep's table and figure: ``sweep.json``, ``sweep.md`` and ``sweep.png`` in its output directory.

Each row is one Optuna trial: its number, the swept values, the validation value (mean ± sd over the training
seeds), its minutes and its state (complete, pruned, fail: a trial whose training failed or was killed).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairsim.metrics import write_json
from pairsim.safe_io import atomic_write_text


def spread(values: Sequence[float]) -> tuple[float | None, float | None]:
    """``(mean, sd)`` of the per-seed values (sd 0 for one value; ``(None, None)`` for none).

    Example:
        >>> spread([0.8, 0.9])
        (0.8500000000000001, 0.07071067811865474)
    """
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _val(row: dict[str, Any]) -> str:
    if row["val_mean"] is None:
        return "-"
    sd = f" ± {row['val_sd']:.4f}" if len(row["values"]) > 1 else ""
    return f"{row['val_mean']:.4f}{sd}"


def markdown(summary: dict[str, Any]) -> str:
    """The table of ``summary`` (as written to ``sweep.json``) as Markdown."""
    keys = summary["keys"]
    lines = [
        f"# Sweep of {summary['recipe']}",
        "",
        f"Budget {summary['budget_minutes']:.1f} min, spent {summary['spent_minutes']:.1f} min; chosen on val "
        f"{summary['metric']} ({'lower' if summary['lower_is_better'] else 'higher'} is better), "
        f"{summary['seeds']} training seed(s) per trial ({summary['seed_rule']}); sampler {summary['sampler']}, "
        f"pruner {summary['pruner']}.",
        "",
        "| trial | " + " | ".join(keys) + f" | val {summary['metric']} (mean ± sd) | minutes | state |",
        "|---" * (len(keys) + 4) + "|",
    ]
    for row in summary["trials"]:
        mark = " **(chosen)**" if summary["winner"] and row["trial"] == summary["winner"]["trial"] else ""
        cells = [f"{row['trial']:03d}{mark}", *(row["params"].get(k, "-") for k in keys), _val(row),
                 f"{row['minutes']:.2f}", row["state"] + (f": {row['note']}" if row.get("note") else "")]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    winner = summary["winner"]
    lines.append("")
    if winner is None:
        lines.append("No trial completed, so nothing was evaluated on test.")
    else:
        test = winner["test"]
        several = len(winner["values"]) > 1
        shown = ", ".join(
            f"{k} {_cell(v['mean'])}" + (f" ± {_cell(v['sd'])}" if several else "") for k, v in test.items()
        )
        params = ", ".join(f"{k}={v}" for k, v in winner["params"].items())
        lines.append(
            f"Chosen: trial {winner['trial']:03d} ({params}), val {summary['metric']} {_val(winner)}; the only trial "
            f"evaluated on test: {shown} (run directories: {', '.join(winner['run_dirs'][: len(winner['values'])])})."
        )
    return "\n".join(lines) + "\n"


def write_report(summary: dict[str, Any], out: Path) -> None:
    """Write ``sweep.json``, ``sweep.md`` and ``sweep.png`` (each atomically) into ``out``."""
    from pairsim.metrics.sweep_plot import plot_sweep

    write_json(summary, out / "sweep.json")
    atomic_write_text(out / "sweep.md", markdown(summary))
    winner = summary["winner"]["trial"] if summary["winner"] else None
    plot_sweep(summary["trials"], metric=summary["metric"], lower_is_better=summary["lower_is_better"],
               winner=winner, path=out / "sweep.png")  # fmt: skip
