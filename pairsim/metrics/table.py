"""Presenting a metrics dict: an aligned text table for the terminal, and an atomically written JSON file.

Example:
    >>> print(format_table({"accuracy": 0.8333333, "n_pairs": 6}))
    metric     value
    --------  ------
    accuracy  0.8333
    n_pairs        6
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pairsim.errors import DataError

_MAX_LISTED = 4  # sequences longer than this are summarised as "<n values>" in a table


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def _format_number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _format_number(float(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        items = np.asarray(value).ravel().tolist() if isinstance(value, np.ndarray) else list(value)
        if len(items) > _MAX_LISTED:
            return f"<{len(items)} values>"
        return "(" + ", ".join(_format_value(item) for item in items) + ")"
    return str(value)


def format_table(metrics: Mapping[str, Any]) -> str:
    """Return ``metrics`` as a two-column text table: names left-aligned, values right-aligned.

    Floats get 4 decimals (or 4 significant digits when very small or large), integers none; nested dicts
    become dotted names (``val.roc_auc``); sequences of up to 4 values are listed, longer ones (like
    per-episode accuracies) summarised as ``<n values>``; None prints as ``-``.

    Args:
        metrics: Metric name -> value, as returned by the metric functions (may be nested).

    Returns:
        The table, lines joined by newlines, no trailing newline; ``(no metrics)`` for an empty dict.

    Example:
        >>> print(format_table({"val": {"eer": 0.05}, "ci": (0.1, 0.2)}))
        metric              value
        -------  ----------------
        val.eer            0.0500
        ci       (0.1000, 0.2000)
    """
    rows = [(name, _format_value(value)) for name, value in _flatten(metrics)]
    if not rows:
        return "(no metrics)"
    rows.insert(0, ("metric", "value"))
    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [f"{name:<{name_width}}  {value:>{value_width}}" for name, value in rows]
    lines.insert(1, f"{'-' * name_width}  {'-' * value_width}")
    return "\n".join(lines)


def _jsonable(value: Any, where: str) -> Any:
    """Return ``value`` with numpy types as Python ones and NaN/infinity as None (strict JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, where) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    raise DataError(f"cannot write metric {where or '(top level)'!r} of type {type(value).__name__} to JSON")


def write_json(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``metrics`` to a JSON file atomically: a reader sees the old file or the new one, never half.

    The JSON goes to a temporary file in the same folder, is flushed to disk, then renamed over ``path``
    with :func:`os.replace`. Numpy numbers and arrays become plain JSON numbers and lists; NaN and
    infinity (e.g. an undefined confidence interval) become ``null``. Missing parent folders are created.

    Args:
        metrics: Metric name -> value (may be nested).
        path: The file to write.

    Returns:
        The path written.

    Raises:
        DataError: A value cannot be written as JSON (the message names its key).

    Example:
        >>> import tempfile, pathlib
        >>> out = write_json({"roc_auc": np.float32(0.5)}, pathlib.Path(tempfile.mkdtemp()) / "m.json")
        >>> out.read_text()
        '{\\n  "roc_auc": 0.5\\n}\\n'
    """
    from pairsim.safe_io import atomic_write_text

    target = Path(path)
    text = json.dumps(_jsonable(metrics, ""), indent=2, allow_nan=False) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    return target
