"""The errors pairsim raises on bad input.

Every error a user can cause is a :class:`PairsimError` with one line that names the bad input and
what was expected; the command line prints that line and exits non-zero, never a bare traceback.
"""

from __future__ import annotations


class PairsimError(Exception):
    """Base class of every error caused by bad input (recipe, data, files, arguments)."""


class ConfigError(PairsimError, ValueError):
    """A recipe, override or saved config has an unknown key, a wrong type or an unknown name."""


class DataError(PairsimError, ValueError):
    """A dataset, image or text file is missing, unreadable or does not have the expected shape."""


class ModelFileError(PairsimError, OSError):
    """A saved model directory is missing a file, or a file is corrupted or does not match its config."""
