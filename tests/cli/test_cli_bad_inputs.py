"""Issue 8's bad inputs on the command line: each is exit code 2 and one line ``pairsim...: error: ...`` naming
the input and what was expected, no traceback, and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from pairsim.cli import main

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"
TINY_DIGITS = ["train.schedule.steps_per_epoch=5", "train.epochs=1", "train.batch_size=16", "train.device=cpu",
               "model.tower.width=0.25", "eval.episodes=0", "eval.pairs=40"]  # fmt: skip


def _one_error_line(result: Any) -> str:
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pairsim: error: "), result.err
    assert "Traceback" not in result.err
    return lines[0].removeprefix("pairsim: error: ")


def _usage_error(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> str:
    """An argparse error: exit 2 and exactly one line on stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == "", captured.err
    return lines[0]


# -- numbers and devices on the command line ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["score", "a", "b", "--model", "m", "--batch-size", "-1"], "argument --batch-size: expected a positive integer, got '-1'"),
        (["score", "a", "b", "--model", "m", "--batch-size", "0"], "argument --batch-size: expected a positive integer, got '0'"),
        (["score", "a", "b", "--model", "m", "--top-k", "-1"], "argument --top-k: expected a positive integer, got '-1'"),
        (["score", "a", "b", "--model", "m", "--top-k", "two"], "argument --top-k: expected a positive integer, got 'two'"),
        (["encode", "a", "--model", "m", "--out", "e.npy", "--batch-size", "0"], "argument --batch-size: expected a positive integer, got '0'"),
        (["score", "a", "b", "--model", "m", "--device", "gpu"], "argument --device: unknown device 'gpu'; expected auto, cpu, cuda, cuda:N or mps"),
        (["encode", "a", "--model", "m", "--out", "e.npy", "--device", "cuda:x"], "argument --device: unknown device 'cuda:x'"),
    ],
)  # fmt: skip
def test_bad_numbers_and_devices_are_one_usage_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(argv, capsys)
    assert line.startswith(f"pairsim {argv[0]}: error: {expected}"), line


def test_cuda_without_a_gpu(
    model_dir: Path,
    digit_pngs: list[Any],
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    a = write_lines("a.txt", [digit_pngs[0].path])
    message = _one_error_line(cli("score", a, a, "--model", model_dir, "--device", "cuda"))
    assert message == "--device: 'cuda' asked for, but CUDA is not available here; use cpu or auto"
    message = _one_error_line(cli("eval", model_dir, "train.device=cuda"))
    assert message == "train.device: 'cuda' asked for, but CUDA is not available here; use cpu or auto"


# -- modality ---------------------------------------------------------------------------------------------------
def test_image_paths_scored_by_a_text_model(
    text_model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a = write_lines("a.txt", [d.path for d in digit_pngs[:3]])
    message = _one_error_line(cli("score", a, a, "--model", text_model_dir))
    assert message.startswith(f"{a}: the inputs are image files ({digit_pngs[0].path}, ...), but this model's tower")
    assert "reads text" in message
    message = _one_error_line(cli("encode", a, "--model", text_model_dir, "--out", a.parent / "e.npy"))
    assert message.startswith(f"{a}: the inputs are image files")
    assert not (a.parent / "e.npy").exists()


def test_texts_scored_by_an_image_model(
    model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a = write_lines("a.txt", ["a dog runs in the park", "How old are you?"])
    message = _one_error_line(cli("score", a, a, "--model", model_dir))
    assert message == (
        f"{a}: line 1 is 'a dog runs in the park', not an image file; this model's tower reads images "
        "(a model for text inputs is needed, or fix the path)"
    )


def test_text_model_evaluated_on_images(text_model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    recipe = tmp_path / "digits.yaml"
    recipe.write_text(
        "model: {tower: {name: lstm}}\nloss: {name: contrastive}\ndata: {name: digits}\n"
        "eval: {pairs: 20, plots: false}\n"
    )
    message = _one_error_line(cli("eval", text_model_dir, recipe, "--out", tmp_path / "eval"))
    assert (
        message == "side-a inputs: item 1 is an image, but this tower reads text (a model for image inputs is needed)"
    )
    assert not (tmp_path / "eval").exists()


def test_text_gallery_enrolled_from_image_folders(
    text_model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    for name, digit in (("ann", digit_pngs[0]), ("bob", digit_pngs[1])):
        (tmp_path / "people" / name).mkdir(parents=True)
        (tmp_path / "people" / name / "face.png").write_bytes(Path(digit.path).read_bytes())
    gallery = tmp_path / "g.safetensors"
    message = _one_error_line(cli("enroll", tmp_path / "people", "--model", text_model_dir, "--gallery", gallery))
    assert message.startswith("side-b inputs: the inputs are image files (") and "reads text" in message
    assert not gallery.exists()


# -- input files ---------------------------------------------------------------------------------------------------
def test_byte_order_mark_is_dropped(text_model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes("\ufeffHow old are you?\nwhat is your age\n".encode())  # as Windows Notepad saves UTF-8
    b.write_bytes(b"How old are you?\nwhat is your age\n")
    result = cli("score", a, b, "--model", text_model_dir)
    assert result.code == 0, result.err
    scores = [float(line.split("\t")[0]) for line in result.out.splitlines()[1:]]
    assert scores == pytest.approx([1.0, 1.0], abs=1e-5)  # identical texts (without the fix: 0.98)


def test_directory_as_input_file(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    a = write_lines("a.txt", [digit_pngs[0].path])
    folder = tmp_path / "folder"
    folder.mkdir()
    message = _one_error_line(cli("score", a, folder, "--model", model_dir))
    assert message == f"input file {folder} is a directory, expected a text file with one input per line"
    message = _one_error_line(cli("encode", folder, "--model", model_dir, "--out", tmp_path / "e.npy"))
    assert message == f"input file {folder} is a directory, expected a text file with one input per line"


def test_blank_line_in_an_image_list(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a = write_lines("a.txt", [digit_pngs[0].path, "", digit_pngs[1].path])
    b = write_lines("b.txt", [d.path for d in digit_pngs[2:5]])
    message = _one_error_line(cli("score", a, b, "--model", model_dir))
    assert message == f"{a}: line 2 is blank; expected an image file path"
    message = _one_error_line(cli("score", b, a, "--model", model_dir))
    assert message == f"{a}: line 2 is blank; expected an image file path"


def test_decompression_bomb_image(
    model_dir: Path,
    digit_pngs: list[Any],
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PIL's limit lowered to 1000 pixels, so small files stand in for a bomb: over the limit (PIL's warning)
    and over twice the limit (PIL's error) are both refused before decoding."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for side in (40, 100):  # 1600 pixels: a DecompressionBombWarning; 10000: a DecompressionBombError
        bomb = tmp_path / f"bomb{side}.png"
        Image.new("L", (side, side)).save(bomb)
        a = write_lines("a.txt", [digit_pngs[0].path, str(bomb)])
        message = _one_error_line(cli("score", a, a, "--model", model_dir))
        assert message == (
            f"image {bomb} has more pixels than the limit of 1000 (a possible decompression bomb; "
            "$PAIRSIM_MAX_IMAGE_PIXELS sets the limit)"
        )
    monkeypatch.setenv("PAIRSIM_MAX_IMAGE_PIXELS", "1500")  # pairsim's own limit, read from the header
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10**8)
    message = _one_error_line(cli("score", a, a, "--model", model_dir))
    assert message.startswith(f"image {bomb} is 100x100 = 10000 pixels, more than the limit of 1500")


def test_non_utf8_recipe(cli: Callable[..., Any], tmp_path: Path) -> None:
    recipe = tmp_path / "latin1.yaml"
    recipe.write_bytes("# caf\xe9\nmodel: {tower: {name: lstm}}\n".encode("latin-1"))
    message = _one_error_line(cli("train", recipe, f"output_dir={tmp_path / 'run'}"))
    assert message.startswith(f"recipe {recipe} is not UTF-8 text (invalid continuation byte at byte 5)")
    assert not (tmp_path / "run").exists()
    message = _one_error_line(cli("train", tmp_path))
    assert message == f"recipe {tmp_path} is a directory, expected a YAML file"


def test_non_utf8_people_text_file(text_model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    person = tmp_path / "people" / "ann"
    person.mkdir(parents=True)
    (person / "says.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    gallery = tmp_path / "g.safetensors"
    message = _one_error_line(cli("enroll", tmp_path / "people", "--model", text_model_dir, "--gallery", gallery))
    assert message == f"{person / 'says.txt'} is not UTF-8 text (invalid continuation byte at byte 3)"
    assert not gallery.exists()


# -- outputs -------------------------------------------------------------------------------------------------------
def test_out_that_is_a_directory(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    a = write_lines("a.txt", [digit_pngs[0].path])
    folder = tmp_path / "out"
    (folder / "keep").mkdir(parents=True)
    assert _one_error_line(cli("score", a, a, "--model", model_dir, "--out", folder)) == (
        f"--out {folder} is a directory; expected a file name"
    )
    assert _one_error_line(cli("encode", a, "--model", model_dir, "--out", folder)) == (
        f"--out {folder} is a directory; expected a file name"
    )
    assert [p.name for p in folder.iterdir()] == ["keep"]


def test_eval_out_that_is_a_file(model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "metrics.txt"
    out.write_text("earlier results\n")
    message = _one_error_line(cli("eval", model_dir, "--out", out))
    assert message == f"--out {out} is a regular file; expected a folder for metrics.json"
    assert out.read_text() == "earlier results\n"


def test_eval_on_an_empty_split_or_no_pairs(model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "eval"
    message = _one_error_line(cli("eval", model_dir, "data.val_fraction=0", "--split", "val", "--out", out))
    assert (
        message
        == "the val split of dataset 'digits' is empty: data.val_fraction is 0.0; raise it, or check the data files"
    )
    message = _one_error_line(cli("eval", model_dir, "eval.pairs=0", "--out", out))
    assert message == "recipe.yaml.eval.pairs: expected an integer in [1, 1000000000000], got 0"
    assert not out.exists()


def test_train_with_an_empty_split(cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "run"
    message = _one_error_line(
        cli("train", DIGITS, *TINY_DIGITS, "data.test_fraction=0", f"output_dir={out}", "--no-progress")
    )
    assert (
        message
        == "the test split of dataset 'digits' is empty: data.test_fraction is 0.0; raise it, or check the data files"
    )


def test_config_out_of_range_in_a_saved_model(
    text_model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    import json

    config = text_model_dir / "config.json"
    saved = json.loads(config.read_text())
    saved["model"]["tower"]["hidden_dim"] = -4
    config.write_text(json.dumps(saved))
    a = write_lines("a.txt", ["hello"])
    message = _one_error_line(cli("score", a, a, "--model", text_model_dir))
    assert message == "config.json:model.tower.hidden_dim: expected an integer in [1, 65536], got -4"


def test_a_refusal_by_the_file_system_is_one_line(
    write_lines: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import pairsim.cli.inputs as inputs

    a = write_lines("a.txt", ["hello"])

    def refuse(path: Any, **kwargs: Any) -> str:
        raise OSError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(inputs, "read_text", refuse)
    assert _one_error_line(cli("score", a, a, "--model", "unused")) == f"Permission denied: {a}"
