"""Writing files and directories so that a crash or a failure never loses what was there before.

Every writer in pairsim (saved models, checkpoints, ``metrics.json``, galleries, ``--out`` files) goes
through these helpers instead of writing in place:

* :func:`check_file_target` is the one output-path policy. A file is written only where there is nothing
  yet or a **regular file** (which is replaced). Anything else at the path (a directory, a FIFO, a socket,
  a character or block device such as ``/dev/null``) is one :class:`DataError` naming the path and what it
  is; it is never renamed over. A **symbolic link** to a regular file is followed: its target is replaced
  atomically and the link stays a link. A dangling link, a link loop, or a link to anything but a regular
  file is refused. (Standard output is the command line's ``--out -``, see :mod:`pairsim.cli.inputs`.)
* :func:`atomic_write` (and :func:`atomic_open`) writes a file in a private scratch folder next to its target
  (``.NAME.tmp.d/``, made fresh by ``mkdir``: whatever sat at the name, a link included, is unlinked first),
  flushes it to disk and renames it over the target: a reader sees the old file or the new one, never half
  of one. Whatever temporary files the writing library makes itself (safetensors writes ``.tmpXXXXXX`` and
  renames it) stay inside that folder, which is removed afterwards, or by :func:`clean_leftovers` or the
  next write of the same target after a kill.
* :func:`atomic_dir` builds a directory next to its target (``.NAME.new``) and swaps it in with
  :func:`swap_dir`; the old directory is removed only once the new one is in place. The target must be a
  real directory or nothing (a symbolic link, a file or a device is refused).
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
import stat
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


def kind_of(path: Path) -> str | None:
    """What is at ``path`` without following a final symbolic link, in words; None when nothing is.

    Example:
        >>> kind_of(Path("/"))
        'a directory'
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:  # a file in the middle of the path: nothing can be at it
        return None
    kinds = [
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((words for test, words in kinds if test(mode)), "not a regular file")


def check_file_target(target: str | Path, *, what: str = "output") -> Path:
    """The path a file for ``target`` is written to, after the output-path policy (see the module docstring).

    Args:
        target: The file to be written.
        what: How the message names it (``--out``, ``gallery``, ...).

    Returns:
        ``target``, or for a symbolic link to a regular file the file it points to (replaced in its place).

    Raises:
        DataError: Something other than a regular file is at ``target`` (a directory, FIFO, socket, device,
            a dangling link or a link to one of those), or its folder does not exist.
    """
    target = Path(target)
    real, kind = target, kind_of(target)
    if kind == "a directory":
        raise DataError(f"{what} {target} is a directory; expected a file name")
    if kind == "a symbolic link":
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, a loop, or a folder on the way that is gone
            raise DataError(
                f"{what} {target} is a symbolic link to {os.readlink(target)}, which does not exist; expected a "
                "regular file (a link is followed to the file it points to) or a new name"
            ) from None
        kind = kind_of(real)
        if kind != "a regular file":
            raise DataError(f"{what} {target} is a symbolic link to {real}, which is {kind}; expected a regular file")
    elif kind not in (None, "a regular file"):
        raise DataError(f"{what} {target} is {kind}; expected a regular file or a new name (it is left as it is)")
    if not real.parent.is_dir():
        raise DataError(f"{what} {target}: folder {real.parent} does not exist")
    return real


def _still_writable(real: Path, target: Path, what: str) -> None:
    """Refuse the final rename when something other than a regular file appeared at ``real`` meanwhile."""
    kind = kind_of(real)
    if kind not in (None, "a regular file"):
        raise DataError(f"{what} {target} became {kind} while it was written; it is left as it is")


def remove_entry(path: Path) -> None:
    """Remove whatever is at ``path`` without following a link: a real directory with its content, anything
    else (a link, a file, a FIFO) with ``unlink``, which never opens it. Nothing there is fine."""
    kind = kind_of(path)
    if kind == "a directory":
        shutil.rmtree(path)
    elif kind is not None:
        path.unlink(missing_ok=True)


def _scratch(real: Path) -> Path:
    """A fresh private folder beside ``real`` for writing it (a stale one of a killed write is removed).

    ``mkdir`` creates it exclusively (it fails if anything, a link included, appeared at the name meanwhile),
    so every temporary file of a write is made inside a folder nobody else put there and never through a link.
    """
    scratch = _tmp(real, "tmp.d")
    remove_entry(scratch)
    scratch.mkdir(mode=0o700)
    return scratch


def atomic_write(
    target: str | Path, write: Callable[[Path], object], *, suffix: str = "", what: str = "output"
) -> Path:
    """Write a file through ``write(tmp_path)`` and rename it over ``target`` only when that succeeded.

    ``tmp_path`` lies in a private folder (``.NAME.tmp.d/``) that is removed afterwards, so temporary files
    the writing library makes beside ``tmp_path`` never outlive the write.

    Args:
        target: The file to (re)place, under the policy of :func:`check_file_target`. Its folder must exist.
        write: Writes the whole file to the path it is given.
        suffix: Suffix of the temporary name (``np.save`` adds ``.npy`` to names without it).
        what: How messages name the file (``--out``, ``gallery``, ...).

    Returns:
        ``target``.

    Raises:
        DataError: ``target`` is not a regular file or a new name (see :func:`check_file_target`), or its
            folder is missing.
    """
    target = Path(target)
    real = check_file_target(target, what=what)
    scratch = _scratch(real)
    try:
        tmp = scratch / f"new{suffix}"
        write(tmp)
        _fsync(tmp)
        _still_writable(real, target, what)
        os.replace(tmp, real)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


@contextlib.contextmanager
def atomic_open(target: str | Path, *, what: str = "output") -> Iterator[TextIO]:
    """A UTF-8 text file opened for writing at a temporary path, renamed over ``target`` when the block succeeds.

    Args:
        target: The file to (re)place, under the policy of :func:`check_file_target`.
        what: How messages name the file.

    Raises:
        DataError: ``target`` is not a regular file or a new name, or its folder is missing.
    """
    target = Path(target)
    real = check_file_target(target, what=what)
    scratch = _scratch(real)  # never the old ``.NAME.tmp``: whatever sits there (a link, a FIFO) is not opened
    try:
        tmp = scratch / "new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        with open(fd, "w", encoding="utf-8") as handle:
            yield handle
        _fsync(tmp)
        _still_writable(real, target, what)
        os.replace(tmp, real)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_dir_target(target: Path, *, what: str = "output folder") -> None:
    """Raise a one-line :class:`DataError` unless ``target`` is a real directory or nothing (it is to be replaced).

    A symbolic link is refused rather than followed: replacing a folder as a whole would replace the link.
    """
    kind = kind_of(target)
    if kind not in (None, "a directory"):
        raise DataError(f"{what} {target} is {kind}; expected a folder (or a new name); it is left as it is")


def dir_target(target: str | Path) -> Path:
    """``target`` as a path whose last part names the folder: ``.``, ``..`` (or a path ending in them) is
    resolved to the folder it means, so it is written like that folder's own name.

    Example:
        >>> dir_target("a/b"), dir_target("/") == Path("/")
        (PosixPath('a/b'), True)
    """
    target = Path(target).expanduser()
    return target.resolve() if target.name in ("", "..") and str(target) != target.anchor else target


def swap_dir(new: Path, target: Path) -> None:
    """Put the complete directory ``new`` at ``target``; the previous ``target`` is removed afterwards.

    A kill between the two renames leaves ``.NAME.old`` (the previous directory) and ``new`` (complete);
    :func:`recover_dir` then finishes the swap, so nothing is lost.
    """
    check_dir_target(target)
    old = _tmp(target, "old")
    remove_entry(old)
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
        if kind_of(candidate) == "a directory" and complete(candidate):  # a link there is never moved in
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
    target = dir_target(target)
    check_dir_target(target)
    here = Path.cwd()
    if kind_of(target) == "a directory" and (here == target.resolve() or target.resolve() in here.parents):
        raise DataError(
            f"output folder {target} is the current folder or holds it, and is replaced as a whole; "
            "expected another folder (a new name, or one of its own)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    new = _tmp(target, "new")
    remove_entry(new)
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
