"""User errors on the command line: exit code 2 and one line ``pairsim: error: ...`` naming the bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pairsim.cli import main


def _one_error_line(result: Any) -> str:
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pairsim: error: "), result.err
    return lines[0].removeprefix("pairsim: error: ")


def test_mismatched_line_counts(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a = write_lines("a.txt", [d.path for d in digit_pngs[:3]])
    b = write_lines("b.txt", [d.path for d in digit_pngs[3:5]])
    message = _one_error_line(cli("score", a, b, "--model", model_dir))
    assert message.startswith(f"{a} has 3 lines but {b} has 2: pairwise scoring needs equal counts")
    assert "--top-k" in message


@pytest.mark.parametrize("side", ["a", "b"])
def test_missing_input_file(
    side: str,
    model_dir: Path,
    digit_pngs: list[Any],
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    files = {"a": write_lines("a.txt", [digit_pngs[0].path]), "b": write_lines("b.txt", [digit_pngs[1].path])}
    files[side] = tmp_path / "missing.txt"
    message = _one_error_line(cli("score", files["a"], files["b"], "--model", model_dir))
    assert message == f"input file not found: {tmp_path / 'missing.txt'}"


def test_unreadable_image_names_the_file(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    garbage = tmp_path / "broken.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    a = write_lines("a.txt", [digit_pngs[0].path, str(garbage)])
    b = write_lines("b.txt", [digit_pngs[1].path, digit_pngs[2].path])
    message = _one_error_line(cli("score", a, b, "--model", model_dir))
    assert message.startswith(f"cannot read image {garbage}")
    # the same from encode, and a path that is not there at all
    message = _one_error_line(cli("encode", a, "--model", model_dir, "--out", tmp_path / "e.npy"))
    assert message.startswith(f"cannot read image {garbage}")
    b = write_lines("b.txt", [digit_pngs[1].path, str(tmp_path / "gone.png")])
    assert _one_error_line(cli("score", b, b, "--model", model_dir)) == f"image file not found: {tmp_path / 'gone.png'}"
    assert not (tmp_path / "e.npy").exists()


def test_empty_and_non_utf8_input_files(
    model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert _one_error_line(cli("encode", empty, "--model", model_dir, "--out", tmp_path / "e.npy")) == (
        f"{empty} is empty: expected one input per line"
    )
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    assert _one_error_line(cli("encode", latin1, "--model", model_dir, "--out", tmp_path / "e.npy")).startswith(
        f"{latin1} is not UTF-8 text"
    )


def test_missing_model_and_missing_output_folder(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    a = write_lines("a.txt", [digit_pngs[0].path])
    message = _one_error_line(cli("score", a, a, "--model", tmp_path / "no-model"))
    assert str(tmp_path / "no-model") in message and "config.json" in message
    message = _one_error_line(cli("score", a, a, "--model", model_dir, "--out", tmp_path / "nowhere" / "s.tsv"))
    assert message == f"--out {tmp_path / 'nowhere' / 's.tsv'}: folder {tmp_path / 'nowhere'} does not exist"
    (tmp_path / "people" / "someone").mkdir(parents=True)
    (tmp_path / "people" / "someone" / "face.png").write_bytes(Path(digit_pngs[0].path).read_bytes())
    gallery = tmp_path / "nowhere" / "g.safetensors"
    message = _one_error_line(cli("enroll", tmp_path / "people", "--model", model_dir, "--gallery", gallery))
    assert message == f"enroll: --gallery {gallery}: folder {tmp_path / 'nowhere'} does not exist"


def test_usage_errors_exit_2_through_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["score", "a.txt"])  # b and --model missing
    assert info.value.code == 2
    assert "error: the following arguments are required: b, --model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    for command in ["train", "eval", "score", "encode", "enroll", "identify"]:
        assert command in help_text
