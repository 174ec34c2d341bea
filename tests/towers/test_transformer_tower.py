"""The Hugging Face encoder tower, on a tiny local BERT (and once on the real all-MiniLM-L6-v2)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pairsim.errors import ConfigError, ModelFileError
from pairsim.towers.transformer import TransformerConfig, TransformerTower

SENTENCES = ["A man is playing a guitar.", "Someone plays an instrument", "The stock market fell sharply today."]


def tiny(tiny_bert_dir: Path, **fields) -> TransformerTower:
    torch.manual_seed(0)
    t = TransformerTower(TransformerConfig(name="transformer", model=str(tiny_bert_dir), **fields))
    t.load_pretrained()
    return t.eval()


def test_build_reads_the_encoder_config(tiny_bert_dir: Path) -> None:
    given = TransformerConfig(name="transformer", model=str(tiny_bert_dir))
    t = TransformerTower(given)
    assert given.backbone_config is None and given.pooling == "auto"  # building never mutates its config
    cfg = t.config  # the tower's resolved copy
    assert cfg.backbone_config is not None
    assert cfg.backbone_config["model_type"] == "bert" and cfg.backbone_config["hidden_size"] == 32
    assert cfg.backbone_config["num_hidden_layers"] == 2
    assert "_name_or_path" not in cfg.backbone_config and "transformers_version" not in cfg.backbone_config
    # no sentence-transformers files: mean pooling, no normalisation, the encoder's position limit
    assert (cfg.pooling, cfg.normalize, cfg.max_length) == ("mean", False, 512)
    assert t.out_dim == 32 and isinstance(t.proj, torch.nn.Identity)
    assert t.tokenizer is None  # the tokenizer comes with load_pretrained / load_assets
    with pytest.raises(RuntimeError, match="tokenizer is not loaded"):
        t.preprocess(["a"])


def test_build_from_backbone_config_touches_no_file(tiny_bert_dir: Path) -> None:
    cfg = TransformerTower(TransformerConfig(name="transformer", model=str(tiny_bert_dir))).config
    saved = copy.deepcopy(cfg)
    saved.model = "/nonexistent/encoder"  # the original is gone: the inline backbone_config is enough
    t = TransformerTower(saved)
    assert t.encoder.config.hidden_size == 32 and t.encoder.config.num_hidden_layers == 2


def test_unreadable_encoder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model: cannot read encoder config"):
        TransformerTower(TransformerConfig(name="transformer", model=str(tmp_path / "nothing")))


def test_load_pretrained_copies_the_encoder_weights(tiny_bert_dir: Path) -> None:
    from transformers import AutoModel

    t = tiny(tiny_bert_dir)
    reference = AutoModel.from_pretrained(tiny_bert_dir, trust_remote_code=False).state_dict()
    own = t.encoder.state_dict()
    assert own.keys() == reference.keys()
    for key in own:
        assert torch.equal(own[key], reference[key]), key


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_pooling_by_hand(tiny_bert_dir: Path, pooling: str) -> None:
    t = tiny(tiny_bert_dir, pooling=pooling)
    batch = t.preprocess(SENTENCES)
    with torch.no_grad():
        pooled = t(batch)
        hidden = t.encoder(**batch).last_hidden_state
    for i in range(len(SENTENCES)):
        n = int(batch["attention_mask"][i].sum())
        h = hidden[i, :n]  # real tokens only
        expected = {"mean": h.mean(0), "cls": h[0], "max": h.max(0).values}[pooling]
        torch.testing.assert_close(pooled[i], expected, atol=1e-6, rtol=1e-5)


def test_projection_and_normalisation(tiny_bert_dir: Path) -> None:
    t = tiny(tiny_bert_dir, out_dim=8, normalize=True)
    with torch.no_grad():
        out = t(t.preprocess(SENTENCES))
    assert out.shape == (3, 8)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    assert t.proj.in_features == 32


def test_max_length_truncates(tiny_bert_dir: Path) -> None:
    t = tiny(tiny_bert_dir, max_length=5)
    batch = t.preprocess(["one two three four five six seven eight", "short"])
    assert batch["input_ids"].shape == (2, 5)
    assert all(len(f["input_ids"]) <= 5 for f in t.featurize(["one two three four five six seven eight"]))


def test_tokenizer_assets_round_trip(tiny_bert_dir: Path, tmp_path: Path) -> None:
    t = tiny(tiny_bert_dir)
    t.save_assets(tmp_path)
    assert (tmp_path / "tokenizer").is_dir()
    other = TransformerTower(copy.deepcopy(t.config))
    other.load_assets(tmp_path)
    assert torch.equal(other.preprocess(SENTENCES)["input_ids"], t.preprocess(SENTENCES)["input_ids"])
    with pytest.raises(ModelFileError, match="tokenizer files missing"):
        other.load_assets(tmp_path / "elsewhere")


@pytest.mark.slow
def test_minilm_matches_sentence_transformers(minilm_path: Path) -> None:
    """Pooling and normalisation are read from the sentence-transformers directory, as it encodes."""
    from sentence_transformers import SentenceTransformer

    t = TransformerTower(TransformerConfig(name="transformer", model=str(minilm_path)))
    assert (t.config.pooling, t.config.normalize, t.config.max_length) == ("mean", True, 256)
    t.load_pretrained()
    t.eval()
    with torch.no_grad():
        ours = t(t.preprocess(SENTENCES))
    reference = SentenceTransformer(str(minilm_path), device="cpu", trust_remote_code=False).encode(
        SENTENCES, convert_to_tensor=True
    )
    assert ours.shape == (3, 384)
    torch.testing.assert_close(ours, reference.cpu(), atol=1e-5, rtol=0)
    cos = F.cosine_similarity(ours[0:1], ours[1:])  # the paraphrase is closer than the unrelated sentence
    assert cos[0] > cos[1] + 0.2


@pytest.mark.parametrize("side", ["right", "left"])
def test_collate_pads_as_the_tokenizer_does(tiny_bert_dir: Path, side: str) -> None:
    """The hand-written padding (batch max, pad id, pad type, padding side) equals ``tokenizer.pad``."""
    t = tiny(tiny_bert_dir)
    t.tokenizer.padding_side = side
    features = t.tokenize([*SENTENCES, "a", "one two three four five six seven eight nine ten"])
    ours = t.collate(features)
    theirs = t.tokenizer.pad(features, return_tensors="pt")
    assert ours.keys() == theirs.keys() and set(ours) >= {"input_ids", "attention_mask"}
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    assert ours["input_ids"].shape[1] == max(len(f["input_ids"]) for f in features)  # the batch's longest only
    assert torch.equal(t.collate(t.tokenize(SENTENCES))["input_ids"], t.preprocess(SENTENCES)["input_ids"])


def test_unknown_tokens_agree_with_unknown_texts(tiny_bert_dir: Path) -> None:
    t = tiny(tiny_bert_dir)
    texts = ["a cat", "\u2603\u2603", "the dog \u2603", "[UNK]"]
    assert t.unknown_tokens(t.tokenize(texts)) == t.unknown_texts(texts)
    assert t.text_kinds(texts, features=t.tokenize(texts)) == t.text_kinds(texts)
    assert any(t.unknown_texts(texts)) and not all(t.unknown_texts(texts))
