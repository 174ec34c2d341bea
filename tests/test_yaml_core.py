"""The one YAML reader: YAML 1.2 core schema numbers and booleans, duplicate keys refused, alias bombs bounded."""

from __future__ import annotations

import math

import pytest
import yaml

from pairsim.errors import shown
from pairsim.yaml_core import MAX_NODES, YAMLRefused, dump_yaml, load_yaml


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10", 10),
        ("-3", -3),
        ("+7", 7),
        ("0", 0),
        ("0o17", 15),  # YAML 1.2 octal
        ("0x1F", 31),
        ("0.5", 0.5),
        ("1e-3", 0.001),
        ("1e3", 1000.0),  # a float in YAML 1.2 (an int field refuses it)
        ("-.5", -0.5),
        ("010.5", 10.5),  # a float with a leading zero is not ambiguous
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("", None),
        # YAML 1.1 types that YAML 1.2 reads as strings
        ("1:00", "1:00"),  # not sexagesimal 60
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("2024-01-02", "2024-01-02"),  # not a date
        ("'010'", "010"),  # quoted: a string
    ],
)
def test_core_schema_scalars(text: str, expected: object) -> None:
    value = load_yaml(f"v: {text}")["v"]
    assert value == expected and type(value) is type(expected)


def test_special_floats() -> None:
    assert load_yaml("v: .inf")["v"] == math.inf and load_yaml("v: -.Inf")["v"] == -math.inf
    assert math.isnan(load_yaml("v: .nan")["v"])


@pytest.mark.parametrize("text, advice", [("010", "write 10 or 0o10"), ("-007", "write -7 or 0o7"), ("00", "write 0")])
def test_a_decimal_with_a_leading_zero_is_refused_as_ambiguous(text: str, advice: str) -> None:
    with pytest.raises(YAMLRefused) as info:
        load_yaml(f"epochs: {text}")
    assert "ambiguous" in info.value.problem and advice in info.value.problem
    assert info.value.problem_mark.line == 0


@pytest.mark.parametrize(
    "text, key, lines",
    [
        ("train:\n  epochs: 1\ntrain:\n  lr: 0.1\n", "'train'", "lines 1 and 3"),
        ("model:\n  tower:\n    name: cnn\n    name: lstm\n", "'name'", "lines 3 and 4"),  # nested
        ("{a: 1, a: 2}", "'a'", "lines 1 and 1"),  # flow mapping, same line
        ("10: x\n0x0A: y\n", "10", "lines 1 and 2"),  # the same number spelled two ways
    ],
)
def test_a_duplicate_key_is_refused_naming_both_lines(text: str, key: str, lines: str) -> None:
    with pytest.raises(YAMLRefused) as info:
        load_yaml(text)
    assert f"duplicate key {key} ({lines})" in info.value.problem


def _laughs(levels: int, width: int = 9) -> str:
    rows = ['l0: &l0 ["lol"]']
    rows += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(rows) + "\n"


def test_billion_laughs_is_refused_before_it_is_built() -> None:
    with pytest.raises(YAMLRefused) as info:
        load_yaml(_laughs(9))  # 9**9 strings once expanded
    assert f"more than {MAX_NODES} values" in info.value.problem
    assert len(str(info.value.problem)) < 100


def test_a_few_shared_aliases_stay_allowed() -> None:
    data = load_yaml(_laughs(3))  # 1 + 9 + 81 + 729 values: small
    assert data["l3"][8][8][8] == ["lol"] and len(data["l3"]) == 9


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(YAMLRefused, match="contains it"):
        load_yaml("a: &x [1, *x]")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(YAMLRefused, match="levels deep"):
        load_yaml("v: " + "[" * 100 + "]" * 100)
    with pytest.raises(YAMLRefused, match="levels deep"):
        load_yaml("v: " + "[" * 5000 + "]" * 5000)  # deeper than PyYAML's own recursion


def test_dump_quotes_every_string_another_reader_would_retype() -> None:
    data = {"a": "0o17", "b": "yes", "c": "010", "d": "1:00", "e": 1e-5, "f": "null", "g": "1e3", "h": 3}
    text = dump_yaml(data)
    assert load_yaml(text) == data and yaml.safe_load(text) == data  # YAML 1.2 (ours) and 1.1 alike


def test_shown_bounds_a_huge_or_shared_value() -> None:
    value = load_yaml(_laughs(4))["l4"]  # 6561 strings behind shared references
    assert len(shown(value)) <= 80 and shown(value).startswith("[[[")
    assert "..." in shown("x" * 10**7) and len(shown("x" * 10**7)) <= 80
    assert shown(10**5000) == "<an integer of about 5001 digits>"
    assert shown([1, "a"]) == "[1, 'a']"


@pytest.mark.parametrize(
    "text, tag",
    [
        ("epochs: !!int -0x2", "!!int"),  # YAML 1.1 dropped the sign: 2 epochs
        ("epochs: !!int 1_000", "!!int"),
        ("epochs: !!int '٣'", "!!int"),
        ("lr: !!float 1:30", "!!float"),
        ("mask: !!int 0b101", "!!int"),
        ("when: !!timestamp 2024-01-02", "!!timestamp"),
        ("a: !!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
        ("a: !custom x", "!custom"),
        ("!!map {a: 1}", "!!map"),
    ],
)
def test_an_explicit_tag_is_refused_naming_it(text: str, tag: str) -> None:
    with pytest.raises(YAMLRefused) as err:
        load_yaml(text)
    assert f"explicit tag {tag} refused" in err.value.problem
    assert err.value.problem_mark.line == 0 and "\n" not in err.value.problem


def test_str_tag_stays_allowed_and_plain_scalars_keep_the_core_schema() -> None:
    assert load_yaml("a: !!str 10\nb: -0x2\nc: 0b101") == {"a": "10", "b": "-0x2", "c": "0b101"}


def test_a_tagged_override_is_one_config_error() -> None:
    from pairsim.config import set_override
    from pairsim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"train.epochs=!!int -0x2.*explicit tag !!int refused"):
        set_override({"train": {}}, "train.epochs=!!int -0x2")
