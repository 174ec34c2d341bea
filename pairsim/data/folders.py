"""Which entries of a folder of classes or identities count: hidden ones (names starting with ``.``) never do.

A folder with one sub-folder per class (``image_folder`` data) or per identity (``pairsim enroll``) often holds
things that are no class: ``.ipynb_checkpoints/`` (Jupyter), ``.DS_Store`` and ``._photo.jpg`` (macOS),
``.git/``. Both readers list a folder through :func:`visible_entries` and say in one note what they skipped.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("ann", ".ipynb_checkpoints"):
    ...     (root / name).mkdir()
    >>> shown, hidden = visible_entries(root)
    >>> [p.name for p in shown], [p.name for p in hidden]
    (['ann'], ['.ipynb_checkpoints'])
    >>> skipped_note(hidden, root).endswith("names starting with '.' are never classes or identities")
    True
"""

from __future__ import annotations

from pathlib import Path


def is_hidden(path: Path) -> bool:
    """Whether ``path`` is hidden: its name starts with a dot."""
    return path.name.startswith(".")


def visible_entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """The entries of ``folder`` that count and the hidden ones it skips, each sorted by name.

    Args:
        folder: An existing folder.

    Returns:
        ``(visible, hidden)``.
    """
    entries = sorted(folder.iterdir())
    return [p for p in entries if not is_hidden(p)], [p for p in entries if is_hidden(p)]


def skipped_note(hidden: list[Path], root: Path, *, shown: int = 5) -> str:
    """One line saying which hidden entries under ``root`` were skipped (the first ``shown`` of them by name).

    Args:
        hidden: The skipped paths (folders get a trailing ``/``).
        root: The folder that was read, for the message.
        shown: How many names to list.
    """
    names = [p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") if p.is_relative_to(root) else str(p)
             for p in hidden]  # fmt: skip
    listed = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    return (
        f"skipped {len(names)} hidden entr{'y' if len(names) == 1 else 'ies'} in {root}: {listed} "
        "(names starting with '.' are never classes or identities)"
    )
