"""The word-embedding + LSTM tower: vocabulary, GloVe initialisation, pooling."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from pairsim.errors import DataError, ModelFileError
from pairsim.towers.lstm import LSTMConfig, LSTMTower

TRAIN = ["the cat sat on the mat", "The dog sat", "a cat and a dog"]
# 5 GloVe words of dimension 8 ("zebra" is not in the vocabulary and must be skipped)
GLOVE = {
    "the": [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8],
    "cat": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    "zebra": [9.0] * 8,
    "sat": [-1.5, 0.25, 0.0, 2.0, -3.0, 1.0, 0.5, -0.125],
    "dog": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-3],
}


def tower(**fields) -> LSTMTower:
    torch.manual_seed(0)
    t = LSTMTower(LSTMConfig(name="lstm", embed_dim=8, hidden_dim=4, **fields))
    t.adapt(TRAIN)
    return t


def write_glove(path: Path, rows: dict[str, list[float]] = GLOVE) -> Path:
    text = "".join(f"{w} {' '.join(repr(v) for v in vec)}\n" for w, vec in rows.items())
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_adapt_builds_the_vocabulary_and_sizes_the_embedding() -> None:
    t = LSTMTower(LSTMConfig(name="lstm", embed_dim=8, hidden_dim=4))
    assert t.embedding.num_embeddings == 2 and t.config.vocab_size == 2
    t.adapt(TRAIN)
    # counts: the 3, a 2, cat 2, dog 2, sat 2, and 1, mat 1, on 1 (lower-cased, ties alphabetical)
    assert t.tokenizer.itos == ["<pad>", "<unk>", "the", "a", "cat", "dog", "sat", "and", "mat", "on"]
    assert t.config.vocab_size == 10 and t.embedding.num_embeddings == 10
    assert t.embedding.padding_idx == 0 and torch.equal(t.embedding.weight[0], torch.zeros(8))
    capped = tower(min_freq=2, max_vocab=3)
    assert capped.tokenizer.itos == ["<pad>", "<unk>", "the", "a", "cat"]
    assert capped.featurize(["The cat ate"]) == [{"input_ids": [2, 4, 1]}]


@pytest.mark.parametrize("suffix", [".txt", ".txt.gz"])
def test_glove_rows_equal_the_file_vectors(tmp_path: Path, suffix: str) -> None:
    path = write_glove(tmp_path / f"glove{suffix}")
    t = tower(glove=str(path))
    before = t.embedding.weight.detach().clone()
    t.load_pretrained()
    weight = t.embedding.weight.detach()
    stoi = t.tokenizer.stoi
    for word in ("the", "cat", "sat", "dog"):
        assert torch.equal(weight[stoi[word]], torch.tensor(GLOVE[word])), word
    for word in ("a", "and", "mat", "on", "<unk>"):  # not in the file: left as initialised
        assert torch.equal(weight[stoi[word]], before[stoi[word]]), word
    assert torch.equal(weight[0], torch.zeros(8))  # padding
    assert t.embedding.weight.requires_grad


def test_glove_with_the_wrong_dimension_raises(tmp_path: Path) -> None:
    path = write_glove(tmp_path / "glove.txt", {"cat": [1.0, 2.0, 3.0]})
    t = tower(glove=str(path))
    with pytest.raises(DataError, match=r"glove\.txt line 1: vector of size 3, expected embed_dim=8"):
        t.load_pretrained()


def test_missing_glove_file_raises(tmp_path: Path) -> None:
    t = tower(glove=str(tmp_path / "glove.6B.300d.txt"))
    with pytest.raises(DataError, match=r"GloVe file not found: .*glove\.6B\.300d\.txt"):
        t.load_pretrained()


def test_frozen_embeddings_get_no_gradient(tmp_path: Path) -> None:
    t = tower(glove=str(write_glove(tmp_path / "g.txt")), freeze_embeddings=True)
    t.load_pretrained()
    assert not t.embedding.weight.requires_grad  # also after adapt() rebuilt the table
    t(t.preprocess(TRAIN)).sum().backward()
    assert t.embedding.weight.grad is None
    assert all(p.grad is not None for p in t.lstm.parameters())


def test_featurize_cuts_to_max_length_and_collate_pads() -> None:
    t = tower(max_length=3)
    features = t.featurize(["the cat sat on the mat", "dog", ""])
    assert features == [{"input_ids": [2, 4, 6]}, {"input_ids": [5]}, {"input_ids": [1]}]
    batch = t.collate(features)
    assert batch["input_ids"].tolist() == [[2, 4, 6], [5, 0, 0], [1, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1, 1]


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_pooling_by_hand(pooling: str) -> None:
    """The pooled vector of each text equals pooling the LSTM outputs of that text alone (no padding)."""
    t = tower(pooling=pooling).eval()
    texts = ["the cat sat on the mat", "a dog"]
    with torch.no_grad():
        pooled = t(t.preprocess(texts))
        for i, text in enumerate(texts):
            ids = torch.tensor([t.tokenizer.encode(text)])
            out, _ = t.lstm(t.embedding(ids))  # (1, T, H)
            expected = {"last": out[0, -1], "mean": out[0].mean(0), "max": out[0].max(0).values}[pooling]
            torch.testing.assert_close(pooled[i], expected, atol=1e-6, rtol=1e-5)


def test_bidirectional_last_concatenates_both_directions() -> None:
    t = tower(bidirectional=True).eval()
    assert t.out_dim == 8
    with torch.no_grad():
        pooled = t(t.preprocess(["the cat sat"]))
        out, _ = t.lstm(t.embedding(torch.tensor([t.tokenizer.encode("the cat sat")])))  # (1, T, 2H)
    torch.testing.assert_close(pooled[0, :4], out[0, -1, :4])  # forward direction: its last step
    torch.testing.assert_close(pooled[0, 4:], out[0, 0, 4:])  # backward direction: its last step is t = 0


def test_vocabulary_is_saved_and_loaded(tmp_path: Path) -> None:
    t = tower(lowercase=False)
    t.save_assets(tmp_path)
    rows = len(t.tokenizer)
    other = LSTMTower(LSTMConfig(name="lstm", embed_dim=8, hidden_dim=4, lowercase=False, vocab_size=rows))
    other.load_assets(tmp_path)
    assert other.tokenizer.itos == t.tokenizer.itos and other.tokenizer.lowercase is False
    assert other.featurize(["The cat"]) == t.featurize(["The cat"])
    smaller = LSTMTower(LSTMConfig(name="lstm", embed_dim=8, hidden_dim=4, vocab_size=rows - 1))
    with pytest.raises(ModelFileError, match=f"has {rows} words but the embedding table has {rows - 1} rows"):
        smaller.load_assets(tmp_path)
    with pytest.raises(ModelFileError, match="cannot read vocabulary"):
        other.load_assets(tmp_path / "nowhere")
