"""Cross-encoders: a pair_tokens tower + the cross_encoder head (one transformer reads both texts).

The base is a tiny random BERT (``tiny_bert_dir``) so that every test runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim import LOSSES
from pairsim.errors import ConfigError
from pairsim.model import PairModel

A = ["a man is playing a guitar", "two dogs run in the snow", "hello", "a woman slices an onion very slowly"]
B = ["a man plays the guitar", "a cat sleeps", "a long sentence about nothing in particular at all", "onions"]


def cross_config(base: Path, output: str = "classification", **head: Any) -> dict[str, Any]:
    return {
        "tower": {"name": "pair_tokens", "model": str(base), "max_length": 12},
        "head": {"name": "cross_encoder", "model": str(base), "output": output, "max_length": 20, **head},
    }


@pytest.fixture
def cross(tiny_bert_dir: Path) -> PairModel:
    torch.manual_seed(0)
    return PairModel.from_config(cross_config(tiny_bert_dir)).eval()


def test_the_joint_input_is_the_tokenizers_pair_encoding(cross: PairModel) -> None:
    tok = cross.tower_a.tokenizer
    a, b = cross.encode_a(A[:2]), cross.encode_b(B[:2])  # (2, 12) token-id rows, -1 = none
    joint = cross.head.pair_inputs(a, b)
    for i in range(2):
        ref = tok(A[i], B[i])  # [CLS] a [SEP] b [SEP] with token types 0 / 1
        n = len(ref["input_ids"])
        assert joint["input_ids"][i, :n].tolist() == ref["input_ids"]
        assert joint["token_type_ids"][i, :n].tolist() == ref["token_type_ids"]
        assert joint["attention_mask"][i].tolist() == [1] * n + [0] * (joint["input_ids"].shape[1] - n)


@pytest.mark.parametrize(("text_a", "text_b"), [(A[3], B[2]), (B[2], A[1]), (A[2], B[2])])
def test_a_long_pair_is_cut_longest_first_to_max_length(tiny_bert_dir: Path, text_a: str, text_b: str) -> None:
    model = PairModel.from_config(cross_config(tiny_bert_dir, max_length=12), pretrained=False)
    model.load_pretrained()
    ids = model.head.pair_inputs(model.encode_a([text_a]), model.encode_b([text_b]))["input_ids"][0].tolist()
    ref = model.tower_a.tokenizer(text_a, text_b, truncation="longest_first", max_length=12)["input_ids"]
    assert len(ids) == len(ref) == 12 and ids == ref


def test_save_load_scores_the_same_and_keeps_the_threshold(cross: PairModel, tmp_path: Path) -> None:
    cross.config.threshold = 0.5
    before = cross.score(A, B)  # (4,)
    assert before.shape == (4,) and bool(((before > 0) & (before < 1)).all())
    cross.save_pretrained(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["model"]["head"]["name"] == "cross_encoder" and saved["model"]["tower"]["name"] == "pair_tokens"
    assert saved["model"]["head"]["backbone_config"] and saved["model"]["head"]["template"]  # loads from the dir
    assert "model.safetensors" in saved["sha256"] and "tower_a/tokenizer/tokenizer_config.json" in saved["sha256"]
    loaded = PairModel.from_pretrained(tmp_path / "model")
    torch.testing.assert_close(loaded.score(A, B), before, rtol=0, atol=1e-6)
    assert loaded.config.threshold == 0.5 and loaded.cross
    assert loaded.is_similar(before).tolist() == (before >= 0.5).tolist()


def test_onnx_export_scores_the_same(cross: PairModel, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from pairsim.export.onnx import export_onnx
    from pairsim.export.onnx_runtime import OnnxPairModel

    cross.config.threshold = 0.5
    export_onnx(cross, tmp_path / "onnx")
    assert (tmp_path / "onnx" / "head.onnx").is_file()
    head_json = json.loads((tmp_path / "onnx" / "head.json").read_text())
    assert head_json["parameters"] == {}  # the transformer's weights live in head.onnx, not in JSON
    onnx = OnnxPairModel.load(tmp_path / "onnx")
    torch.testing.assert_close(onnx.score(A, B), cross.score(A, B), rtol=0, atol=1e-4)
    assert onnx.config.threshold == 0.5


def test_matrix_and_chunks_equal_one_pass_per_pair(tiny_bert_dir: Path) -> None:
    torch.manual_seed(0)
    model = PairModel.from_config(cross_config(tiny_bert_dir, chunk=3)).eval()
    a, b = model.encode_a(A), model.encode_b(B[:3])
    with torch.no_grad():
        m = model.head.matrix(a, b)  # (4, 3), in chunks of 3 pairs
        one = torch.stack(
            [torch.stack([model.head(a[i : i + 1], b[j : j + 1])[0] for j in range(3)]) for i in range(4)]
        )
    torch.testing.assert_close(m, one, rtol=0, atol=1e-5)


def test_regression_output_is_the_logit(tiny_bert_dir: Path) -> None:
    torch.manual_seed(0)
    model = PairModel.from_config(cross_config(tiny_bert_dir, output="regression")).eval()
    a, b = model.encode_a(A), model.encode_b(B)
    with torch.no_grad():
        torch.testing.assert_close(model.head(a, b), model.head.pair_logits(a, b))
    assert model.head.score_range == (-float("inf"), float("inf"))


@pytest.mark.parametrize("loss", ["bce", "mse", "cosent", "listwise"])
def test_score_losses_train_the_transformer(cross: PairModel, loss: str) -> None:
    cross.train()
    fn = LOSSES.get(loss)(LOSSES.get(loss).Config(name=loss), head=cross.head)
    a = cross.tower_a(cross.tower_a.preprocess(A))  # (4, 12)
    b = cross.side_b(cross.side_b.preprocess(B))
    value = fn(a, b, torch.tensor([1.0, 0.0, 0.0, 1.0]))
    value.backward()
    grads = [p.grad for n, p in cross.head.encoder.named_parameters() if "layer.0." in n]
    assert torch.isfinite(value) and grads and all(g is not None and bool(g.abs().sum() > 0) for g in grads)


@pytest.mark.parametrize("loss", ["infonce", "prototypical", "triplet", "contrastive"])
def test_losses_on_embeddings_are_refused(cross: PairModel, loss: str) -> None:
    with pytest.raises(ConfigError, match="gives one score per pair and no embeddings"):
        LOSSES.get(loss)(LOSSES.get(loss).Config(name=loss), head=cross.head)


def test_towers_and_head_must_fit(tiny_bert_dir: Path) -> None:
    config = cross_config(tiny_bert_dir)
    with pytest.raises(ConfigError, match="gives tokens, but the cosine head reads embeddings"):
        PairModel.from_config({**config, "head": {"name": "cosine"}}, pretrained=False)
    tower = {"name": "transformer", "model": str(tiny_bert_dir)}
    with pytest.raises(ConfigError, match="gives embeddings, but the cross_encoder head reads tokens"):
        PairModel.from_config({**config, "tower": tower}, pretrained=False)


def test_calibrated_is_refused(tiny_bert_dir: Path) -> None:
    with pytest.raises(ConfigError, match="calibrated"):
        PairModel.from_config(cross_config(tiny_bert_dir, calibrated=True), pretrained=False)
