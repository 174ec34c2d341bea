"""Tests of pairsim.data.paths: where a dataset's files are looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.data.paths import data_root, missing_error


def test_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAIRSIM_DATA_DIR", str(tmp_path / "env"))
    assert data_root(str(tmp_path / "mine"), "omniglot") == tmp_path / "mine"


def test_env_var_then_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAIRSIM_DATA_DIR", str(tmp_path))
    assert data_root(None, "omniglot") == tmp_path / "omniglot"
    monkeypatch.delenv("PAIRSIM_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root(None, "mrpc") == tmp_path / "home" / ".cache" / "pairsim" / "data" / "mrpc"


def test_missing_error_says_where_and_how(tmp_path: Path) -> None:
    err = missing_error("mrpc", tmp_path, ["a.txt", "b.txt"], "set download: true to fetch them from https://x")
    text = str(err)
    assert "\n" not in text
    assert str(tmp_path) in text and "a.txt, b.txt" in text and "https://x" in text
