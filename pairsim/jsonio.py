"""One bounded JSON reader for every JSON document pairsim reads from a user's or a model's files.

``json.loads`` recurses once per nesting level, so ``[[[[...]]]]`` a hundred thousand levels deep raises a
``RecursionError`` (a traceback, or a crashed worker) instead of an answer. :func:`loads_bounded` first
measures the nesting depth with a linear scan that skips string contents, and the size, and refuses a
document past either bound with one line naming it; only then does it parse. A key twice in one object
(``"threshold": 0.5, "threshold": 0.9``) is refused too, naming the key: ``json`` silently kept the last.

Example:
    >>> loads_bounded('{"a": [1, 2, {"b": "[[["}]}', what="example.json")
    {'a': [1, 2, {'b': '[[['}]}
    >>> loads_bounded("[" * 100 + "]" * 100, what="deep.json")
    Traceback (most recent call last):
    ...
    pairsim.errors.DataError: deep.json: JSON nested deeper than 64 levels (100); refused
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pairsim.errors import DataError, PairsimError

MAX_DEPTH = 64  # pairsim's own files nest at most about 8 levels; tokenizer files about 10
MAX_BYTES = 256 * 2**20  # a tokenizer.json of a large vocabulary is tens of MB
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)  # a whole string (skipped), or one bracket


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in ``text``, brackets inside strings ignored (linear time).

    Args:
        text: A JSON document (valid or not: an unbalanced one is measured as far as it goes).

    Returns:
        The maximum number of open arrays and objects at any point.
    """
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def loads_bounded(
    text: str | bytes,
    *,
    what: str,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    error: type[PairsimError] = DataError,
) -> Any:
    """Parse JSON after checking its size and nesting depth.

    Args:
        text: The document (bytes are decoded as UTF-8).
        what: What it is, for the message (a file path, "gallery metadata").
        max_depth: The deepest nesting of arrays / objects accepted.
        max_bytes: The largest document accepted, in bytes (UTF-8).
        error: The error class raised (e.g. ``ModelFileError`` for a model directory's files).

    Returns:
        The parsed value.

    Raises:
        PairsimError: (``error``) One line: too large, nested too deep, not UTF-8, not valid JSON, or a key
            twice in one object (named).
    """
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise error(f"{what}: JSON document of {size} bytes; refused (at most {max_bytes})")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{what} is not UTF-8 text") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise error(f"{what}: JSON nested deeper than {max_depth} levels ({depth}); refused")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as err:
        raise error(
            f"{what}: key {str(err)[:80]!r} appears twice in one object (JSON readers disagree on which wins); refused"
        ) from None
    except (ValueError, RecursionError) as err:  # RecursionError: cannot happen past the depth check
        raise error(f"{what} is not valid JSON: {' '.join(str(err).split())[:200]}") from None


class _DuplicateKey(Exception):
    """A key twice in one JSON object (the key is the message)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' object hook: the object as a dict, refusing a key that occurs twice."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


def read_json_bounded(path: str | Path, *, what: str | None = None, error: type[PairsimError] = DataError) -> Any:
    """:func:`loads_bounded` of a file's bytes (read once; a file over :data:`MAX_BYTES` is not read whole).

    Args:
        path: The file.
        what: Name in messages (default: the path).
        error: The error class raised.

    Raises:
        PairsimError: (``error``) Unreadable, too large, too deep or not JSON.
    """
    path = Path(path)
    name = what or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise error(f"cannot read {name}: {err.strerror or err}") from None
    return loads_bounded(data, what=name, error=error)
