"""Distillation data (pairsim/train/distill.py): BM25 pairs, a teacher's scores and margins, silver tables."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from pairsim import HEADS
from pairsim.errors import ConfigError
from pairsim.train.distill import bm25_pairs, bm25_scores, build_silver, teacher_margins, write_margins

DOCS = ["the cat sat on the mat", "a dog sat on a log", "the cat ate", "birds fly south in winter"]


def test_bm25_equals_the_formula_by_hand() -> None:
    k1, b = 1.5, 0.75
    words = [d.split() for d in DOCS]
    avgdl = sum(map(len, words)) / len(words)
    query = "the cat sat"
    expected = []
    for doc in words:
        total = 0.0
        for w in set(query.split()):
            df = sum(w in d for d in words)
            idf = math.log(1 + (len(words) - df + 0.5) / (df + 0.5))
            tf = doc.count(w)
            total += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        expected.append(total)
    ours = bm25_scores([query], DOCS, k1=k1, b=b).toarray()[0]
    assert ours == pytest.approx(expected, rel=1e-12)


def test_bm25_pairs_join_word_sharing_texts_never_a_text_with_itself() -> None:
    pairs = bm25_pairs([*DOCS, DOCS[0]], per_text=1)
    assert all(a != b for a, b in pairs)
    assert (DOCS[0], DOCS[2]) in pairs or (DOCS[2], DOCS[0]) in pairs  # "the cat": the best match of each other
    assert not any(DOCS[3] in p for p in pairs)  # shares no word with any other text: never paired
    assert len(pairs) == len(set(pairs)) and not any((b, a) in pairs for a, b in pairs)


class Teacher:
    """A teacher by hand: the score of a pair is the number of words they share, divided by 10."""

    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))

    def score(self, a: list[str], b: list[str], *, batch_size: int = 64) -> torch.Tensor:
        return torch.tensor([len(set(x.split()) & set(y.split())) / 10 for x, y in zip(a, b, strict=True)])


def test_teacher_margins_are_positive_minus_negative() -> None:
    margins = teacher_margins(Teacher(), ["the cat sat"], ["the cat sat down"], ["a dog"])
    torch.testing.assert_close(margins, torch.tensor([0.3]))


def test_build_silver_labels_training_and_sampled_pairs_and_keeps_gold(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "stsb_silver"
    data = {"name": "pair_table", "path": str(fixture / "train.csv"), "val_path": str(fixture / "val.csv"),
            "test_path": str(fixture / "test.csv"), "column_a": "text_a", "column_b": "text_b", "label": None,
            "score": "score", "binarize_at": 0.4}  # fmt: skip
    info = build_silver(Teacher(), data, tmp_path / "silver", augment="bm25", per_text=2)
    with open(tmp_path / "silver" / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert info["sampled_pairs"] > 0 and len(rows) == info["train_pairs"] + info["sampled_pairs"]
    teacher = Teacher()
    for row in rows:
        assert float(row["score"]) == pytest.approx(float(teacher.score([row["text_a"]], [row["text_b"]])[0]))
    with open(tmp_path / "silver" / "val.csv", newline="") as f, open(fixture / "val.csv", newline="") as g:
        assert [r["score"] for r in csv.DictReader(f)] == [r["score"] for r in csv.DictReader(g)]  # gold, 0-1


def test_build_silver_refuses_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="augment"):
        build_silver(Teacher(), {"name": "stsb"}, tmp_path, augment="random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="per_text"):
        build_silver(Teacher(), {"name": "stsb"}, tmp_path, per_text=0)


def test_write_margins_gives_each_negative_a_row_with_the_teachers_margin(tmp_path: Path) -> None:
    """A mined table with two negatives per row becomes one (anchor, positive, negative_1, margin) row per
    negative, which the negatives_table source reads back with margin: margin."""
    from pairsim.data.sources.base import load_dataset

    mined = tmp_path / "mined.csv"
    mined.write_text(
        "anchor,positive,negative_1,negative_2,key\n"
        "the cat sat on the mat,the cat sat on a mat,a dog sat,birds fly,k1\n"
        "a dog sat on a log,the dog sat on the log,the cat ate,a cat,k2\n",
        encoding="utf-8",
    )
    out = tmp_path / "margins.csv"
    info = write_margins(Teacher(), {"path": str(mined), "cache_dir": str(tmp_path / "cache")}, out)
    assert info["rows"] == 2 and info["triplets"] == 4
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["anchor"], r["negative_1"], r["key"]) for r in rows] == [
        ("the cat sat on the mat", "a dog sat", "k1"), ("the cat sat on the mat", "birds fly", "k1"),
        ("a dog sat on a log", "the cat ate", "k2"), ("a dog sat on a log", "a cat", "k2"),
    ]  # fmt: skip
    teacher = Teacher()
    for r in rows:  # t(q, p) - t(q, n): the words shared with the positive minus those shared with the negative
        pos, neg = (float(teacher.score([r["anchor"]], [r[c]])[0]) for c in ("positive", "negative_1"))
        assert float(r["margin"]) == pytest.approx(pos - neg, abs=1e-6)
    assert float(rows[0]["margin"]) == pytest.approx(0.5 - 0.1)  # 5 shared words with the positive, 1 ("sat")
    splits = load_dataset({"name": "negatives_table", "path": str(out), "val_path": str(out), "test_path": str(out),
                           "margin": "margin", "cache_dir": str(tmp_path / "cache")})  # fmt: skip
    assert splits.train.scores == [float(r["margin"]) for r in rows]
