"""A cross-encoder through the command line and the service: score, encode (refused), rerank, mine, serve."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.model import PairModel

A = ["how old are you", "the cat sat on the mat", "a dog runs in the park"]
B = ["what is your age", "a cat is sitting on a mat", "birds fly south"]


@pytest.fixture
def cross_dir(tiny_bert_dir: Path, tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = PairModel.from_config({
        "tower": {"name": "pair_tokens", "model": str(tiny_bert_dir)},
        "head": {"name": "cross_encoder", "model": str(tiny_bert_dir)},
        "threshold": 0.5,
    })  # fmt: skip
    return model.save_pretrained(tmp_path / "cross")


def _lines(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _tsv(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.strip().splitlines()]


def test_score_equals_the_model_and_encode_is_refused(cross_dir: Path, tmp_path: Path, cli: Callable) -> None:
    a, b = _lines(tmp_path, "a.txt", A), _lines(tmp_path, "b.txt", B)
    result = cli("score", a, b, "--model", cross_dir)
    assert result.code == 0, result.err
    rows = _tsv(result.out)
    assert rows[0] == ["score", "same"]
    expected = PairModel.from_pretrained(cross_dir).score(A, B)
    assert [float(r[0]) for r in rows[1:]] == pytest.approx(expected.tolist(), abs=1e-6)
    refused = cli("encode", a, "--model", cross_dir, "--out", tmp_path / "e.npy")
    assert refused.code == 2 and "gives no embeddings" in refused.err and "\n" not in refused.err.strip()
    assert not (tmp_path / "e.npy").exists()


def test_rerank_writes_the_cross_encoders_order(
    cross_dir: Path, tmp_path: Path, cli: Callable, make_model: Any
) -> None:
    bi_dir = make_model("lstm").save_pretrained(tmp_path / "bi")
    queries, corpus = _lines(tmp_path, "q.txt", A[:2]), _lines(tmp_path, "c.txt", B)
    result = cli("rerank", queries, corpus, "--bi-encoder", bi_dir, "--cross-encoder", cross_dir, "-k", 3,
                 "--search", "exact")  # fmt: skip
    assert result.code == 0, result.err
    rows = _tsv(result.out)
    assert rows[0] == ["query", "rank", "item", "score", "same", "retrieval_rank", "retrieval_score"]
    cross = PairModel.from_pretrained(cross_dir)
    for q in A[:2]:
        mine = [r for r in rows[1:] if r[0] == q]
        expected = cross.score([q] * 3, B)
        assert [r[2] for r in mine] == [B[i] for i in expected.argsort(descending=True).tolist()]
        assert [r[1] for r in mine] == ["1", "2", "3"]


def test_mine_writes_a_table_without_positives_or_same_key_items(
    tmp_path: Path, cli: Callable, make_model: Any
) -> None:
    bi_dir = make_model("lstm").save_pretrained(tmp_path / "bi")
    table = tmp_path / "pairs.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["question", "answer", "topic"])
        w.writerows([["how old are you", "what is your age", 1], ["how old are you", "your age please", 1],
                     ["the cat sat on the mat", "a cat on a mat", 2], ["a dog runs in the park", "dogs run", 3],
                     ["what is your age", "tell me your age", 1]])  # fmt: skip
    out = tmp_path / "mined.csv"
    result = cli("mine", table, "--model", bi_dir, "--out", out, "--anchor-column", "question",
                 "--positive-column", "answer", "--key-column", "topic", "-n", 1, "-k", 10)  # fmt: skip
    assert result.code == 0, result.err
    with open(out, newline="") as f:
        mined = list(csv.DictReader(f))
    assert list(mined[0]) == ["anchor", "positive", "negative_1", "key"]
    topic_of = {"what is your age": "1", "your age please": "1", "a cat on a mat": "2", "dogs run": "3",
                "tell me your age": "1"}  # fmt: skip
    for row in mined:
        assert topic_of[row["negative_1"]] != row["key"]  # never a positive nor any item under the anchor's topic
    assert len(mined) == 5 and "5 rows with 1 negative(s)" in result.out


def test_the_service_scores_with_a_cross_encoder_and_refuses_encode(cross_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from pairsim.serve.app import create_app

    model = PairModel.from_pretrained(cross_dir)
    with TestClient(create_app(model), base_url="http://127.0.0.1") as client:
        body = client.post("/score", json={"a": A, "b": B}).json()
        assert body["scores"] == pytest.approx(model.score(A, B).tolist(), abs=1e-5)
        assert body["threshold"] == 0.5
        refused = client.post("/encode", json={"items": A})
        assert refused.status_code == 422 and "no embeddings" in refused.text
