"""Reading input lists for the command line: one text or image path per line."""

from __future__ import annotations

from pathlib import Path

from pairsim.errors import DataError


def read_lines(path: str | Path) -> list[str]:
    """The non-empty-file's lines (trailing newline stripped; empty lines kept as empty texts).

    Raises:
        DataError: The file is missing or not UTF-8 text.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"input file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    lines = text.splitlines()
    if not lines:
        raise DataError(f"{path} is empty: expected one input per line")
    return lines
