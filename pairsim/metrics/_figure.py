"""Shared figure helpers of the plot modules: render with Agg (no pyplot) and write a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` with Agg into a PNG at ``path`` (parent folders created) and return the path.

    Written with :func:`pairsim.safe_io.atomic_write` (its output-path policy: a FIFO or device at ``path`` is
    refused, never opened or replaced).
    """
    from pairsim.safe_io import atomic_write

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    atomic_write(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"), what="plot")
    return target


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
