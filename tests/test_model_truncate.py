"""``truncate_dim``: the leading dimensions of every embedding, where embeddings leave the model (encode, score,
galleries, export, the CLI), renormalised for a cosine head; saved with the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from pairsim.errors import ConfigError
from pairsim.model import PairModel


def test_encode_and_score_match_slicing(make_model: Callable[..., Any], texts: list[str]) -> None:
    model = make_model("lstm", head="cosine")
    full = model.encode_a(texts)  # (N, D)
    d = full.shape[1] // 2
    model.set_truncate_dim(d)
    assert model.embedding_dim == d
    short = model.encode_a(texts)
    torch.testing.assert_close(short, F.normalize(full[:, :d], dim=1))  # cosine head: unit rows
    scores = model.score(texts, texts[::-1])
    torch.testing.assert_close(scores, F.cosine_similarity(full[:, :d], full.flip(0)[:, :d]), atol=1e-6, rtol=1e-5)


def test_distance_heads_get_plain_slices(make_model: Callable[..., Any], texts: list[str]) -> None:
    model = make_model("lstm", head="euclidean")
    full = model.encode_b(texts)
    model.set_truncate_dim(3)
    torch.testing.assert_close(model.encode_b(texts), full[:, :3])


def test_truncate_dim_round_trips_save_and_load(
    make_model: Callable[..., Any], texts: list[str], tmp_path: Path
) -> None:
    model = make_model("lstm", head="cosine")
    fingerprint = model.fingerprint()
    model.set_truncate_dim(4)
    assert model.fingerprint() != fingerprint  # a gallery of full-size embeddings is never searched at size 4
    saved = model.save_pretrained(tmp_path / "m")
    loaded = PairModel.from_pretrained(saved)
    assert loaded.config.truncate_dim == 4 and loaded.embedding_dim == 4
    torch.testing.assert_close(loaded.encode_a(texts), model.encode_a(texts))
    loaded.set_truncate_dim(None)
    assert loaded.encode_a(texts).shape[1] == model.tower_a.out_dim


def test_bad_sizes_and_sized_heads_are_refused(make_model: Callable[..., Any]) -> None:
    model = make_model("lstm", head="cosine")
    with pytest.raises(ConfigError, match=rf"truncate_dim: expected a size in 1\.\.{model.tower_a.out_dim}"):
        model.set_truncate_dim(model.tower_a.out_dim + 1)
    weighted = make_model("lstm", head="weighted_l1")
    with pytest.raises(ConfigError, match=r"head .weighted_l1. holds .* it cannot score truncated embeddings"):
        weighted.set_truncate_dim(2)
    weighted.set_truncate_dim(weighted.tower_a.out_dim)  # the full size is fine


def test_onnx_export_gives_the_truncated_embeddings(
    make_model: Callable[..., Any], texts: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from pairsim.export.onnx import export_onnx
    from pairsim.export.onnx_runtime import OnnxPairModel

    model = make_model("lstm", head="cosine")
    model.set_truncate_dim(3)
    out = export_onnx(model, tmp_path / "onnx")
    onnx = OnnxPairModel.load(out)
    assert onnx.embedding_dim == 3
    torch.testing.assert_close(onnx.encode_a(texts), model.encode_a(texts), atol=1e-5, rtol=1e-4)


def test_cli_encode_truncate_dim(make_model: Callable[..., Any], texts: list[str], tmp_path: Path, capsys: Any) -> None:
    from safetensors.torch import load_file

    from pairsim.cli import main

    model = make_model("lstm", head="cosine")
    saved = model.save_pretrained(tmp_path / "m")
    inputs = tmp_path / "in.txt"
    inputs.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "emb.safetensors"
    assert main(["encode", str(inputs), "--model", str(saved), "--out", str(out), "--truncate-dim", "2"]) == 0
    assert capsys.readouterr().out == f"{len(texts)} embeddings of size 2 written to {out}\n"
    model.set_truncate_dim(2)
    torch.testing.assert_close(load_file(out)["embeddings"], model.encode_a(texts))
    assert main(["encode", str(inputs), "--model", str(saved), "--out", str(out), "--truncate-dim", "999"]) == 2
    assert "truncate_dim: expected a size in 1.." in capsys.readouterr().err
