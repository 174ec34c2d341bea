"""Fixtures of the data tests: the real data folder, small slices of it, and fake towers.

Real data is found in ``$PAIRSIM_DATA_DIR`` or ``<repo>/../shared/data``; tests that need it are skipped
with a reason where neither exists. The fake towers stand in for real ones: their ``featurize`` records
what it saw, and ``collate`` stacks, so loader tests check exactly which items reached which batch.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairsim.data.sources import load_dataset
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.images import load_image

REPO = Path(__file__).resolve().parents[2]
OMNIGLOT_SLICE = {"background_alphabets": ["Arcadian", "Armenian"], "evaluation_alphabets": ["Angelic"]}


def find_data_dir() -> Path | None:
    """``$PAIRSIM_DATA_DIR`` if set and present, else ``<repo>/../shared/data`` if present, else None."""
    env = os.environ.get("PAIRSIM_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder (skips the test, with the reason, when absent)."""
    found = find_data_dir()
    if found is None:
        pytest.skip("real data not found: set PAIRSIM_DATA_DIR or put it in <repo>/../shared/data")
    return found


@pytest.fixture
def data_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``PAIRSIM_DATA_DIR`` at the real data for one test."""
    monkeypatch.setenv("PAIRSIM_DATA_DIR", str(data_dir))
    return data_dir


def _load(data_dir: Path, config: dict[str, Any]) -> Splits[Any]:
    old = os.environ.get("PAIRSIM_DATA_DIR")
    os.environ["PAIRSIM_DATA_DIR"] = str(data_dir)
    try:
        return load_dataset(config)
    finally:
        if old is None:
            del os.environ["PAIRSIM_DATA_DIR"]
        else:
            os.environ["PAIRSIM_DATA_DIR"] = old


@pytest.fixture(scope="session")
def omniglot_slice(data_dir: Path) -> Splits[LabelledItems]:
    """Omniglot with background alphabets Arcadian + Armenian and evaluation alphabet Angelic."""
    return _load(data_dir, {"name": "omniglot", **OMNIGLOT_SLICE})


@pytest.fixture(scope="session")
def faces(data_dir: Path) -> Splits[LabelledItems]:
    """AT&T faces with the tutorial's held-out subjects s5, s6, s7."""
    return _load(data_dir, {"name": "att_faces", "test_subjects": ["s5", "s6", "s7"]})


@pytest.fixture(scope="session")
def mrpc(data_dir: Path) -> Splits[PairTable]:
    return _load(data_dir, {"name": "mrpc"})


@pytest.fixture(scope="session")
def flickr_slice(data_dir: Path) -> Splits[CaptionImages]:
    """The first 60 Flickr8k images (by file name) with their captions."""
    return _load(data_dir, {"name": "flickr8k", "max_images": 60})


class FakeTextTower:
    """A stand-in text tower: ``featurize`` -> ``{"x": len(text), "code": crc32(text)}``, ``collate`` stacks.

    ``calls`` counts how many texts ``featurize`` has seen (to check each text is tokenised once).
    """

    modality = "text"

    def __init__(self) -> None:
        self.config = {"name": "fake_text"}
        self.calls = 0

    def featurize(self, items: Sequence[str], train: bool = False, rng: Any = None) -> list[dict[str, Any]]:
        self.calls += len(items)
        return [{"x": len(t), "code": zlib.crc32(t.encode()) & 0x7FFFFFFF} for t in items]  # code: recognise texts

    def collate(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {
            "x": torch.tensor([f["x"] for f in features]),  # (B,)
            "code": torch.tensor([f["code"] for f in features]),  # (B,)
        }


class FakeImageTower:
    """A stand-in image tower: ``featurize`` -> an 8x8 grayscale thumbnail tensor, ``collate`` stacks (no
    augmentation: the real image towers' is tested in test_pipeline with a real tower)."""

    modality = "image"

    def __init__(self) -> None:
        self.config = {"name": "fake_image"}

    def featurize(self, items: Sequence[Any], train: bool = False, rng: Any = None) -> list[dict[str, Any]]:
        out = []
        for img in map(load_image, items):
            small = np.asarray(img.convert("L").resize((8, 8)), dtype=np.float32) / 255.0  # (8, 8)
            out.append({"pixels": torch.from_numpy(small)})
        return out

    def collate(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {"pixels": torch.stack([f["pixels"] for f in features])}  # (B, 8, 8)


@pytest.fixture
def text_tower() -> FakeTextTower:
    return FakeTextTower()


@pytest.fixture
def image_tower() -> FakeImageTower:
    return FakeImageTower()


class CharTower:
    """A bag-of-characters text tower (26 letter counts) with a seeded linear map: enough to run the pipeline and a loss."""

    modality = "text"

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(26, 8)

    def featurize(self, items: list[str], train: bool = False, rng: object = None) -> list[torch.Tensor]:
        return [torch.bincount(torch.tensor([ord(c) - 97 for c in t if c.isalpha()]), minlength=26).float()
                for t in items]  # fmt: skip

    def collate(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"x": torch.stack(feats)}  # (B, 26)


@pytest.fixture
def char_tower() -> CharTower:
    """A fresh :class:`CharTower`."""
    return CharTower()
