"""The errors pairsim raises on bad input.

Every error a user can cause is a :class:`PairsimError` with one line that names the bad input and
what was expected; the command line prints that line and exits non-zero, never a bare traceback.
"""

from __future__ import annotations

import reprlib


class PairsimError(Exception):
    """Base class of every error caused by bad input (recipe, data, files, arguments)."""


class ConfigError(PairsimError, ValueError):
    """A recipe, override or saved config has an unknown key, a wrong type or an unknown name."""


class DataError(PairsimError, ValueError):
    """A dataset, image or text file is missing, unreadable or does not have the expected shape."""


class ModelFileError(PairsimError, OSError):
    """A saved model directory is missing a file, or a file is corrupted or does not match its config."""


SHOWN_CHARS = 80  # longest quotation of a value in an error message


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A short ``repr`` of ``value`` for an error message: at most ``limit`` characters, ending in ``...`` when cut.

    Every message that quotes a user's value goes through this, so a huge or alias-expanded value (a YAML
    "billion laughs" list, a 10 MB string) costs a few microseconds and one short line, never its full repr.

    Args:
        value: Any value (nested lists and dicts are shown to a few items and levels only).
        limit: Most characters of the result.

    Returns:
        The shortened repr.

    Example:
        >>> shown("x" * 1000, limit=12)
        "'xxxxxxxx..."
        >>> shown([[1, 2, 3, 4, 5, 6]] * 3)
        '[[1, 2, 3, 4, ...], [1, 2, 3, 4, ...], [1, 2, 3, 4, ...]]'
    """
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with a few items per level, a few levels, and no full conversion of a huge integer."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 3, 4, 4, 4, 4
        self.maxstring = self.maxother = self.maxlong = SHOWN_CHARS

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:  # str() of a huge int is slow, and past 4300 digits an error
            return f"<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()
