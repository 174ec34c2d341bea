"""The command line's one line reader: lines end at \\n or \\r\\n only."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.cli.inputs import read_lines, split_lines

OTHER_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("char", OTHER_BREAKS)
def test_a_line_keeps_characters_str_splitlines_would_split_at(char: str, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(f"first\nin{char}side\r\nlast\n".encode())
    assert read_lines(path) == ["first", f"in{char}side", "last"]  # the row after it is not shifted


@pytest.mark.parametrize(
    "text, lines",
    [("a\nb", ["a", "b"]), ("a\nb\n", ["a", "b"]), ("a\r\n\r\nb\r\n", ["a", "", "b"]), ("\n", [""]), ("", [])],
)
def test_split_lines_matches_splitlines_on_ordinary_newlines(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines == text.splitlines()


def test_a_byte_order_mark_is_still_dropped(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffx\ny\n".encode())
    assert read_lines(path) == ["x", "y"]
