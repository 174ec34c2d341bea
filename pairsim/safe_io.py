"""Writing files and directories so that a crash or a failure never loses what was there before.

Every writer in pairsim (saved models, checkpoints, ``metrics.json``, galleries, ``--out`` files) goes
through these helpers instead of writing in place:

* :func:`atomic_write` writes a file next to its target (``.NAME.tmp``), flushes it to disk and renames it
  over the target: a reader sees the old file or the new one, never half of one.
* :func:`atomic_dir` builds a directory next to its target (``.NAME.new``) and swaps it in with
  :func:`swap_dir`; the old directory is removed only once the new one is in place.
* :func:`recover_dir` finishes a swap that a kill interrupted between its two renames, so some complete
  directory is always found at the path.
* :func:`clean_leftovers` removes the temporary names these helpers use (and that older pairsim versions
  used: ``.NAME.XXXXXXXX`` from ``mkdtemp``, ``.NAME.*.tmp`` from ``mkstemp``), never anything else.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = atomic_write(target, lambda tmp: tmp.write_text("hello"))
    >>> target.read_text()
    'hello'
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from pairsim.errors import DataError


def _tmp(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}")


def _fsync(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    except OSError:  # some filesystems cannot fsync; the rename is still atomic
        pass


def check_file_target(target: Path, *, what: str = "output") -> None:
    """Raise a one-line :class:`DataError` if ``target`` cannot be written as a file.

    Args:
        target: The file to be written.
        what: How the message names it (``--out``, ``gallery``, ...).

    Raises:
        DataError: ``target`` is a directory, or its folder does not exist.
    """
    if target.is_dir():
        raise DataError(f"{what} {target} is a directory; expected a file name")
    if not target.parent.is_dir():
        raise DataError(f"{what} {target}: folder {target.parent} does not exist")


def atomic_write(target: str | Path, write: Callable[[Path], object], *, suffix: str = "") -> Path:
    """Write a file through ``write(tmp_path)`` and rename it over ``target`` only when that succeeded.

    Args:
        target: The file to (re)place. Its folder must exist.
        write: Writes the whole file to the path it is given.
        suffix: Suffix of the temporary name (``np.save`` adds ``.npy`` to names without it).

    Returns:
        ``target``.

    Raises:
        DataError: ``target`` is a directory or its folder is missing.
    """
    target = Path(target)
    check_file_target(target)
    tmp = _tmp(target, f"tmp{suffix}")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


@contextlib.contextmanager
def atomic_open(target: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text file opened for writing at a temporary path, renamed over ``target`` when the block succeeds.

    Raises:
        DataError: ``target`` is a directory or its folder is missing.
    """
    target = Path(target)
    check_file_target(target)
    tmp = _tmp(target, "tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            yield handle
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(target: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def swap_dir(new: Path, target: Path) -> None:
    """Put the complete directory ``new`` at ``target``; the previous ``target`` is removed afterwards.

    A kill between the two renames leaves ``.NAME.old`` (the previous directory) and ``new`` (complete);
    :func:`recover_dir` then finishes the swap, so nothing is lost.
    """
    old = _tmp(target, "old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(target: Path, *, complete: Callable[[Path], bool]) -> bool:
    """Finish a :func:`swap_dir` interrupted after ``target`` was moved away. Returns True if it did.

    Args:
        target: The directory that should exist.
        complete: Whether a candidate directory is whole (e.g. its last-written file is present).
    """
    if target.exists():
        return False
    for tag in ("new", "old"):  # the new one is complete once it is renamed; else the previous one
        candidate = _tmp(target, tag)
        if candidate.is_dir() and complete(candidate):
            os.replace(candidate, target)
            return True
    return False


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Build a directory at a temporary path and swap it in at ``target`` when the block succeeds.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
        >>> with atomic_dir(target) as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        >>> sorted(p.name for p in target.iterdir())
        ['config.json']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    new = _tmp(target, "new")
    if new.exists():
        shutil.rmtree(new)
    new.mkdir()
    try:
        yield new
        swap_dir(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def leftovers(target: Path) -> list[Path]:
    """The temporary siblings of ``target`` that pairsim writers leave when killed."""
    if not target.parent.is_dir():
        return []
    name = re.escape(target.name)
    ours = re.compile(rf"^\.{name}\.(old|new|tmp(\..+)?|.+\.tmp)$")
    mkdtemp = re.compile(rf"^\.{name}\.[a-z0-9_]{{8}}$")  # directories of older versions' saves
    return sorted(p for p in target.parent.iterdir() if ours.match(p.name) or (mkdtemp.match(p.name) and p.is_dir()))


def clean_leftovers(target: str | Path) -> list[Path]:
    """Remove the leftovers of a killed write of ``target`` (after :func:`recover_dir` when it is a directory).

    Returns:
        The paths removed.
    """
    removed = leftovers(Path(target))
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed
