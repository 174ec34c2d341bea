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


# -- the output-path policy (issue 22): only a new name or a regular file is written ---------------------------
@pytest.fixture
def replace_only_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is renamed over a path outside ``tmp_path`` (e.g. /dev/null, when run as root)."""
    real = os.replace

    def guarded(src: str | Path, dst: str | Path) -> None:
        assert Path(dst).resolve().is_relative_to(tmp_path.resolve()), f"renamed over {dst}"
        real(src, dst)

    monkeypatch.setattr(safe_io.os, "replace", guarded)


def _make(kind: str, path: Path) -> str:
    """Put a ``kind`` at ``path``; returns how the message names it."""
    if kind == "fifo":
        os.mkfifo(path)
        return f"{path} is a FIFO (named pipe); expected a regular file"
    if kind == "socket":
        import socket

        server = socket.socket(socket.AF_UNIX)
        server.bind(path.name)  # relative: the test runs in the folder (socket paths are limited to ~100 bytes)
        server.close()
        return f"{path} is a socket; expected a regular file"
    if kind == "link-to-device":
        path.symlink_to("/dev/null")
        return f"{path} is a symbolic link to /dev/null, which is a character device; expected a regular file"
    if kind == "dangling-link":
        path.symlink_to(path.with_name("gone"))
        return f"{path} is a symbolic link to {path.with_name('gone')}, which does not exist"
    if kind == "link-to-directory":
        path.with_name("folder").mkdir()
        path.symlink_to(path.with_name("folder"))
        return "which is a directory; expected a regular file"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["fifo", "socket", "link-to-device", "dangling-link", "link-to-directory"])
@pytest.mark.parametrize("writer", ["atomic_write", "atomic_open"])
def test_only_regular_files_are_replaced(
    kind: str, writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replace_only_inside: None
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out"
    expected = _make(kind, target)
    before = os.lstat(target)
    with pytest.raises(DataError) as info:
        if writer == "atomic_write":
            safe_io.atomic_write(target, lambda tmp: tmp.write_text("x"), what="--out")
        else:
            with safe_io.atomic_open(target, what="--out") as f:
                f.write("x")
    assert str(info.value).startswith("--out ") and expected in str(info.value)
    after = os.lstat(target)  # the same thing is still there, untouched, and nothing was left beside it
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_dev_null_itself_is_refused_before_anything_is_written(replace_only_inside: None) -> None:
    with pytest.raises(DataError, match=r"^output /dev/null is a character device; expected a regular file"):
        safe_io.check_file_target(Path("/dev/null"))  # only the check: nothing is ever written near /dev/null


def test_a_symlink_to_a_file_is_followed_and_stays_a_link(tmp_path: Path, replace_only_inside: None) -> None:
    real = tmp_path / "data" / "scores.tsv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.tsv"
    link.symlink_to(real)
    assert safe_io.check_file_target(link) == real
    safe_io.atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new"
    with safe_io.atomic_open(link) as f:
        f.write("newer")
    assert link.is_symlink() and real.read_text() == "newer"
    assert sorted(p.name for p in real.parent.iterdir()) == ["scores.tsv"]


def test_a_fifo_appearing_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"

    def write_while_a_fifo_appears(tmp: Path) -> None:
        tmp.write_text("x")
        os.mkfifo(target)

    with pytest.raises(DataError, match="became a FIFO"):
        safe_io.atomic_write(target, write_while_a_fifo_appears)
    assert target.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("kind", ["fifo", "link-to-directory", "file"])
def test_folders_are_replaced_only_where_a_real_folder_or_nothing_is(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("mine")
    else:
        _make(kind, target)
    refused = r"^output folder .*out is a (FIFO|symbolic link|regular file)"
    with pytest.raises(DataError, match=refused), safe_io.atomic_dir(target) as d:
        (d / "a.txt").write_text("1")
    assert target.is_symlink() if kind == "link-to-directory" else not target.is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_temporary_files_of_the_writing_library_never_outlive_the_write(tmp_path: Path) -> None:
    """safetensors' save_file writes ``.tmpXXXXXX`` beside the path it is given and renames it: that file lives
    in atomic_write's scratch folder, which goes at the end; a killed write's scratch goes at the next write."""
    import torch
    from safetensors.torch import load_file, save_file

    target = tmp_path / "g.safetensors"

    def like_safetensors(tmp: Path) -> None:
        (tmp.parent / ".tmpAbC123").write_bytes(b"half")  # a helper file the library leaves when it fails
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        safe_io.atomic_write(target, like_safetensors)
    assert list(tmp_path.iterdir()) == []
    stale = tmp_path / ".g.safetensors.tmp.d"  # what a kill -9 mid-write leaves
    stale.mkdir()
    (stale / ".tmpXyZ789").write_bytes(b"half")
    safe_io.atomic_write(target, lambda tmp: save_file({"x": torch.ones(2)}, tmp))
    assert [p.name for p in tmp_path.iterdir()] == ["g.safetensors"]
    assert torch.equal(load_file(target)["x"], torch.ones(2))
    stale.mkdir()
    assert safe_io.clean_leftovers(target) == [stale] and not stale.exists()


@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_atomic_open_never_opens_what_sits_at_an_old_temporary_name(planted: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    old_tmp = tmp_path / ".res.tsv.tmp"
    os.symlink(victim, old_tmp) if planted == "link" else os.mkfifo(old_tmp)  # a FIFO would block an open
    with safe_io.atomic_open(tmp_path / "res.tsv") as f:
        f.write("scores\n")
    res = tmp_path / "res.tsv"
    assert victim.read_text() == "keep" and not res.is_symlink() and res.read_text() == "scores\n"
    assert not (tmp_path / ".res.tsv.tmp.d").exists()


@pytest.mark.parametrize("name", [".out.tmp.d", ".model.new", ".model.old"])
def test_a_link_at_a_scratch_name_is_removed_never_followed(name: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    os.symlink(outside, tmp_path / name)
    safe_io.atomic_write_text(tmp_path / "out", "x")
    with safe_io.atomic_dir(tmp_path / "model") as new:
        (new / "a").write_text("a")
    with safe_io.atomic_dir(tmp_path / "model") as new:
        (new / "b").write_text("b")
    assert (outside / "keep").read_text() == "keep" and sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["b"]


def test_dot_and_dotdot_name_the_folder_they_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inner").mkdir()
    monkeypatch.chdir(tmp_path / "inner")
    assert safe_io.dir_target("..") == tmp_path and safe_io.dir_target("x/..") == tmp_path / "inner"
    with pytest.raises(DataError, match="is the current folder or holds it"), safe_io.atomic_dir("."):
        pass  # swapping it would pull the current folder away
    with pytest.raises(DataError, match="current folder"), safe_io.atomic_dir("sub/.."):  # the same folder
        pass
