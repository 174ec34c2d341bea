"""Reading input files for the command line: one text or image path per line.

A UTF-8 byte-order mark at the start of a file is dropped (Windows editors write one), so the first line
of a file compares equal to the same text typed elsewhere.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

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


def split_lines(text: str) -> list[str]:
    r"""``text`` split at ``\n`` and ``\r\n`` only, the last newline not starting an empty line.

    ``str.splitlines`` also splits at form feeds, vertical tabs, ``\x1c``-``\x1e``, ``\x85``, U+2028 and
    U+2029, so a line holding one became two inputs and every later row shifted; here a line keeps them.

    Example:
        >>> split_lines("a\x0cb\r\nc\n")
        ['a\x0cb', 'c']
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: str | Path) -> list[str]:
    r"""The lines of a non-empty UTF-8 file (trailing newline stripped; empty lines kept as empty texts), split
    at ``\n`` / ``\r\n`` only (:func:`split_lines`).

    Raises:
        DataError: The file is missing, a directory, empty or not UTF-8 text.
    """
    lines = split_lines(read_text(path))
    if not lines:
        raise DataError(f"{path} is empty: expected one input per line")
    return lines


STDOUT = "-"  # ``--out -``: standard output


def output_file(path: str | Path, *, option: str = "--out", binary: str | None = None) -> Path | None:
    """Check an output path before any work: ``-`` (standard output) or a file under the output-path policy.

    The policy (:func:`pairsim.safe_io.check_file_target`): nothing there yet or a regular file (replaced
    atomically); a symbolic link to a regular file is followed; anything else is refused.

    Args:
        path: What the user gave.
        option: How messages name the option.
        binary: For outputs that are binary files: what they are (``-`` is then refused with that reason).

    Returns:
        None for standard output, else the path.

    Raises:
        DataError: ``-`` for a binary output, or a path that cannot be written as a file.
    """
    from pairsim.safe_io import check_file_target

    if str(path) == STDOUT:
        if binary is not None:
            raise DataError(f"{option} -: {binary} are binary, not written to standard output; give a file name")
        return None
    target = Path(path)
    check_file_target(target, what=option)
    return target


@contextlib.contextmanager
def text_output(path: str | Path | None, *, option: str = "--out") -> Iterator[TextIO]:
    """Standard output (``path`` None or ``-``), or a UTF-8 file written beside its target and renamed over it
    when the block succeeds (the earlier file stays whole until then).

    Raises:
        DataError: ``path`` cannot be written as a file (see :func:`output_file`).
    """
    target = None if path is None else output_file(path, option=option)
    if target is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    from pairsim.safe_io import atomic_open

    with atomic_open(target, what=option) as f:
        yield f


def resolve_lines(lines: list[str], path: str | Path, modality: str) -> list[str]:
    """Image paths of an input file resolved against the file's folder (as ``pair_table`` resolves them against
    the table's folder); texts are returned as they are.

    Example:
        >>> resolve_lines(["s1/1.pgm"], "/data/probes.txt", "image")
        ['/data/s1/1.pgm']
    """
    if modality != "image":
        return lines
    from pairsim.images import resolve_path
    from pairsim.towers.modality import looks_like_image_path

    folder = Path(path).parent
    # a line that is no image path (a text given to an image model) stays as written, for its error message
    return [resolve_path(line, folder) if looks_like_image_path(line) else line for line in lines]
