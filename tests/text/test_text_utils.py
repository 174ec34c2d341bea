"""The word tokenizer and the GloVe reader of the LSTM tower."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from pairsim.errors import DataError, ModelFileError
from pairsim.text.glove import read_glove
from pairsim.text.word_tokenizer import PAD, UNK, WordTokenizer


# -- WordTokenizer --------------------------------------------------------------------------------------------
def test_build_orders_by_frequency_then_alphabetically() -> None:
    tok = WordTokenizer.build(["b a c a", "c a, b!", "d"])
    # a 3, b 2, c 2, "!" 1, "," 1, d 1
    assert tok.itos == [PAD, UNK, "a", "b", "c", "!", ",", "d"]
    assert len(tok) == 8 and tok.stoi["a"] == 2


def test_min_freq_and_max_size() -> None:
    texts = ["b a c a", "c a b", "d"]
    assert WordTokenizer.build(texts, min_freq=2).itos[2:] == ["a", "b", "c"]
    assert WordTokenizer.build(texts, max_size=2).itos[2:] == ["a", "b"]
    assert WordTokenizer.build(texts, min_freq=4).itos == [PAD, UNK]


def test_encode_splits_words_and_punctuation() -> None:
    tok = WordTokenizer.build(["what's your age?"])
    assert tok.tokenize("What's your AGE?") == ["what", "'", "s", "your", "age", "?"]
    assert tok.encode("What's your name?") == [tok.stoi[w] for w in ["what", "'", "s", "your"]] + [1, tok.stoi["?"]]
    assert tok.encode("What's your name?", max_length=2) == [tok.stoi["what"], tok.stoi["'"]]
    assert tok.encode("") == [1] and tok.encode("   ") == [1]  # never empty


def test_case_sensitive_tokenizer() -> None:
    tok = WordTokenizer.build(["Cat cat"], lowercase=False)
    assert tok.itos[2:] == ["Cat", "cat"]
    assert tok.encode("CAT cat") == [1, tok.stoi["cat"]]


def test_save_and_load(tmp_path: Path) -> None:
    tok = WordTokenizer.build(["héllo wörld", "Héllo"], lowercase=False)
    path = tmp_path / "vocab.json"
    tok.save(path)
    assert "héllo" in path.read_text(encoding="utf-8")  # readable, not escaped
    back = WordTokenizer.load(path)
    assert back.itos == tok.itos and back.lowercase is False
    assert back.encode("Héllo wörld") == tok.encode("Héllo wörld")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read vocabulary"),
        ("not json", "cannot read vocabulary"),
        (json.dumps({"words": []}), "cannot read vocabulary"),
        (json.dumps({"itos": ["a", "b"]}), "is not a pairsim vocabulary"),
    ],
)
def test_load_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "vocab.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ModelFileError, match=message):
        WordTokenizer.load(path)


# -- read_glove -------------------------------------------------------------------------------------------------
ROWS = {"the": [0.5, -1.0, 2.0], "cat": [1e-3, 0.0, -7.25], "dog": [3.0, 3.0, 3.0]}


def _write(path: Path, rows: dict[str, list[float]] = ROWS) -> Path:
    text = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in rows.items())
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["glove.txt", "glove.txt.gz"])
def test_read_glove_returns_rows_of_known_words(tmp_path: Path, name: str) -> None:
    vocab = {PAD: 0, UNK: 1, "cat": 2, "the": 3, "bird": 4}
    rows, vectors = read_glove(_write(tmp_path / name), vocab, 3)
    assert rows.tolist() == [3, 2]  # file order; "dog" is not in the vocabulary, "bird" not in the file
    assert torch.equal(vectors, torch.tensor([ROWS["the"], ROWS["cat"]]))
    assert rows.dtype == torch.long and vectors.dtype == torch.float32


def test_read_glove_with_no_known_word(tmp_path: Path) -> None:
    rows, vectors = read_glove(_write(tmp_path / "g.txt"), {"zebra": 2}, 3)
    assert rows.shape == (0,) and vectors.shape == (0, 3)


def test_read_glove_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="GloVe file not found"):
        read_glove(tmp_path / "none.txt", {"cat": 2}, 3)
    path = _write(tmp_path / "g.txt")
    with pytest.raises(DataError, match=r"g\.txt line 2: vector of size 3, expected embed_dim=5"):
        read_glove(path, {"cat": 2}, 5)
