"""Rows a Python user hands over, as named columns: a list of tuples or dicts, a pandas DataFrame, a
``datasets.Dataset``, or a mapping of column name to values.

This is the one reader of in-memory tables; :mod:`pairsim.data.sources.table` turns its columns into pairsim's
data kinds (pairs, labelled items, captioned images) for the ``in_memory`` and ``hf_dataset`` sources. Tuples
have numbered columns ``"0"``, ``"1"``, ...; every other kind keeps its own column names (as strings).

A value that cannot be used is one :class:`~pairsim.errors.DataError` naming the argument (``train``), the row
(0-based, as Python and pandas count) and the column.

Example:
    >>> cols = columns_of([("a cat", "a feline", 1), ("a cat", "a car", 0)], where="train")
    >>> sorted(cols), cols["2"]
    (['0', '1', '2'], [1, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pairsim.errors import DataError, shown

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def _type_name(value: Any) -> str:
    return type(value).__name__


def columns_of(data: Any, *, where: str) -> dict[str, list[Any]]:
    """The named columns of an in-memory table.

    Args:
        data: A list (or tuple) of tuples / lists / dicts, a pandas DataFrame, a ``datasets.Dataset``, or a
            mapping of column name to a sequence of values (all of one length).
        where: The argument's name in messages (``"train"``).

    Returns:
        Column name -> its values, one per row, every column of the same length.

    Raises:
        DataError: Rows of different shapes or kinds, a column of another length, or an object of none of
            these kinds; the message names ``where`` and the row.
    """
    kind = type(data)
    module = kind.__module__.split(".", 1)[0]
    if module == "pandas" and kind.__name__ == "DataFrame":
        return {str(c): data[c].tolist() for c in data.columns}
    if module == "datasets" and kind.__name__ == "Dataset":
        return {str(c): list(data[c]) for c in data.column_names}
    if isinstance(data, Mapping):
        cols = {str(k): list(v) for k, v in data.items()}
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{where}: columns of different lengths {lengths}; expected one value per row in each")
        return cols
    if isinstance(data, (list, tuple)):
        return _rows_to_columns(data, where=where)
    raise DataError(
        f"{where}: cannot read a {kind.__name__} as rows; expected a list of tuples or dicts, a pandas DataFrame, "
        "a datasets.Dataset / DatasetDict, a dict of columns, or a pairsim source"
    )


def _rows_to_columns(rows: Sequence[Any], *, where: str) -> dict[str, list[Any]]:
    if not rows:
        return {}
    first = rows[0]
    if isinstance(first, Mapping):
        names = [str(k) for k in first]
        cols: dict[str, list[Any]] = {n: [] for n in names}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise DataError(f"{where}: row {i}: expected a dict like row 0, found {_type_name(row)}")
            keys = [str(k) for k in row]
            if sorted(keys) != sorted(names):
                raise DataError(f"{where}: row {i}: has keys {keys}, row 0 has {names}; every row needs the same keys")
            for key, value in row.items():
                cols[str(key)].append(value)
        return cols
    if isinstance(first, (tuple, list)):
        width = len(first)
        cols = {str(j): [] for j in range(width)}
        for i, row in enumerate(rows):
            if not isinstance(row, (tuple, list)) or len(row) != width:
                found = f"{len(row)} values" if isinstance(row, (tuple, list)) else _type_name(row)
                raise DataError(f"{where}: row {i}: expected a tuple of {width} values like row 0, found {found}")
            for j, value in enumerate(row):
                cols[str(j)].append(value)
        return cols
    raise DataError(f"{where}: row 0: expected a tuple or a dict, found {_type_name(first)} {shown(first)}")


def find_column(cols: Mapping[str, Any], given: str | int | None, defaults: Sequence[str]) -> str | None:
    """The column to use: ``given`` (a name or a number), or for ``"auto"`` the first of ``defaults`` present;
    None for none (``given`` None, or no default present).

    ``given`` is returned as a string even when absent, so the caller's check names it.
    """
    if given is None:
        return None
    if given != "auto":
        return str(given)
    return next((d for d in defaults if d in cols), None)


def require_column(cols: Mapping[str, Any], name: str, *, where: str, setting: str) -> None:
    """Raise DataError unless ``name`` is a column of ``cols``, listing the columns found and the setting."""
    if name not in cols:
        raise DataError(f"{where}: missing column {name!r}; found columns {list(cols)} (set {setting}=<column>)")


def is_image(value: Any) -> bool:
    """Whether a value is an image pairsim reads (a path with an image suffix, a PIL image, an array, a tensor)."""
    if isinstance(value, (str, Path)):
        return str(value).lower().endswith(IMAGE_SUFFIXES)
    name = _type_name(value)
    return isinstance(value, np.ndarray) or name == "Tensor" or hasattr(value, "getpixel") or hasattr(value, "to_image")


def modality_of(values: Sequence[Any], given: str) -> str:
    """``given`` when it is "text" or "image"; for "auto", what the first non-empty value looks like."""
    if given != "auto":
        return given
    first = next((v for v in values if v is not None), None)
    return "image" if first is not None and is_image(first) else "text"


def check_items(values: list[Any], modality: str, *, where: str, column: str) -> list[Any]:
    """The column's values, checked for ``modality``; a ``datasets`` image dict (``{"bytes", "path"}``) is
    decoded to a PIL image and a ``Path`` becomes a string.

    Raises:
        DataError: A value of the wrong kind, naming ``where``, the row and the column.
    """
    out = []
    for i, value in enumerate(values):
        if modality == "text":
            if not isinstance(value, str) and value is not None:
                raise DataError(
                    f"{where}: row {i}, column {column!r}: expected a text (str), found {_type_name(value)} "
                    f"{shown(value)}"
                )
        else:
            if isinstance(value, Mapping) and ("bytes" in value or "path" in value):
                value = _decode_hf_image(value, where=f"{where}: row {i}, column {column!r}")
            elif isinstance(value, Path):
                value = str(value)
            if value is not None and not (isinstance(value, str) or is_image(value)):
                raise DataError(
                    f"{where}: row {i}, column {column!r}: expected an image (a path, a PIL image, a numpy array "
                    f"or a tensor), found {_type_name(value)} {shown(value)}"
                )
        out.append(value)
    return out


def _decode_hf_image(value: Mapping[str, Any], *, where: str) -> Any:
    """A ``datasets`` Image feature left undecoded: its bytes as a PIL image, else its path."""
    if value.get("bytes"):
        import io

        from pairsim.images import open_image

        return open_image(io.BytesIO(value["bytes"]), name=where)
    if value.get("path"):
        return str(value["path"])
    raise DataError(f"{where}: an image with neither bytes nor a path")


def number(value: Any, *, where: str, row: int, column: str) -> float:
    """A value as a float; DataError naming the row and column otherwise."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: row {row}, column {column!r}: expected a number, found {shown(value)}") from None
    if out != out:  # NaN: a missing value in a DataFrame
        raise DataError(f"{where}: row {row}, column {column!r}: expected a number, found a missing value (NaN)")
    return out
