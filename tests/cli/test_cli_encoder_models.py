"""Every command that loads a model takes a Hugging Face / sentence-transformers encoder folder as eval does
(pairsim.cli.model_arg): a tied transformer tower with a cosine head, and one note line saying so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TEXTS = ["a cat sits on the mat", "a kitten is sitting on a rug", "the stock market fell sharply today"]


def _note(err: str) -> str:
    notes = [line for line in err.splitlines() if line.startswith("pairsim: note:")]
    assert len(notes) == 1, err
    return notes[0]


def _scoring_note(err: str, model: Path) -> None:
    note = _note(err)
    assert note.startswith(f"pairsim: note: {model} is a Hugging Face / sentence-transformers encoder")
    assert "tied transformer tower (mean pooling, L2-normalised, max " in note and "cosine head" in note
    assert "no calibrated decision threshold" in note


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("encoder-texts") / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n")
    return path


def _embeddings(cli: Callable[..., Any], model: Path, texts_file: Path, out: Path) -> np.ndarray:
    result = cli("encode", texts_file, "--model", model, "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    _scoring_note(result.err, model)
    return np.load(out)


def test_score_and_encode_take_an_encoder_folder(
    minilm_path: Path, texts_file: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    embeddings = _embeddings(cli, minilm_path, texts_file, tmp_path / "e.npy")
    assert embeddings.shape == (3, 384)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)  # modules.json: Normalize

    first = tmp_path / "a.txt"
    first.write_text(f"{TEXTS[0]}\n{TEXTS[0]}\n")
    scored = cli("score", first, texts_file.parent / "b.txt", "--model", minilm_path, "--device", "cpu")
    assert scored.code == 2  # b.txt does not exist: the usual one-line error, before the model loads
    (texts_file.parent / "b.txt").write_text(f"{TEXTS[1]}\n{TEXTS[2]}\n")
    scored = cli("score", first, texts_file.parent / "b.txt", "--model", minilm_path, "--device", "cpu")
    assert scored.code == 0, scored.err
    _scoring_note(scored.err, minilm_path)
    rows = scored.out.splitlines()
    assert rows[0] == "score"  # no threshold: no same/different column
    scores = [float(r) for r in rows[1:]]
    expected = [float(embeddings[0] @ embeddings[1]), float(embeddings[0] @ embeddings[2])]
    assert scores == pytest.approx(expected, abs=1e-5)  # score and encode are one model
    assert scores[0] > scores[1] + 0.3  # the paraphrase scores far above the unrelated sentence


def test_enroll_and_identify_take_an_encoder_folder(minilm_path: Path, tmp_path: Path, cli: Callable[..., Any]) -> None:
    people = tmp_path / "people"
    for name, lines in (("cats", TEXTS[:1]), ("markets", TEXTS[2:])):
        (people / name).mkdir(parents=True)
        (people / name / "examples.txt").write_text("\n".join(lines) + "\n")
    gallery = tmp_path / "g.safetensors"
    enrolled = cli("enroll", people, "--model", minilm_path, "--gallery", gallery, "--device", "cpu")
    assert enrolled.code == 0, enrolled.err
    _scoring_note(enrolled.err, minilm_path)
    found = cli("identify", TEXTS[1], "--text", "--model", minilm_path, "--gallery", gallery, "--device", "cpu")
    assert found.code == 0, found.err
    _scoring_note(found.err, minilm_path)
    row = found.out.splitlines()[1].split("\t")
    assert row[0] == TEXTS[1] and row[1] == "cats" and row[3] == "true"  # no threshold: the best match is named


def test_export_of_an_encoder_folder_loads_back_as_the_same_encoder(
    minilm_path: Path, texts_file: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    out = tmp_path / "st"
    exported = cli("export", minilm_path, "--format", "sentence-transformers", "--out", out)
    assert exported.code == 0, exported.err
    _scoring_note(exported.err, minilm_path)
    assert (out / "modules.json").is_file()
    again = _embeddings(cli, out, texts_file, tmp_path / "again.npy")  # the export is an encoder folder itself
    assert np.allclose(again, _embeddings(cli, minilm_path, texts_file, tmp_path / "e.npy"), atol=1e-5)


def test_serve_takes_an_encoder_folder(
    minilm_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from fastapi.testclient import TestClient

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app))
    monkeypatch.delenv("PAIRSIM_SERVE_TOKEN", raising=False)
    served = cli("serve", minilm_path, "--device", "cpu")
    assert served.code == 0, served.err
    _scoring_note(served.err, minilm_path)
    with TestClient(seen["app"], base_url="http://127.0.0.1:8000") as client:
        answer = client.post("/score", json={"a": [TEXTS[0]], "b": [TEXTS[1]]}).json()
    assert answer["same"] is None and answer["threshold"] is None and 0.3 < answer["scores"][0] <= 1.0
