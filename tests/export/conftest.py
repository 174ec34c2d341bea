"""Fixtures of the export / serving tests: a real slice of STS-B sentences and a MiniLM pair model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("PAIRSIM_DATA_DIR") or REPO.parent / "shared" / "data")
STSB_TEST = DATA / "stsbenchmark" / "sts-test.csv"


def read_stsb(n: int) -> list[tuple[str, str, float]]:
    """The first ``n`` (sentence_a, sentence_b, score 0-5) rows of the STS-B test split."""
    rows = []
    with open(STSB_TEST, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 7:
                rows.append((cols[5], cols[6], float(cols[4])))
            if len(rows) == n:
                break
    return rows


@pytest.fixture(scope="session")
def stsb_sentences() -> list[str]:
    """32 real sentences (16 STS-B test pairs, both sides), short and long, for equality checks."""
    if not STSB_TEST.is_file():
        pytest.skip(f"STS-B not found at {STSB_TEST} (set PAIRSIM_DATA_DIR)")
    return [s for a, b, _ in read_stsb(16) for s in (a, b)]


@pytest.fixture(scope="session")
def minilm_model(minilm_path: Path):
    """A tied pair model on the real all-MiniLM-L6-v2 weights (mean pooling, normalised, cosine head)."""
    from pairsim.model import PairModel

    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(minilm_path)}, "threshold": 0.5})
    return model.eval()


@pytest.fixture(scope="session")
def face_images() -> list[str]:
    """Eight real AT&T face images (PGM, grayscale 92x112) of four people."""
    root = DATA / "att_faces"
    paths = [root / f"s{person}" / f"{shot}.pgm" for person in (1, 2, 3, 4) for shot in (1, 2)]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"AT&T faces not found under {root} (set PAIRSIM_DATA_DIR)")
    return [str(p) for p in paths]


@pytest.fixture
def real_items(stsb_sentences: list[str], face_images: list[str]):
    """``real_items(modality)``: real STS-B sentences or real face images."""
    return lambda modality: list(stsb_sentences) if modality == "text" else list(face_images)
