"""Text towers say which texts they cannot read: empty / whitespace-only, or no token their vocabulary knows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pairsim.towers.lstm import LSTMConfig, LSTMTower


def test_lstm_tower_names_empty_and_unknown_texts() -> None:
    tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4))
    tower.adapt(["the cat sat", "a dog ran ."])
    texts = ["the cat", "", "   \t ", "zebra quux", "ZEBRA THE", "?!", "dog", "xyz ."]
    assert tower.text_kinds(texts) == [None, "empty", "empty", "unknown", None, "unknown", None, None]


def test_lstm_unknown_counts_only_the_words_it_reads() -> None:
    tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4, max_length=2))
    tower.adapt(["cat"])
    assert tower.text_kinds(["zebra quux cat", "zebra cat"]) == ["unknown", None]  # "cat" is cut off in the first


def test_lstm_without_a_vocabulary_knows_no_word() -> None:
    tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4))  # not adapted: <pad>, <unk> only
    assert tower.text_kinds(["anything at all", " "]) == ["unknown", "empty"]


def test_transformer_tower_names_texts_of_special_tokens_and_unk(
    make_model: Callable[..., Any],
) -> None:
    tower = make_model("transformer").tower_a  # the tiny BERT with MiniLM's word-piece tokenizer
    texts = ["a cat sat", "", " \n ", "\U0001f600 \U0001f600", "[SEP] [CLS]", "qwzxv", "\u200b"]
    kinds = tower.text_kinds(texts)
    assert kinds[:5] == [None, "empty", "empty", "unknown", "unknown"]
    assert kinds[5] is None  # word pieces of an unknown word are still known pieces
    assert kinds[6] in ("empty", "unknown")  # a zero-width space: nothing to read either way


def test_image_towers_do_not_inspect_texts(make_model: Callable[..., Any]) -> None:
    from pairsim.text_check import report_texts

    model = make_model("cnn")
    report_texts(model.tower_a, ["", ""], where="x", strict=True)  # an image tower: nothing to say
