"""The safe-write helpers every writer uses: nothing half-written, nothing earlier lost, only our leftovers removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pairsim import safe_io
from pairsim.errors import DataError


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    safe_io.atomic_write_text(target, "old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        safe_io.atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_open_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "scores.tsv"
    with safe_io.atomic_open(target) as f:
        f.write("first\n")
    with pytest.raises(RuntimeError), safe_io.atomic_open(target) as f:
        f.write("partial")
        raise RuntimeError("scoring failed")
    assert target.read_text() == "first\n" and sorted(p.name for p in tmp_path.iterdir()) == ["scores.tsv"]


@pytest.mark.parametrize("kind", ["directory", "missing-folder"])
def test_file_targets_are_checked(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "d" if kind == "directory" else tmp_path / "nowhere" / "x.txt"
    if kind == "directory":
        target.mkdir()
    expected = (
        f"output {target} is a directory; expected a file name"
        if kind == "directory"
        else f"output {target}: folder {target.parent} does not exist"
    )
    with pytest.raises(DataError) as info:
        safe_io.atomic_write_text(target, "x")
    assert str(info.value) == expected


def test_atomic_dir_swaps_in_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with safe_io.atomic_dir(target) as d:
        (d / "a.txt").write_text("1")
    with pytest.raises(KeyError), safe_io.atomic_dir(target) as d:
        (d / "b.txt").write_text("2")
        raise KeyError("failed half way")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_recover_dir_prefers_the_complete_new_directory(tmp_path: Path) -> None:
    target = tmp_path / "model"
    for tag, text in [("old", "previous"), ("new", "next")]:
        (tmp_path / f".model.{tag}").mkdir()
        (tmp_path / f".model.{tag}" / "config.json").write_text(text)
    assert safe_io.recover_dir(target, complete=lambda d: (d / "config.json").is_file())
    assert (target / "config.json").read_text() == "next"
    assert not safe_io.recover_dir(target, complete=lambda d: True)  # nothing to do once it exists


def test_swap_dir_never_leaves_the_path_empty_before_the_new_one_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "config.json").write_text("old")
    new = tmp_path / ".model.new"
    new.mkdir()
    (new / "config.json").write_text("new")
    real, calls = os.replace, []

    def killed_at_the_second_rename(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill between the renames
        real(src, dst)

    monkeypatch.setattr(safe_io.os, "replace", killed_at_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        safe_io.swap_dir(new, target)
    monkeypatch.undo()
    assert not target.exists()  # the window the recovery closes
    assert safe_io.recover_dir(target, complete=lambda d: (d / "config.json").is_file())
    assert (target / "config.json").read_text() == "new"


def test_clean_leftovers_removes_only_our_names(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    ours = [".metrics.json.tmp", ".metrics.json.tmp.npy", ".metrics.json.x8k2_1ab.tmp"]
    theirs = [".metrics.json.bak", "metrics.json.tmp", ".metrics.json.abcdefgh", "other.json"]
    for name in ours + theirs:
        (tmp_path / name).write_text("x")
    assert [p.name for p in safe_io.clean_leftovers(target)] == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(theirs)
