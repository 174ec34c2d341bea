"""The one policy for identity names, wherever a name enters a gallery: enroll folders, the HTTP service and the API.

A name is what ``identify`` answers with, so it must show as what it is in a terminal, a TSV file or a JSON
reply, and never look like another name or like "no match". :func:`check_identity` accepts a name when:

* it is a string of 1 to :data:`MAX_NAME_LENGTH` (128) characters, not blank, without leading or trailing
  whitespace (``"ann "`` would show as ``"ann"``);
* its only space character is the plain space U+0020 (no tab, no no-break or other-width spaces);
* it holds no control character (Unicode category Cc: NUL, tab, newline, ESC, ...), no format character
  (Cf: zero-width space / joiners, the byte-order mark, bidirectional marks, embeddings, overrides and
  isolates), no line or paragraph separator, no surrogate, and none of the invisible fillers in
  :data:`INVISIBLE` (which are letters or marks to Unicode, but show as nothing);
* it is not the label of "no match": :data:`NO_MATCH` (``unknown``), compared case-insensitively after NFKC
  normalisation (so ``UNKNOWN`` and full-width ``ｕｎｋｎｏｗｎ`` are refused too).

Galleries keep each name once per enrolled example, so a gallery's metadata is bounded as well
(:data:`MAX_GALLERY_METADATA_BYTES`, see :mod:`pairsim.gallery`).

Example:
    >>> check_identity("Ann Lee")
    'Ann Lee'
    >>> check_identity("unknown")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pairsim.errors.DataError: identity 'unknown': is the label identify prints for no match; expected a name ...
"""

from __future__ import annotations

import unicodedata

from pairsim.errors import DataError

MAX_NAME_LENGTH = 128
NO_MATCH = "unknown"  # what identify prints (and the service answers) when no identity is close enough
MAX_GALLERY_METADATA_BYTES = 50_000_000  # safetensors refuses headers past 100 MB; stay well under it
# characters Unicode does not count as control or format, that still show as nothing
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0")
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible format character (zero-width, byte-order mark or bidirectional control)",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
_CONTROL_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "newline", "\r": "carriage return", "\x1b": "escape"}
RULE = f"a name of 1 to {MAX_NAME_LENGTH} visible characters (plain spaces inside allowed), not {NO_MATCH!r}"


def _shown(name: str) -> str:
    """The name as messages quote it: escaped (``repr``) and at most 40 characters of it."""
    return repr(name if len(name) <= 40 else name[:40] + "...")


def _problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if not name.strip():
        return "is empty" if not name else "is only whitespace"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long"
    for char in name:
        category = unicodedata.category(char)
        what = _REFUSED_CATEGORIES.get(category)
        if what is None and char in INVISIBLE:
            what = "an invisible filler character"
        if what is None and category == "Zs" and char != " ":
            what = "a space other than the plain space U+0020"
        if what is not None:
            label = _CONTROL_NAMES.get(char) or unicodedata.name(char, "").lower() or "unnamed"
            return f"holds {what}, U+{ord(char):04X} ({label})"
    if name != name.strip():
        return "starts or ends with a space"
    if unicodedata.normalize("NFKC", name).casefold() == NO_MATCH:
        return "is the label identify prints for no match"
    return None


def identity_problem(name: object) -> str | None:
    """What is wrong with ``name`` as an identity (see the module docstring), or None when it is fine.

    Example:
        >>> identity_problem("ann\\tlee")
        'holds a control character, U+0009 (tab)'
    """
    return _problem(name)


def check_identity(name: object, *, where: str = "identity") -> str:
    """Return ``name`` if it is a valid identity name, else raise a one-line :class:`DataError`.

    Args:
        name: The candidate name.
        where: How the message names it (``identity``, ``enroll: folder people/x``, ...).

    Returns:
        ``name`` unchanged.

    Raises:
        DataError: ``name`` breaks the policy; the message quotes (a prefix of) it and says what is wrong.
    """
    problem = _problem(name)
    if problem is not None:
        shown = _shown(name) if isinstance(name, str) else type(name).__name__
        raise DataError(f"{where} {shown}: {problem}; expected {RULE}")
    assert isinstance(name, str)
    return name
