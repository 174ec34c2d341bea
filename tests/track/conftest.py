"""Fixtures of the tracking tests: a tiny SiamFC model (random weights, fixed seed), and that model saved."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pairsim.track.model import SiamFC, parse_config

TINY = {"backbone": {"name": "alexnet", "width": 0.125}, "exemplar_size": 127, "search_size": 191}


@pytest.fixture
def tiny_siamfc() -> SiamFC:
    torch.manual_seed(0)
    return SiamFC(parse_config(TINY)).eval()


@pytest.fixture
def saved_siamfc(tmp_path: Path, tiny_siamfc: SiamFC) -> Path:
    return tiny_siamfc.save_pretrained(tmp_path / "siamfc")
