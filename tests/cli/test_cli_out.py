"""Every file the command line writes follows one output-path policy (issue 22): a new name or a regular file
(replaced atomically), a symbolic link followed to its regular file, ``--out -`` for standard output where the
output is text; anything else at the path is one error line and stays as it was."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def replace_only_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is renamed over a path outside ``tmp_path`` (never /dev/null, even as root)."""
    real_replace, real_rename = os.replace, os.rename

    def guard(real: Callable[..., None]) -> Callable[..., None]:
        def guarded(src: str | Path, dst: str | Path) -> None:
            assert Path(dst).resolve().is_relative_to(tmp_path.resolve()), f"renamed over {dst}"
            real(src, dst)

        return guarded

    monkeypatch.setattr(os, "replace", guard(real_replace))
    monkeypatch.setattr(os, "rename", guard(real_rename))


def _plant(kind: str, path: Path) -> str:
    """Put a ``kind`` at ``path``; returns the words the error must hold."""
    if kind == "fifo":
        os.mkfifo(path)
        return "is a FIFO (named pipe); expected a regular file"
    if kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(path.name)  # relative to the test's folder: socket paths are limited to about 100 bytes
        server.close()
        return "is a socket; expected a regular file"
    if kind == "link-to-dev-null":
        path.symlink_to("/dev/null")
        return "is a symbolic link to /dev/null, which is a character device; expected a regular file"
    if kind == "dangling-link":
        path.symlink_to(path.with_name("nowhere.tsv"))
        return f"is a symbolic link to {path.with_name('nowhere.tsv')}, which does not exist"
    raise AssertionError(kind)


def _one_line(result: Any) -> str:
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


@pytest.fixture
def pair_files(digit_pngs: list[Any], write_lines: Callable[..., Path]) -> tuple[Path, Path]:
    return write_lines("a.txt", [d.path for d in digit_pngs[:3]]), write_lines(
        "b.txt", [d.path for d in digit_pngs[3:6]]
    )


@pytest.mark.parametrize("kind", ["fifo", "socket", "link-to-dev-null", "dangling-link"])
@pytest.mark.parametrize("command", ["score", "encode", "enroll"])
def test_nothing_but_a_regular_file_is_replaced(
    kind: str,
    command: str,
    model_dir: Path,
    pair_files: tuple[Path, Path],
    digit_pngs: list[Any],
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    replace_only_inside: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / ("out.tsv" if command == "score" else "out.safetensors")
    words = _plant(kind, out)
    before = os.lstat(out)
    if command == "score":
        result = cli("score", *pair_files, "--model", model_dir, "--out", out)
        option = "--out"
    elif command == "encode":
        result = cli("encode", pair_files[0], "--model", model_dir, "--out", out)
        option = "--out"
    else:
        (tmp_path / "people" / "ann").mkdir(parents=True)
        os.link(digit_pngs[0].path, tmp_path / "people" / "ann" / "face.png")
        result = cli("enroll", tmp_path / "people", "--model", model_dir, "--gallery", out)
        option = "--gallery"
    message = _one_line(result)
    assert message.startswith(f"pairsim: error: {option} {out} ") and words in message
    after = os.lstat(out)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # the very same thing, untouched
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and ".lock" not in p.name]


def test_out_dev_null_is_refused_and_never_replaced(
    model_dir: Path, pair_files: tuple[Path, Path], cli: Callable[..., Any], replace_only_inside: None
) -> None:
    before = os.stat("/dev/null")
    message = _one_line(cli("score", *pair_files, "--model", model_dir, "--out", "/dev/null"))
    assert message == (
        "pairsim: error: --out /dev/null is a character device; expected a regular file or a new name (it is left "
        "as it is)"
    )
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)


def test_out_dash_is_standard_output(
    model_dir: Path, pair_files: tuple[Path, Path], cli: Callable[..., Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    printed = cli("score", *pair_files, "--model", model_dir)
    dashed = cli("score", *pair_files, "--model", model_dir, "--out", "-")
    assert dashed.code == 0 and dashed.out == printed.out and dashed.out.startswith("score\tsame\n")
    assert len(dashed.out.splitlines()) == 4 and not (tmp_path / "-").exists()
    ranked = cli("score", *pair_files, "--model", model_dir, "--top-k", "2", "--out", "-")
    assert (
        ranked.code == 0 and ranked.out.startswith("a_line\trank\tb_line\tscore") and len(ranked.out.splitlines()) == 7
    )


def test_encode_out_dash_is_refused_in_one_line(
    model_dir: Path, pair_files: tuple[Path, Path], cli: Callable[..., Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    message = _one_line(cli("encode", pair_files[0], "--model", model_dir, "--out", "-"))
    assert message == (
        "pairsim: error: --out -: embeddings (.safetensors or .npy) are binary, not written to standard output; "
        "give a file name"
    )
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("command", ["score", "encode"])
def test_a_symlink_to_a_file_is_followed_and_stays_a_link(
    command: str, model_dir: Path, pair_files: tuple[Path, Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    suffix = ".tsv" if command == "score" else ".npy"
    real = tmp_path / "results" / f"v1{suffix}"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / f"latest{suffix}"
    link.symlink_to(real)
    args = (*pair_files,) if command == "score" else (pair_files[0],)
    result = cli(command, *args, "--model", model_dir, "--out", link)
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == str(real)
    if command == "score":
        assert real.read_text() == cli("score", *pair_files, "--model", model_dir).out
    else:
        import numpy as np

        assert np.load(real).shape[0] == 3
    assert sorted(p.name for p in real.parent.iterdir()) == [real.name]


@pytest.mark.parametrize("command", ["eval", "export"])
def test_folder_outputs_refuse_dash_in_one_line(
    command: str, model_dir: Path, cli: Callable[..., Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    extra = ["eval.plots=false"] if command == "eval" else ["--format", "onnx"]
    message = _one_line(cli(command, model_dir, *extra, "--out", "-"))
    assert (
        message.startswith(f"pairsim: error: --out -: {command} writes a folder") and "not standard output" in message
    )
    assert not (tmp_path / "-").exists()
