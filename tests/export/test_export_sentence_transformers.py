"""A tied transformer pair model exports to a directory that sentence-transformers loads, same embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pairsim.cli import main
from pairsim.errors import ConfigError
from pairsim.export.sentence_transformers import export_sentence_transformers
from pairsim.towers.token_pooling import token_pooling


def test_minilm_round_trip_gives_the_same_embeddings(minilm_model, stsb_sentences: list[str], tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    directory = export_sentence_transformers(minilm_model, tmp_path / "st")
    st = SentenceTransformer(str(directory), device="cpu", local_files_only=True, trust_remote_code=False)
    theirs = st.encode(stsb_sentences, convert_to_tensor=True, batch_size=8)  # (N, 384)
    ours = minilm_model.encode_a(stsb_sentences, batch_size=8)  # (N, 384)
    assert theirs.shape == ours.shape == (len(stsb_sentences), 384)
    assert (theirs.cpu() - ours).abs().max().item() <= 1e-6
    assert st.similarity_fn_name == "cosine"


def test_projection_and_cls_pooling_survive_the_export(make_model, texts: list[str], tmp_path: Path) -> None:
    """The tiny BERT with out_dim=8 (a Dense module) and CLS pooling, unnormalised."""
    from sentence_transformers import SentenceTransformer

    model = make_model("transformer", head="euclidean")
    model.tower_a.config.pooling = "cls"
    model.tower_a.pool = token_pooling("cls")  # the tower builds its pooling from the config once, at build
    export_sentence_transformers(model, tmp_path / "st")
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu", local_files_only=True, trust_remote_code=False)
    theirs = st.encode(texts, convert_to_tensor=True).cpu()  # (4, 8)
    ours = model.encode_a(texts)  # (4, 8)
    assert theirs.shape == (4, 8)
    assert torch.allclose(theirs, ours, atol=1e-6, rtol=0)
    assert st.similarity_fn_name == "euclidean"


@pytest.mark.parametrize("kind", ["untied", "lstm"])
def test_other_models_are_refused_with_one_line(make_model, kind: str, tmp_path: Path) -> None:
    model = make_model("transformer", tower_b="lstm") if kind == "untied" else make_model("lstm")
    with pytest.raises(ConfigError, match="needs a tied transformer model"):
        export_sentence_transformers(model, tmp_path / "st")
    assert not (tmp_path / "st").exists()


def test_an_snorm_head_is_refused_with_one_line(make_model, tmp_path: Path) -> None:
    model = make_model("transformer", head={"name": "cosine", "cohort": 4})
    with pytest.raises(ConfigError, match="cannot carry an S-norm cohort of head 'cosine'") as err:
        export_sentence_transformers(model, tmp_path / "st")
    assert "\n" not in str(err.value) and not (tmp_path / "st").exists()


def test_cli_export_sentence_transformers(make_model, texts: list[str], tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = make_model("transformer")
    model.save_pretrained(tmp_path / "model")
    code = main(["export", str(tmp_path / "model"), "--format", "sentence-transformers", "--out", str(tmp_path / "st")])
    assert code == 0
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu", local_files_only=True, trust_remote_code=False)
    assert torch.allclose(st.encode(texts, convert_to_tensor=True).cpu(), model.encode_a(texts), atol=1e-6, rtol=0)


@pytest.mark.parametrize("head", ["cosine", "euclidean"])
def test_cli_export_carries_truncate_dim(make_model, texts: list[str], tmp_path: Path, head: str) -> None:
    """``export --truncate-dim 3`` writes sentence-transformers' own truncate_dim: the folder loads at size 3 and
    gives ``pairsim encode --truncate-dim 3``'s vectors (cosine head: once renormalised, as ST's
    ``normalize_embeddings`` does; the scores are the same either way)."""
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer

    model = make_model("transformer", head=head)  # tiny BERT, out_dim 8
    saved = model.save_pretrained(tmp_path / "model")
    code = main(["export", str(saved), "--format", "sentence-transformers", "--out", str(tmp_path / "st"),
                 "--truncate-dim", "3"])  # fmt: skip
    assert code == 0
    inputs = tmp_path / "in.txt"
    inputs.write_text("\n".join(texts) + "\n", encoding="utf-8")
    emb = tmp_path / "emb.safetensors"
    assert main(["encode", str(inputs), "--model", str(saved), "--out", str(emb), "--truncate-dim", "3"]) == 0
    ours = load_file(emb)["embeddings"]  # (4, 3)

    st = SentenceTransformer(str(tmp_path / "st"), device="cpu", local_files_only=True, trust_remote_code=False)
    assert st.truncate_dim == 3 and st.get_embedding_dimension() == 3
    plain = st.encode(texts, convert_to_tensor=True).cpu()  # (4, 3)
    assert plain.shape == ours.shape == (len(texts), 3)
    if head == "cosine":  # the prefix of the unit vector: pairsim's row up to its length
        normalised = st.encode(texts, convert_to_tensor=True, normalize_embeddings=True).cpu()  # (4, 3)
        torch.testing.assert_close(normalised, ours, atol=1e-6, rtol=0)
        torch.testing.assert_close(st.similarity(plain, plain), ours @ ours.T, atol=1e-5, rtol=0)
        assert not torch.allclose(plain.norm(dim=1), torch.ones(len(texts)))  # a cut, not a renormalised, vector
    else:
        torch.testing.assert_close(plain, ours, atol=1e-6, rtol=0)
    with st.truncate_embeddings(None):  # the export keeps every dimension: the full size is still there
        assert st.encode(texts, convert_to_tensor=True).shape == (len(texts), 8)
