"""Tests of pairsim.data.tokenize: each distinct text featurized once, values restored, cache reused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsim.data.tokenize import fingerprint, tokenize_texts


class TensorTower:
    """Featurizes to a tensor and an array, like a tokenizer returning ``input_ids`` tensors."""

    def __init__(self, prefix: int = 101) -> None:
        self.config = {"prefix": prefix}
        self.seen: list[str] = []

    def featurize(self, items: Sequence[str]) -> list[dict[str, Any]]:
        self.seen += list(items)
        return [
            {
                "input_ids": torch.tensor([self.config["prefix"], *map(ord, t)], dtype=torch.long),
                "weights": np.full(len(t), 0.5, dtype=np.float32),
                "n": len(t),
            }
            for t in items
        ]


def test_distinct_texts_once_in_batches_with_types_restored() -> None:
    tower = TensorTower()
    out = tokenize_texts(tower, ["hi", "yo", "hi", "abc"], batch_size=2)
    assert tower.seen == ["hi", "yo", "abc"]
    assert list(out) == ["hi", "yo", "abc"]
    ids = out["abc"]["input_ids"]
    assert isinstance(ids, torch.Tensor) and ids.dtype == torch.long and ids.tolist() == [101, 97, 98, 99]
    assert isinstance(out["yo"]["weights"], np.ndarray) and out["yo"]["weights"].dtype == np.float32
    assert out["hi"]["n"] == 2


def test_cache_is_reused_and_keyed_by_the_tower_config(tmp_path: Path) -> None:
    texts = ["one", "two", "three"]
    first = tokenize_texts(TensorTower(), texts, cache_dir=tmp_path)
    again_tower = TensorTower()
    again = tokenize_texts(again_tower, texts, cache_dir=tmp_path)
    assert again_tower.seen == []  # read from the Arrow cache
    assert torch.equal(first["two"]["input_ids"], again["two"]["input_ids"])
    assert isinstance(again["two"]["input_ids"], torch.Tensor)
    other = TensorTower(prefix=7)
    changed = tokenize_texts(other, texts, cache_dir=tmp_path)
    assert other.seen == texts and changed["one"]["input_ids"][0].item() == 7
    assert fingerprint(TensorTower(), texts) != fingerprint(TensorTower(), [*texts, "four"])


def test_no_texts() -> None:
    assert tokenize_texts(TensorTower(), []) == {}
