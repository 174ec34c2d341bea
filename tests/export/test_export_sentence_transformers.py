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
