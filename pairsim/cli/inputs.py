"""Reading input files for the command line: one text or image path per line.

A UTF-8 byte-order mark at the start of a file is dropped (Windows editors write one), so the first line
of a file compares equal to the same text typed elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from pairsim.errors import DataError


def read_text(path: str | Path, *, what: str = "input file") -> str:
    """The text of a UTF-8 file, without a leading byte-order mark.

    Args:
        path: The file.
        what: What the file is, for messages ("input file", "recipe").

    Raises:
        DataError: The path is missing, is a directory, or is not UTF-8 text.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory, expected a text file with one input per line")
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_lines(path: str | Path) -> list[str]:
    """The lines of a non-empty UTF-8 file (trailing newline stripped; empty lines kept as empty texts).

    Raises:
        DataError: The file is missing, a directory, empty or not UTF-8 text.
    """
    lines = read_text(path).splitlines()
    if not lines:
        raise DataError(f"{path} is empty: expected one input per line")
    return lines


def output_file(path: str | Path, *, option: str = "--out") -> Path:
    """Check that ``path`` can be written as a file: not a directory, in a folder that exists.

    Raises:
        DataError: ``path`` is a directory or its folder does not exist.
    """
    from pairsim.safe_io import check_file_target

    target = Path(path)
    check_file_target(target, what=option)
    return target


def resolve_lines(lines: list[str], path: str | Path, modality: str) -> list[str]:
    """Image paths of an input file resolved against the file's folder (as ``pair_table`` resolves them against
    the table's folder); texts are returned as they are.

    Example:
        >>> resolve_lines(["s1/1.pgm"], "/data/probes.txt", "image")
        ['/data/s1/1.pgm']
    """
    if modality != "image":
        return lines
    from pairsim.data.sources.pair_table import resolve_path
    from pairsim.towers.modality import looks_like_image_path

    folder = Path(path).parent
    # a line that is no image path (a text given to an image model) stays as written, for its error message
    return [resolve_path(line, folder) if looks_like_image_path(line) else line for line in lines]
