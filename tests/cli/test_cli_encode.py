"""``pairsim encode INPUTS --model DIR --out FILE``: (N, D) embeddings as safetensors or .npy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pairsim.model import PairModel


@pytest.mark.parametrize("suffix", [".safetensors", ".npy"])
def test_encode_images(
    suffix: str,
    model_dir: Path,
    digit_pngs: list[Any],
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    paths = [d.path for d in digit_pngs[:5]] + [digit_pngs[0].path]  # a repeated line keeps its row
    out = tmp_path / f"emb{suffix}"
    result = cli("encode", write_lines("in.txt", paths), "--model", model_dir, "--out", out)
    assert result.code == 0, result.err
    model = PairModel.from_pretrained(model_dir)
    assert result.out == f"6 embeddings of size {model.tower_a.out_dim} written to {out}\n"
    emb = load_file(out)["embeddings"] if suffix == ".safetensors" else torch.from_numpy(np.load(out))
    assert emb.shape == (6, model.tower_a.out_dim) and emb.dtype == torch.float32
    assert torch.allclose(emb, model.encode_a(paths), atol=1e-6)
    assert torch.equal(emb[5], emb[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.txt", out.name])  # no temporary file left


def test_encode_texts_with_side_b(
    text_model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any], texts: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "emb.npy"
    result = cli("encode", write_lines("in.txt", texts), "--model", text_model_dir, "--out", out, "--side", "b")
    assert result.code == 0, result.err
    model = PairModel.from_pretrained(text_model_dir)
    emb = np.load(out)
    assert emb.shape == (4, 8)
    assert np.allclose(emb, model.encode_b(texts).numpy(), atol=1e-6)  # tied: side b is tower a
    assert np.allclose(emb, model.encode_a(texts).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "out, message",
    [
        ("emb.txt", "--out {tmp}/emb.txt: expected a .safetensors or .npy file name"),
        ("nowhere/emb.npy", "--out {tmp}/nowhere/emb.npy: folder {tmp}/nowhere does not exist"),
    ],
)
def test_encode_bad_output_name(
    out: str,
    message: str,
    text_model_dir: Path,
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    texts: list[str],
    tmp_path: Path,
) -> None:
    result = cli("encode", write_lines("in.txt", texts), "--model", text_model_dir, "--out", tmp_path / out)
    assert result.code == 2
    assert result.err == f"pairsim: error: {message.format(tmp=tmp_path)}\n"


def test_encode_warns_about_empty_and_unknown_lines_or_refuses_them(
    text_model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any], texts: list[str], tmp_path: Path
) -> None:
    lines = write_lines("in.txt", [texts[0], " ", "zebra quux", texts[1]])
    out = tmp_path / "emb.npy"
    result = cli("encode", lines, "--model", text_model_dir, "--out", out)
    assert result.code == 0 and out.is_file()
    assert result.err.splitlines() == [
        f"pairsim: warning: {lines}: 2 of 4 texts give the model nothing to read: 1 empty or blank (line 2), 1 with "
        "no word it knows (line 3); such texts encode alike, so their scores mean nothing (strict_text / "
        "--strict-text makes this an error)"
    ]
    before = out.read_bytes()
    strict = cli("encode", lines, "--model", text_model_dir, "--out", out, "--strict-text")
    assert strict.code == 2 and strict.err.startswith(f"pairsim: error: {lines}: 2 of 4 texts")
    assert out.read_bytes() == before  # the earlier file stays as it was
