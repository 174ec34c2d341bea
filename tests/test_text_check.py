"""Empty and unknown-word texts: one warning line wherever they are encoded, or an error when strict."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

from pairsim.errors import DataError
from pairsim.text_check import TextInputWarning, describe_texts


def test_describe_counts_and_names_the_first_lines() -> None:
    kinds = ["empty", None, "unknown", *["empty"] * 6]
    assert describe_texts(kinds, where="a.txt", lines=True) == (
        "a.txt: 8 of 9 texts give the model nothing to read: 7 empty or blank (lines 1, 4, 5, 6, 7, ...), "
        "1 with no word it knows (line 3); such texts encode alike, so their scores mean nothing"
    )
    assert describe_texts([None, None], where="x") is None
    assert describe_texts(["unknown"], where="side-a inputs").startswith("side-a inputs: 1 of 1 texts gives")


def test_empty_texts_scoring_same_are_reported(make_model: Callable[..., Any]) -> None:
    model = make_model("lstm")
    with pytest.warns(TextInputWarning) as caught:
        scores = model.score(["", "How old are you?"], ["  ", "what is your age"])
    assert torch.isclose(scores[0], torch.tensor(1.0))  # the issue: two empty texts look identical
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2  # one line per side
    assert messages[0].startswith("items_a: 1 of 2 texts gives the model nothing to read: 1 empty or blank")
    assert "(item 1)" in messages[0] and messages[1].startswith("items_b: 1 of 2")


def test_two_different_unknown_texts_are_reported(make_model: Callable[..., Any]) -> None:
    model = make_model("lstm")  # vocabulary of the four shared TEXTS
    with pytest.warns(TextInputWarning, match=r"1 with no word it knows \(item 1\)"):
        model.score(["zebra quux"], ["florp blarg"])
    with pytest.warns(TextInputWarning, match="no word it knows"):
        model.encode_a(["zebra quux", "How old are you?"])


def test_strict_text_raises_a_data_error(make_model: Callable[..., Any]) -> None:
    model = make_model("lstm")
    with pytest.raises(DataError, match=r"^items_a: 1 of 1 texts gives the model nothing to read"):
        model.score([""], ["How old are you?"], strict_text=True)
    model.strict_text = True  # the setting, for every call
    with pytest.raises(DataError, match="no word it knows"):
        model.encode_b(["zebra"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.score(["How old are you?"], ["what is your age"])  # readable texts: nothing said
    with pytest.warns(TextInputWarning):
        assert model.score([""], ["what is your age"], strict_text=False).shape == (1,)  # per call wins
