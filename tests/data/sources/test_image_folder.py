"""``image_folder``: hidden folders and files (``.ipynb_checkpoints/``, ``._x.png``) are never classes or images."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pairsim.data.sources.image_folder import scan_class_folders


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8)).save(path)


def test_hidden_class_folders_and_files_are_skipped_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for cls in ("s1", "s2", "s10"):
        _png(tmp_path / cls / "1.png", 10)
        _png(tmp_path / cls / "2.png", 20)
    _png(tmp_path / ".ipynb_checkpoints" / "1-checkpoint.png", 30)  # would be a class of its own
    _png(tmp_path / "s1" / "._1.png", 40)  # macOS resource fork beside an image
    (tmp_path / ".DS_Store").write_bytes(b"Bud1")
    with caplog.at_level(logging.INFO, logger="pairsim.data"):
        classes = scan_class_folders(tmp_path, [".png"])
    assert list(classes) == ["s1", "s2", "s10"]
    assert {name: [f.name for f in files] for name, files in classes.items()} == {
        "s1": ["1.png", "2.png"],
        "s2": ["1.png", "2.png"],
        "s10": ["1.png", "2.png"],
    }
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped 2 hidden entries in {tmp_path}: .ipynb_checkpoints/, s1/._1.png (names starting with '.' are "
        "never classes or identities)"
    ]


def test_only_hidden_folders_is_no_class_at_all(tmp_path: Path) -> None:
    from pairsim.errors import DataError

    _png(tmp_path / ".ipynb_checkpoints" / "1.png", 30)
    with pytest.raises(DataError, match="no class sub-folders with images"):
        scan_class_folders(tmp_path, [".png"])
