"""Tests of the sentence-pair sources: MRPC, STS-B, Quora (fixture) and the generic pair table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairsim.data.sources import load_dataset
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError

QUORA = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "quora"


def texts(table: PairTable) -> set[str]:
    return set(table.a) | set(table.b)


def test_mrpc_official_test_and_bom(mrpc: Splits[PairTable]) -> None:
    assert len(mrpc.test) == 1725  # the official test file, whole
    assert mrpc.test.labels.count(1.0) == 1147
    first = mrpc.test.a[0]
    assert not first.startswith("\ufeff") and first.startswith("PCCW's chief operating officer")
    assert set(mrpc.train.labels) == {0.0, 1.0} and mrpc.train.scores is None
    assert len(mrpc.train) + len(mrpc.val) == 4076 - 284  # train pairs sharing a sentence with test dropped
    assert not texts(mrpc.train) & texts(mrpc.val)
    assert not texts(mrpc.train) & texts(mrpc.test)


def test_mrpc_without_dropping_overlap(data_env: Path) -> None:
    splits = load_dataset({"name": "mrpc", "drop_test_overlap": False, "val_fraction": 0.2})
    assert len(splits.train) + len(splits.val) == 4076
    assert abs(len(splits.val) - 815) < 40


def test_stsb_scores_extra_columns_and_threshold(data_env: Path) -> None:
    splits = load_dataset({"name": "stsb"})
    assert (len(splits.val), len(splits.test)) == (1500, 1379)
    table = splits.train
    assert table.scores is not None and min(table.scores) == 0.0 and max(table.scores) == 5.0
    assert all(y == float(s >= 4.0) for y, s in zip(table.labels, table.scores, strict=True))
    assert table.a[0] == "A plane is taking off." and table.scores[0] == 5.0
    row = table.a.index("Driver backs into stroller with child, drives off")  # a row with 2 extra columns
    assert table.b[row] == "Driver backs into mom, stroller with child then drives off" and table.scores[row] == 4.0
    assert not texts(table) & texts(splits.test)
    looser = load_dataset({"name": "stsb", "binarize_at": 3.0}).train
    assert sum(looser.labels) > sum(table.labels)
    with pytest.raises(DataError, match=r"stsb\.binarize_at: expected a score in 0-5, got 6\.0"):
        load_dataset({"name": "stsb", "binarize_at": 6.0})


def test_quora_public_fixture() -> None:
    splits = load_dataset({"name": "quora", "path": str(QUORA)})
    sizes = [len(t) for _, t in splits.items()]
    assert sum(sizes) == 39  # 40 rows, one with an empty question skipped
    everything = PairTable(a=[], b=[], labels=[])
    for _, t in splits.items():
        everything.a += t.a
        everything.b += t.b
        everything.labels += t.labels
    assert sum(everything.labels) == 20
    assert 'What does "machine learning" actually mean?' in everything.a  # quoted field unescaped
    parts = [texts(t) for _, t in splits.items()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_quora_glue_layout() -> None:
    splits = load_dataset({"name": "quora", "path": str(QUORA / "glue")})
    assert len(splits.test) == 11  # dev.tsv
    assert "How do I learn Python quickly?" in splits.test.b
    assert "How do I learn Python quickly?" not in texts(splits.train)  # shared with dev: dropped from train
    seen = texts(splits.train) | texts(splits.val)
    assert 'What does "machine learning" actually mean?' in seen
    assert '"Atomic Habits" or "Deep Work": which book should I read first?' in seen  # GLUE files are unquoted
    kept = load_dataset({"name": "quora", "path": str(QUORA / "glue"), "drop_test_overlap": False})
    assert len(kept.train) + len(kept.val) == 29


def test_quora_missing_column_lists_found_columns(tmp_path: Path) -> None:
    (tmp_path / "quora_duplicate_questions.tsv").write_text("id\tqid1\tqid2\tquestion1\tquestion2\tlabel\n")
    with pytest.raises(DataError, match=r"missing column 'is_duplicate'; found columns \['id', 'qid1'"):
        load_dataset({"name": "quora", "path": str(tmp_path)})


def test_pair_table_csv_with_score(tmp_path: Path) -> None:
    rows = [{"s1": f"left {i}", "s2": f"right {i}", "sim": i % 6} for i in range(60)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    splits = load_dataset(
        {
            "name": "pair_table",
            "path": str(path),
            "text_a": "s1",
            "text_b": "s2",
            "label": None,
            "score": "sim",
            "binarize_at": 4.0,
            "cache_dir": str(tmp_path / "hf"),
        }
    )
    table = splits.train
    assert table.scores is not None and all(y == float(s >= 4) for y, s in zip(table.labels, table.scores, strict=True))
    assert sum(len(t) for _, t in splits.items()) == 60 and len(splits.val) == 6


def test_pair_table_missing_column_lists_found_columns(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("question1,question2,is_duplicate\na,b,1\nc,d,0\n")
    with pytest.raises(
        DataError,
        match=r"missing column 'sentence1'; found columns \['question1', 'question2', "
        r"'is_duplicate'\]",
    ):
        load_dataset({"name": "pair_table", "path": str(path), "cache_dir": str(tmp_path / "hf")})
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence1,sentence2,label\na,b,yes\n")
    with pytest.raises(DataError, match="column 'label' must be a number, found 'yes'"):
        load_dataset({"name": "pair_table", "path": str(bad), "cache_dir": str(tmp_path / "hf")})


def test_pair_table_with_given_splits(tmp_path: Path) -> None:
    for name, n in (("train", 20), ("val", 5), ("test", 6)):
        lines = ["sentence1\tsentence2\tlabel"] + [f"{name} a{i}\t{name} b{i}\t{i % 2}" for i in range(n)]
        (tmp_path / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    splits = load_dataset(
        {
            "name": "pair_table",
            "path": str(tmp_path / "train.tsv"),
            "val_path": str(tmp_path / "val.tsv"),
            "test_path": str(tmp_path / "test.tsv"),
            "cache_dir": str(tmp_path / "hf"),
        }
    )
    assert [len(t) for _, t in splits.items()] == [20, 5, 6]
    assert splits.test.a[0] == "test a0" and splits.val.labels == [0.0, 1.0, 0.0, 1.0, 0.0]
