"""ONNX export speed-ups: transformer graphs fused into onnxruntime's kernels give the same embeddings; int8
quantizes matrix products and never convolutions; a fusion that changes the output is not kept."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from pairsim.cli import main
from pairsim.export import onnx_optimize
from pairsim.export.onnx import export_onnx
from pairsim.export.onnx_runtime import OnnxPairModel

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'pairsim[onnx]'")
onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install 'pairsim[onnx]'")


def _ops(path: Path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def test_a_transformer_export_is_fused_and_gives_pytorchs_embeddings(
    make_model, stsb_sentences: list[str], tmp_path: Path
) -> None:
    model = make_model("transformer").eval()
    export_onnx(model, tmp_path / "fused")
    ops = _ops(tmp_path / "fused" / "tower_a.onnx")
    assert {"Attention", "SkipLayerNormalization", "EmbedLayerNormalization"} <= set(ops)  # onnxruntime's kernels
    assert json.loads((tmp_path / "fused" / "pairsim_onnx.json").read_text())["optimize"] is True
    assert model.tower_a.encoder.config._attn_implementation == "sdpa"  # tracing switched to eager and back
    ours = OnnxPairModel.load(tmp_path / "fused").encode_a(stsb_sentences, batch_size=7)  # (N, 8) padded batches
    assert (ours - model.encode_a(stsb_sentences, batch_size=7)).abs().max().item() <= 1e-4


def test_no_optimize_keeps_standard_onnx_operators(make_model, stsb_sentences: list[str], tmp_path: Path) -> None:
    model = make_model("transformer").eval()
    export_onnx(model, tmp_path / "plain", optimize=False)
    graph = onnx.load(str(tmp_path / "plain" / "tower_a.onnx")).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}  # no com.microsoft contrib operators
    ours = OnnxPairModel.load(tmp_path / "plain").encode_a(stsb_sentences, batch_size=7)  # (N, 8)
    assert (ours - model.encode_a(stsb_sentences, batch_size=7)).abs().max().item() <= 1e-4


def test_a_fusion_that_changes_the_output_is_not_kept(make_model, tmp_path: Path, monkeypatch) -> None:
    model = make_model("transformer").eval()
    export_onnx(model, tmp_path / "plain", optimize=False)
    path = tmp_path / "plain" / "tower_a.onnx"
    before = path.read_bytes()
    batch = model.tower_a.preprocess(["a short text", "a somewhat longer text for the check"])
    feed = {k: v.numpy() for k, v in batch.items()}
    spec = model.tower_a.onnx_fusion()
    monkeypatch.setattr(onnx_optimize, "FUSED_TOLERANCE", -1.0)  # every fused output now "differs"
    assert onnx_optimize.fuse(path, spec, feed) is False
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.glob("*.onnx")) == ["tower_a.onnx"]
    monkeypatch.setattr(onnx_optimize, "FUSED_TOLERANCE", 1e-4)
    assert onnx_optimize.fuse(path, spec, feed) is True
    assert "Attention" in _ops(path)


def test_int8_quantizes_a_transformers_matrix_products(make_model, stsb_sentences: list[str], tmp_path: Path) -> None:
    model = make_model("transformer").eval()
    export_onnx(model, tmp_path / "int8", quantize="int8")
    ops = _ops(tmp_path / "int8" / "tower_a.onnx")
    assert "MatMulInteger" in ops and "Attention" in ops  # feed-forward and output projections int8
    assert "QAttention" not in ops and "MatMul" not in ops  # the fused attention stays float32, all else int8
    ours = OnnxPairModel.load(tmp_path / "int8").encode_a(stsb_sentences, batch_size=7)  # (N, 8)
    reference = model.encode_a(stsb_sentences, batch_size=7)  # (N, 8)
    assert torch.nn.functional.cosine_similarity(ours, reference).min().item() > 0.95


def test_int8_leaves_convolutions_in_float32_and_says_so(tower_config, face_images, tmp_path: Path, caplog) -> None:
    from pairsim.model import PairModel

    torch.manual_seed(0)
    model = PairModel.from_config({"tower": tower_config("timm")}, pretrained=False).eval()
    with caplog.at_level(logging.WARNING, logger="pairsim.export.onnx_optimize"):
        export_onnx(model, tmp_path / "int8", quantize="int8")
    ops = _ops(tmp_path / "int8" / "tower_a.onnx")
    assert ops.count("Conv") > 10 and "ConvInteger" not in ops
    [line] = [r.getMessage() for r in caplog.records if "convolutions" in r.getMessage()]
    assert f"keeps its {ops.count('Conv')} convolutions in float32" in line
    ours = OnnxPairModel.load(tmp_path / "int8").encode_a(face_images, batch_size=3)  # (N, 8)
    reference = model.encode_a(face_images, batch_size=3)  # (N, 8)
    assert np.allclose(ours.numpy(), reference.numpy(), atol=2e-2 * reference.abs().max().item())


def test_cli_no_optimize(make_model, tmp_path: Path, capsys) -> None:
    model = make_model("transformer").eval()
    model.save_pretrained(tmp_path / "model")
    assert (
        main(["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(tmp_path / "o"), "--no-optimize"])
        == 0
    )
    assert json.loads((tmp_path / "o" / "pairsim_onnx.json").read_text())["optimize"] is False
    assert "Attention" not in _ops(tmp_path / "o" / "tower_a.onnx")
    code = main(["export", str(tmp_path / "model"), "--format", "sentence-transformers", "--out",
                 str(tmp_path / "st"), "--no-optimize"])  # fmt: skip
    assert code == 2 and "--no-optimize applies to --format onnx only" in capsys.readouterr().err
