"""The printable metrics table and the atomic JSON writer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pairsim import safe_io
from pairsim.errors import DataError
from pairsim.metrics.table import format_table, write_json


def test_table_is_aligned_with_formatted_values() -> None:
    text = format_table(
        {
            "accuracy": np.float32(0.83333),
            "n_pairs": np.int64(600),
            "val": {"roc_auc": 0.9},
            "ci": (0.1, 0.25),
            "per_episode": [0.5] * 600,
            "threshold": None,
            "tiny": 1.5e-6,
        }
    )
    lines = text.split("\n")
    assert lines[0].split() == ["metric", "value"]
    assert set(lines[1]) == {"-", " "}
    rows = dict(line.split(maxsplit=1) for line in lines[2:])  # names have no spaces
    assert rows == {
        "accuracy": "0.8333",
        "n_pairs": "600",
        "val.roc_auc": "0.9000",
        "ci": "(0.1000, 0.2500)",
        "per_episode": "<600 values>",
        "threshold": "-",
        "tiny": "1.5e-06",
    }
    assert len({len(line) for line in lines}) == 1  # values right-aligned in one column
    assert lines[2].index("0.8333") == lines[3].index("600") - 3


def test_empty_table() -> None:
    assert format_table({}) == "(no metrics)"


def test_write_json_round_trips_numpy_values_and_nan(tmp_path: Path) -> None:
    path = write_json(
        {"roc_auc": np.float32(0.75), "n": np.int64(3), "per": np.array([0.5, 1.0]), "ci95": float("nan")},
        tmp_path / "sub" / "metrics.json",
    )
    assert path == tmp_path / "sub" / "metrics.json"
    assert json.loads(path.read_text()) == {"roc_auc": 0.75, "n": 3, "per": [0.5, 1.0], "ci95": None}
    assert os.listdir(path.parent) == ["metrics.json"]  # no temporary file left behind


def test_write_json_replaces_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics.json"
    write_json({"accuracy": 0.5}, path)
    write_json({"accuracy": 0.75}, path)
    assert json.loads(path.read_text()) == {"accuracy": 0.75}

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safe_io.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json({"accuracy": 0.9}, path)
    assert json.loads(path.read_text()) == {"accuracy": 0.75}  # the old file, whole
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_write_json_rejects_unserialisable_values(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'model\.head'.*object"):
        write_json({"model": {"head": object()}}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
