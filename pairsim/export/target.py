"""Where an export may be written: a new or empty folder, or an earlier export of the same kind (replaced whole)."""

from __future__ import annotations

from pathlib import Path

from pairsim.errors import DataError


def check_target(target: Path, marker: str, what: str) -> None:
    """Refuse to replace a folder that is neither empty nor an earlier export (whose ``marker`` file it holds).

    Raises:
        DataError: ``target`` is a file, or a folder with other content (nothing is deleted).
    """
    if target.is_file():
        raise DataError(f"--out {target} is a file; expected a folder for the {what}")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).is_file():
        raise DataError(
            f"--out {target} holds other files and is not an earlier {what} (no {marker}); choose a new folder"
        )
    if not target.parent.is_dir():
        raise DataError(f"--out {target}: folder {target.parent} does not exist")
