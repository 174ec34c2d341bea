"""The bounded JSON reader (pairsim/jsonio.py): depth and size are checked before parsing, in linear time."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.errors import DataError, ModelFileError
from pairsim.jsonio import json_depth, loads_bounded, read_json_bounded


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]", "\\"[["]', 1),  # brackets inside strings, escaped quotes included, do not count
        ('{"k\\\\": [[]]}', 3),  # an escaped backslash ends before the closing quote
        ('{"a": ["x", ["y"]]}', 3),  # (the service's old twin of this scan had these three cases)
        ('["\\"[[[", "\\\\", [1]]', 2),
        ("42", 0),
    ],
)
def test_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_a_deep_document_is_one_line_not_a_recursion_error() -> None:
    text = "[" * 200_000 + "]" * 200_000  # json.loads alone raises RecursionError on this
    with pytest.raises(DataError) as info:
        loads_bounded(text, what="deep.json")
    assert str(info.value) == "deep.json: JSON nested deeper than 64 levels (200000); refused"


def test_the_depth_limit_is_inclusive_and_the_error_class_is_the_callers() -> None:
    assert loads_bounded("[" * 64 + "]" * 64, what="x") == eval("[" * 64 + "]" * 64)
    with pytest.raises(ModelFileError, match="deeper than 64 levels"):
        loads_bounded("{" + '"a":' * 0 + "[" * 65 + "]" * 65 + "}", what="x", max_depth=64, error=ModelFileError)


def test_size_utf8_and_syntax_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^x: JSON document of 12 bytes; refused \(at most 10\)$"):
        loads_bounded('"0123456789"', what="x", max_bytes=10)
    with pytest.raises(DataError, match=r"^x is not UTF-8 text$"):
        loads_bounded(b'"\xff"', what="x")
    with pytest.raises(DataError, match=r"^x is not valid JSON: "):
        loads_bounded("{'single': 1}", what="x")
    with pytest.raises(DataError, match=r"^cannot read .*missing\.json"):
        read_json_bounded(tmp_path / "missing.json")
    (tmp_path / "ok.json").write_text('{"a": 1}')
    assert read_json_bounded(tmp_path / "ok.json") == {"a": 1}


@pytest.mark.parametrize(
    "text, key",
    [
        ('{"threshold": 0.5, "threshold": 0.9}', "threshold"),
        ('{"model": {"head": {"name": "cosine", "name": "l1"}}}', "name"),
        ('[1, {"a": 1, "b": 2, "a": 3}]', "a"),
    ],
)
def test_a_key_twice_in_one_object_is_refused_naming_it(text: str, key: str) -> None:
    with pytest.raises(ModelFileError) as err:
        loads_bounded(text, what="config.json", error=ModelFileError)
    assert str(err.value) == (
        f"config.json: key {key!r} appears twice in one object (JSON readers disagree on which wins); refused"
    )


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert loads_bounded('{"a": {"x": 1}, "b": {"x": 2}, "x": 3}', what="ok.json") == {
        "a": {"x": 1},
        "b": {"x": 2},
        "x": 3,
    }
