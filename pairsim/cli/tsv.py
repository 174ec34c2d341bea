"""The one rule for every tab-separated output of the command line (``score``, ``identify``, ...).

A field is written as it is unless it holds a character that would break the table or hide in it; those are
written as backslash escapes, so every row is one line with the same number of tab-separated fields:

* ``\\`` -> ``\\\\``, tab -> ``\\t``, newline -> ``\\n``, carriage return -> ``\\r`` (PostgreSQL's TEXT format);
* any other control character (Unicode category Cc, e.g. NUL, ESC, U+0085), the line and paragraph separators
  U+2028 / U+2029, and the bidirectional embedding, override and isolate controls (U+202A..U+202E,
  U+2066..U+2069), which can reorder how a terminal shows the columns: ``\\xHH``, ``\\uHHHH`` (Python's escapes).

Reading a field back: ``codecs.decode(field, "unicode_escape")`` for ASCII text; for any text, replace the
escapes above. A field without a backslash was written as it is.

Example:
    >>> tsv_line("a\\tb", "line 1\\nline 2", 0.5)
    'a\\\\tb\\tline 1\\\\nline 2\\t0.5\\n'
"""

from __future__ import annotations

import re

_SIMPLE = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# every character a field may not hold as it is (Cc is U+0000..U+001F and U+007F..U+009F)
_UNSAFE = re.compile(f"[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")


def _escape(char: str) -> str:
    if char in _SIMPLE:
        return _SIMPLE[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def tsv_field(value: object) -> str:
    """``value`` as one TSV field: ``str(value)`` with the characters listed in the module docstring escaped.

    Example:
        >>> tsv_field("ann\\x00")
        'ann\\\\x00'
    """
    text = str(value)
    return _UNSAFE.sub(lambda m: _escape(m.group()), text) if _UNSAFE.search(text) else text


def tsv_line(*values: object) -> str:
    """One TSV row: the fields escaped by :func:`tsv_field`, joined by tabs, ending in a newline."""
    return "\t".join(map(tsv_field, values)) + "\n"
