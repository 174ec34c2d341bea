"""The one policy for identity names, wherever a name enters a gallery: enroll folders, the HTTP service and the API.

A name is what ``identify`` answers with, so it must show as what it is in a terminal, a TSV file or a JSON
reply, and never look like another name or like "no match". :func:`check_identity` takes the name in its
Unicode NFC form (the composed form: ``"Jose" + U+0301`` and ``"José"`` are one spelling, stored as the latter)
and accepts it when:

* it is a string of 1 to :data:`MAX_NAME_LENGTH` (128) characters, not blank, without leading or trailing
  whitespace (``"ann "`` would show as ``"ann"``);
* its only space character is the plain space U+0020 (no tab, no no-break or other-width spaces);
* it holds no control character (Unicode category Cc: NUL, tab, newline, ESC, ...), no format character
  (Cf: zero-width space / joiners, the byte-order mark, bidirectional marks, embeddings, overrides and
  isolates), no line or paragraph separator, no surrogate, no private-use (Co) or unassigned (Cn) character,
  no variation selector (U+FE00-FE0F, U+E0100-E01EF: ``"ann"`` and ``"ann" + U+FE0F`` show alike), and none of
  the invisible fillers in :data:`INVISIBLE` (which are letters or marks to Unicode, but show as nothing);
* it has a visible base character (a letter, digit, punctuation or symbol), does not start with a combining
  mark, and holds at most :data:`MAX_COMBINING_RUN` (4) combining marks in a row (accents, Hebrew points,
  Hindi vowel signs pass; a pile of marks drawn over the neighbouring text does not);
* it is not a reserved label (:data:`RESERVED`: ``unknown``, what ``identify`` prints for no match), compared
  on its look-alike skeleton (:func:`skeleton`: NFKC, case-folded, the Cyrillic, Greek, Armenian and Cherokee
  letters of :data:`CONFUSABLES` read as the Latin letters they look like), so ``UNKNOWN``, full-width
  ``ｕｎｋｎｏｗｎ`` and ``unkn`` + Cyrillic ``о`` + ``wn`` are refused too.

Two names with the same :func:`identity_key` (NFKC + case-folding: ``Ann`` and ``ann``, ``ﬁona`` and ``fiona``)
are the same identity: :func:`find_identity` matches a name given to ``unenroll`` or ``DELETE`` to the spelling a
gallery stores, and :func:`check_new_identity` refuses to enroll a second spelling of a stored identity (naming
both). Galleries written before names were normalised are read with each name in NFC form
(:func:`pairsim.gallery.read_gallery`); one holding two spellings of one identity is refused with a line naming
both (``unenroll`` one by its exact spelling).

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
from collections.abc import Iterable

from pairsim.errors import DataError

MAX_NAME_LENGTH = 128
MAX_COMBINING_RUN = 4  # combining marks in a row (Hindi, Hebrew, Vietnamese names need 1 to 3)
NO_MATCH = "unknown"  # what identify prints (and the service answers) when no identity is close enough
# labels no name may look like; ``true`` / ``false`` show only in the ``known`` column, so a person may be
# called that, but CONFUSABLES covers their letters should they ever be reserved
RESERVED = (NO_MATCH,)
MAX_GALLERY_METADATA_BYTES = 50_000_000  # safetensors refuses headers past 100 MB; stay well under it
# characters Unicode does not count as control or format, that still show as nothing
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0")
# A small table of common look-alikes (not Unicode's full confusables list): Cyrillic, Greek, Armenian and
# Cherokee letters (capital and small, as they show) that read as a Latin letter, covering at least the
# letters of "unknown", "true" and "false". Used only to compare a name with RESERVED.
CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "А": "A", "е": "e", "Е": "E", "о": "o", "О": "O", "р": "p", "Р": "P", "с": "c", "С": "C",
        "у": "y", "У": "Y", "х": "x", "Х": "X", "к": "k", "К": "K", "Т": "T", "т": "t", "г": "r", "ѕ": "s",
        "Ѕ": "S", "і": "i", "І": "I", "ј": "j", "Ј": "J", "ԝ": "w", "Ԝ": "W", "һ": "h", "Н": "H", "ԁ": "d",
        "ӏ": "l", "Ӏ": "l", "М": "M", "В": "B", "Ԛ": "Q", "ԛ": "q",
        # Greek
        "α": "a", "Α": "A", "Ε": "E", "ο": "o", "Ο": "O", "Ν": "N", "ν": "v", "υ": "u", "Υ": "Y", "Κ": "K",
        "κ": "k", "Τ": "T", "τ": "t", "Ρ": "P", "ρ": "p", "ω": "w", "Ϝ": "F", "ϝ": "f", "Ι": "l", "ι": "i",
        "Β": "B", "Η": "H", "Μ": "M", "Χ": "X", "Ζ": "Z",
        # Armenian
        "ո": "n", "ս": "u", "օ": "o", "Օ": "O", "ա": "w", "հ": "h", "զ": "q", "ց": "g", "Ս": "U",
        # Cherokee (small letters case-fold to these capitals)
        "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭰ": "D", "Ꭼ": "E", "Ꮐ": "G", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K", "Ꮮ": "L",
        "Ꮇ": "M", "Ꮻ": "O", "Ꮲ": "P", "Ꭱ": "R", "Ꮢ": "R", "Ꮪ": "S", "Ꭲ": "T", "Ꮩ": "V", "Ꮃ": "W", "Ꮓ": "Z",
    }
)  # fmt: skip
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible format character (zero-width, byte-order mark or bidirectional control)",
    "Cs": "a lone surrogate",
    "Co": "a private-use character (it shows differently, or as nothing, from one font to another)",
    "Cn": "a character Unicode has not assigned",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
_CONTROL_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "newline", "\r": "carriage return", "\x1b": "escape"}
RULE = (
    f"a name of 1 to {MAX_NAME_LENGTH} visible characters (plain spaces inside allowed), not {NO_MATCH!r} "
    "nor a look-alike of it"
)


def _is_variation_selector(char: str) -> bool:
    return "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef"


def skeleton(name: str) -> str:
    """How ``name`` reads: NFKC, case-folded, the look-alike letters of :data:`CONFUSABLES` read as Latin.

    Example:
        >>> skeleton("UNKN\u041eWN")  # a Cyrillic capital O
        'unknown'
    """
    folded = unicodedata.normalize("NFKC", name)
    for _ in range(2):  # twice: Cherokee small letters case-fold to capitals, which the table then maps
        folded = folded.translate(CONFUSABLES).casefold()
    return folded


def identity_key(name: str) -> str:
    """What makes two names the same identity: NFKC + case-folding (``Ann`` / ``ann``, ``ﬁ`` / ``fi``)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _shown(name: str) -> str:
    """The name as messages quote it: escaped (``repr``) and at most 40 characters of it, followed by its ASCII
    escape when it holds a character that shows as nothing, over its neighbour or as a Latin letter."""
    cut = name if len(name) <= 40 else name[:40] + "..."
    hidden = any(
        unicodedata.category(c)[0] in "MC" or c in INVISIBLE or ord(c) in CONFUSABLES or _is_variation_selector(c)
        for c in cut
    )
    return f"{cut!r} (escaped {cut!a})" if hidden and repr(cut) != ascii(cut) else repr(cut)


def _char(char: str) -> str:
    label = _CONTROL_NAMES.get(char) or unicodedata.name(char, "").lower() or "unnamed"
    return f"U+{ord(char):04X} ({label})"


def _problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if not name.strip():
        return "is empty" if not name else "is only whitespace"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long"
    run = 0
    for char in name:
        category = unicodedata.category(char)
        what = _REFUSED_CATEGORIES.get(category)
        if what is None and char in INVISIBLE:
            what = "an invisible filler character"
        if what is None and _is_variation_selector(char):
            what = "a variation selector (it shows as nothing, so the name looks like one without it)"
        if what is None and category == "Zs" and char != " ":
            what = "a space other than the plain space U+0020"
        if what is not None:
            return f"holds {what}, {_char(char)}"
        run = run + 1 if category.startswith("M") else 0
        if run > MAX_COMBINING_RUN:
            return f"holds more than {MAX_COMBINING_RUN} combining marks in a row ({_char(char)})"
    if name != name.strip():
        return "starts or ends with a space"
    if not any(unicodedata.category(char)[0] in "LNPS" for char in name):
        return "has no visible base character (only combining marks)"
    if unicodedata.category(name[0]).startswith("M"):
        return f"starts with a combining mark, {_char(name[0])} (it would sit on whatever is shown before it)"
    reserved = skeleton(name)
    if reserved in RESERVED:
        return "is the label identify prints for no match" if identity_key(name) == reserved else (
            f"looks like {reserved!r}, the label identify prints for no match")  # fmt: skip
    return None


def _normal(name: object) -> object:
    return unicodedata.normalize("NFC", name) if isinstance(name, str) and len(name) <= MAX_NAME_LENGTH * 4 else name


def identity_problem(name: object) -> str | None:
    """What is wrong with ``name`` as an identity (see the module docstring), or None when it is fine.

    The name is judged in its NFC form (what :func:`check_identity` returns).

    Example:
        >>> identity_problem("ann\\tlee")
        'holds a control character, U+0009 (tab)'
    """
    return _problem(_normal(name))


def check_identity(name: object, *, where: str = "identity") -> str:
    """Return ``name`` in NFC form if it is a valid identity name, else raise a one-line :class:`DataError`.

    Store and compare the returned name, never the one given: ``"Jose" + U+0301`` comes back as ``"José"``.

    Args:
        name: The candidate name.
        where: How the message names it (``identity``, ``enroll: folder people/x``, ...).

    Returns:
        ``name`` in Unicode NFC form (unchanged when it already is).

    Raises:
        DataError: ``name`` breaks the policy; the message quotes (a prefix of) it and says what is wrong.
    """
    normal = _normal(name)
    problem = _problem(normal)
    if problem is not None:
        shown = _shown(name) if isinstance(name, str) else type(name).__name__
        raise DataError(f"{where} {shown}: {problem}; expected {RULE}")
    assert isinstance(normal, str)
    return normal


def find_identity(stored: Iterable[str], name: str) -> str | None:
    """The spelling in ``stored`` that ``name`` means (for unenroll / delete), or None when none.

    The exact spelling (in NFC form) first; else the one stored name with the same :func:`identity_key`
    (``unenroll josé`` removes a stored ``José``, never a different person).

    Raises:
        DataError: No exact spelling, and several stored names share the key (a gallery written before names
            were normalised): the message names them; give one exactly.
    """
    stored = list(dict.fromkeys(stored))
    normal = unicodedata.normalize("NFC", name)
    for candidate in (name, normal):
        if candidate in stored:
            return candidate
    key = identity_key(name)
    same = [s for s in stored if identity_key(s) == key]
    if len(same) > 1:
        raise DataError(
            f"identity {_shown(name)} could mean any of {', '.join(map(ascii, same))} (spellings of one name); "
            "give the one to remove exactly as stored"
        )
    return same[0] if same else None


def check_new_identity(stored: Iterable[str], name: str, *, where: str = "enroll: identity") -> None:
    """Refuse to enroll ``name`` (as :func:`check_identity` returned it) when ``stored`` holds another spelling
    of the same identity (same :func:`identity_key`); the same spelling is fine (re-enrolling replaces it).

    Raises:
        DataError: One line naming both spellings.
    """
    key = identity_key(name)
    for other in dict.fromkeys(stored):
        if other != name and identity_key(other) == key:
            raise DataError(
                f"{where} {_shown(name)}: is another spelling of {_shown(other)}, already enrolled (names equal "
                "up to case, accents' encoding or compatibility forms are one identity); enroll it as "
                f"{_shown(other)}, or unenroll that first"
            )


def colliding(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two distinct names of ``names`` that are one identity (same :func:`identity_key`), or None."""
    seen: dict[str, str] = {}
    for name in dict.fromkeys(names):
        other = seen.setdefault(identity_key(name), name)
        if other != name:
            return other, name
    return None
