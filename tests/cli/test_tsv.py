"""The one TSV rule of the command line (issue 22): a field never breaks its row or hides what it holds."""

from __future__ import annotations

import codecs

import pytest

from pairsim.cli.tsv import tsv_field, tsv_line


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain name", "plain name"),
        ("José 李雷 😀", "José 李雷 😀"),  # printable text is written as it is
        ("a\tb", "a\\tb"),
        ("line 1\nline 2\r\n", "line 1\\nline 2\\r\\n"),
        ("C:\\people\\ann", "C:\\\\people\\\\ann"),
        ("\x00nul", "\\x00nul"),
        ("\x1b[2Jclear", "\\x1b[2Jclear"),
        ("next\x85line", "next\\x85line"),
        ("para\u2029graph", "para\\u2029graph"),
        ("\u202eevil.png", "\\u202eevil.png"),  # a right-to-left override would reorder the columns on screen
        ("\u2067isolate\u2069", "\\u2067isolate\\u2069"),
        (0.5, "0.5"),
    ],
)
def test_fields_escape_what_would_break_or_hide_in_a_row(value: object, written: str) -> None:
    assert tsv_field(value) == written


@pytest.mark.parametrize("text", ["a\tb", "x\\ty", "a\\\\\n", "\x00\x1f\x7f", "back\\slash\r"])
def test_ascii_fields_read_back_with_unicode_escape(text: str) -> None:
    assert codecs.decode(tsv_field(text), "unicode_escape") == text


def test_a_row_is_one_line_with_one_field_per_value() -> None:
    row = tsv_line("probe\twith\ttabs", "ann\nlee", "0.250000", "true")
    assert (
        row.endswith("\n")
        and row.count("\n") == 1
        and row.rstrip("\n").split("\t")
        == [
            "probe\\twith\\ttabs",
            "ann\\nlee",
            "0.250000",
            "true",
        ]
    )
