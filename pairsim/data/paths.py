"""Where a dataset's files live: an explicit path, else ``$PAIRSIM_DATA_DIR/<folder>``, else the user cache.

Example:
    >>> data_root("/data/faces", "att_faces")
    PosixPath('/data/faces')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pairsim.errors import DataError

ENV_VAR = "PAIRSIM_DATA_DIR"
DEFAULT_DIR = Path("~/.cache/pairsim/data")


def data_root(path: str | None, folder: str) -> Path:
    """The folder holding one dataset's files.

    Args:
        path: The dataset config's explicit ``path``; wins when given.
        folder: The dataset's folder name under the data directory (e.g. "omniglot").

    Returns:
        ``path``, else ``$PAIRSIM_DATA_DIR/<folder>``, else ``~/.cache/pairsim/data/<folder>`` (expanded).
    """
    if path:
        return Path(path).expanduser()
    base = os.environ.get(ENV_VAR)
    return (Path(base) if base else DEFAULT_DIR).expanduser() / folder


def missing_error(name: str, root: Path, files: Sequence[str], how: str) -> DataError:
    """The one-line error for a dataset that is not on disk.

    Args:
        name: Registered dataset name.
        root: The folder that was searched.
        files: The files (or folders) expected there.
        how: How to get them, e.g. "set download: true to fetch them from https://...".

    Returns:
        A DataError naming the folder, the expected files and how to get them.
    """
    return DataError(
        f"dataset {name!r} not found: expected {', '.join(files)} in {root}; put the files there "
        f"(or set the dataset's path, or ${ENV_VAR}), or {how}"
    )


def require_files(name: str, root: Path, files: Sequence[str], how: str) -> None:
    """Raise :func:`missing_error` unless every one of ``files`` exists under ``root``."""
    if not all((root / f).exists() for f in files):
        raise missing_error(name, root, files, how)
