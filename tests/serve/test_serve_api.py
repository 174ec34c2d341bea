"""The service's endpoints through an HTTP client: scores equal the model's, bad requests get 4xx JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from pairsim.serve.app import create_app

TEXTS_A = ["How old are you?", "The cat sat on the mat.", "a dog runs in the park"]
TEXTS_B = ["what is your age", "a dog runs in the park", "a dog runs in the park"]


def test_score_and_encode_texts_equal_the_model(text_model, serve) -> None:
    with serve(text_model) as client:
        body = client.post("/score", json={"a": TEXTS_A, "b": TEXTS_B}).json()
        expected = text_model.score(TEXTS_A, TEXTS_B)  # (3,)
        assert torch.allclose(torch.tensor(body["scores"]), expected, atol=1e-5)
        assert body["same"] == text_model.is_similar(expected).tolist() and body["same"][2] is True
        assert body["threshold"] == 0.5 and body["higher_is_similar"] is True
        single = client.post("/score", json={"a": TEXTS_A[0], "b": TEXTS_B[0]}).json()  # one pair, no lists
        assert single["scores"] == pytest.approx(body["scores"][:1], abs=1e-6)
        emb = client.post("/encode", json={"items": TEXTS_A}).json()
        assert torch.allclose(torch.tensor(emb["embeddings"]), text_model.encode_a(TEXTS_A), atol=1e-5)
        info = client.get("/info").json()
        assert info["side_a"] == "text" and info["gallery"] is None and info["head"] == "cosine"
        spec = client.get("/openapi.json").json()
        body = spec["paths"]["/score"]["post"]["requestBody"]["content"]
        assert set(body["application/json"]["schema"]["properties"]) == {"a", "b"}


def test_score_uploaded_images_equal_the_model(image_model, serve, faces: list[str]) -> None:
    with serve(image_model) as client:
        files = [("a", (Path(faces[0]).name, Path(faces[0]).read_bytes())), ("a", ("x.pgm", Path(faces[1]).read_bytes())),
                 ("b", ("y.pgm", Path(faces[1]).read_bytes())), ("b", ("z.pgm", Path(faces[4]).read_bytes()))]  # fmt: skip
        body = client.post("/score", files=files).json()
        expected = image_model.score([faces[0], faces[1]], [faces[1], faces[4]])  # (2,)
        assert torch.allclose(torch.tensor(body["scores"]), expected, atol=1e-5)
        assert body["same"] == image_model.is_similar(expected).tolist() and body["higher_is_similar"] is False


def test_bad_requests_get_4xx_json_naming_the_problem_and_the_server_keeps_serving(
    text_model, image_model, serve, faces: list[str]
) -> None:
    png_header_only = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
    with (
        serve(text_model) as text,
        serve(image_model, max_upload_bytes=5000) as image,
    ):
        cases = [
            (text.post("/score", content=b"", headers={"content-type": "application/json"}), 400, "empty body"),
            (text.post("/score", content=b"{not json", headers={"content-type": "application/json"}), 400, "not valid JSON"),
            (text.post("/score"), 400, "empty body"),
            (text.post("/score", content=b"a=b", headers={"content-type": "text/plain"}), 415, "text/plain"),
            (text.post("/score", json={"a": ["x"]}), 422, "field 'b' is missing"),
            (text.post("/score", json={"a": ["x", "y"], "b": ["z"]}), 422, "as many inputs"),
            (text.post("/score", json={"a": [1], "b": ["z"]}), 422, "takes text, got int"),
            (text.post("/score", files={"a": ("f.pgm", Path(faces[0]).read_bytes())}, data={"b": "x"}), 422, "takes text, got an image file"),
            (text.post("/encode?side=c", json={"items": ["x"]}), 422, "expected a or b"),
            (text.post("/identify", json={"items": ["x"]}), 404, "no gallery"),
            (image.post("/score", json={"a": "face.png", "b": "face2.png"}), 422, "takes images (upload files), got text"),
            (image.post("/score", files={"a": ("bad.png", png_header_only), "b": ("b.png", png_header_only)}), 415,
             "'bad.png' is not a readable image"),
            (image.post("/score", files={"a": ("big.pgm", Path(faces[0]).read_bytes()), "b": ("b.pgm", b"P5")}), 413,
             "larger than 5000 bytes"),
            (image.post("/score", files={"a": ("empty.pgm", b""), "b": ("b.pgm", b"")}), 400, "is empty"),
            (image.post("/score", json={"a": "x" * 6000, "b": "y"}), 413, "larger than 5000 bytes"),
        ]  # fmt: skip
        for response, status, message in cases:
            assert response.status_code == status, (message, response.text)
            assert message in response.json()["error"]
        assert text.post("/score", json={"a": "x", "b": "x"}).json()["same"] == [True]  # still serving


def test_enroll_identify_remove(text_model, serve, write, tmp_path: Path) -> None:
    text_model.config.threshold = 0.999  # only (near) repeats of an enrolled example are known
    gallery = tmp_path / "people.safetensors"
    with serve(text_model, gallery=gallery) as client:
        assert client.post("/identify", json={"items": ["x"]}).status_code == 409  # empty gallery
        r = client.post(
            "/enroll", json={"identity": "ann", "items": ["how old are you", "what is your age"]}, headers=write
        )
        assert r.json() == {"identity": "ann", "examples": 2, "identities": 1, "rows": 2}
        r = client.post(
            "/enroll", data={"identity": "bob", "items": ["the cat sat on the mat"]}, headers=write
        )  # a form works too
        assert r.status_code == 200 and r.json()["identities"] == 2
        assert gallery.is_file()
        matches = client.post(
            "/identify", json={"items": ["what is your age", "the cat sat on the mat", "a dog runs"]}
        ).json()["matches"]
        assert [m["identity"] for m in matches[:2]] == ["ann", "bob"] and all(m["known"] for m in matches[:2])
        assert (
            matches[2]["identity"] == "unknown"
            and matches[2]["known"] is False
            and matches[2]["nearest"] in ("ann", "bob")
        )
        assert client.delete("/identities/ann", headers=write).json() == {"identity": "ann", "removed_rows": 2}
        assert client.delete("/identities/ann", headers=write).status_code == 404
        assert client.post("/enroll", json={"identity": " ", "items": ["x"]}, headers=write).status_code == 422
    from pairsim.gallery import load_gallery

    saved = load_gallery(gallery, text_model)  # what a restarted server (or pairsim identify) reads: same model
    names, rows = saved.names, saved.embeddings
    assert names == ["bob"] and rows.shape == (1, text_model.tower_a.out_dim)
    assert torch.allclose(rows, text_model.encode_b(["the cat sat on the mat"]), atol=1e-6)


def test_serving_an_onnx_export_gives_the_same_scores(text_model, serve, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from pairsim.export.onnx import export_onnx
    from pairsim.export.onnx_runtime import OnnxPairModel

    export_onnx(text_model, tmp_path / "onnx")
    with serve(OnnxPairModel.load(tmp_path / "onnx")) as client:
        body = client.post("/score", json={"a": TEXTS_A, "b": TEXTS_B}).json()
    expected = text_model.score(TEXTS_A, TEXTS_B)  # (3,)
    assert torch.allclose(torch.tensor(body["scores"]), expected, atol=1e-4)
    assert body["same"] == text_model.is_similar(expected).tolist()


def test_galleries_are_checked_against_the_serving_model(make_model, text_model, serve, write, tmp_path: Path) -> None:
    """A gallery enrolled with one model serves its ONNX export (the export records the model's fingerprint),
    and is refused by a different model of the same size."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from pairsim.errors import ModelFileError
    from pairsim.export.onnx import export_onnx
    from pairsim.export.onnx_runtime import OnnxPairModel

    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery) as client:
        assert (
            client.post("/enroll", json={"identity": "ann", "items": ["how old are you"]}, headers=write).status_code
            == 200
        )
    export_onnx(text_model, tmp_path / "onnx")
    with serve(OnnxPairModel.load(tmp_path / "onnx"), gallery=gallery) as client:
        match = client.post("/identify", json={"items": ["how old are you"]}).json()["matches"][0]
    assert match["identity"] == "ann"
    other = make_model("lstm", head="cosine", threshold=0.5)
    torch.nn.init.normal_(next(other.tower_a.parameters()))  # same shapes, other weights
    with pytest.raises(ModelFileError, match="enrolled with another model"):
        create_app(other, gallery=gallery)


def test_images_enrolled_by_upload_are_identified(image_model, serve, write, faces: list[str], tmp_path: Path) -> None:
    def upload(*paths: str) -> list[tuple[str, tuple[str, bytes]]]:
        return [("items", (Path(p).name, Path(p).read_bytes())) for p in paths]

    with serve(image_model, gallery=tmp_path / "faces.safetensors") as client:
        for person, shots in (("s1", faces[0:2]), ("s2", faces[2:4])):
            r = client.post("/enroll", data={"identity": person}, files=upload(*shots), headers=write)
            assert r.status_code == 200 and r.json()["examples"] == 2
        matches = client.post("/identify", files=upload(faces[1], faces[2])).json()["matches"]
    assert [m["identity"] for m in matches] == ["s1", "s2"]  # an enrolled image is at distance 0 from itself
    assert all(m["score"] == pytest.approx(0.0, abs=1e-3) for m in matches)


def test_cli_serve_builds_the_app_from_its_arguments(
    text_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token comes from $PAIRSIM_SERVE_TOKEN (or --token-file); without one the server is read-only."""
    import uvicorn

    from pairsim.cli import main

    text_model.save_pretrained(tmp_path / "model")
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    monkeypatch.delenv("PAIRSIM_SERVE_TOKEN", raising=False)
    code = main(["serve", str(tmp_path / "model"), "--gallery", str(tmp_path / "g.safetensors"), "--port", "8123",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0 and seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert "read-only" in capsys.readouterr().err
    with TestClient(seen["app"], base_url="http://localhost:8123") as client:
        assert client.get("/info").json()["gallery"] == {"identities": 0, "rows": 0}
        assert client.get("/info").json()["writes"] == "disabled"
        assert client.post("/score", json={"a": "x", "b": "x"}).json()["same"] == [True]
        refused = client.post("/enroll", json={"identity": "ann", "items": ["x"]})
        assert refused.status_code == 403 and "PAIRSIM_SERVE_TOKEN" in refused.json()["error"]

    monkeypatch.setenv("PAIRSIM_SERVE_TOKEN", "from-the-environment-0123")
    assert (
        main(["serve", str(tmp_path / "model"), "--gallery", str(tmp_path / "g.safetensors"), "--device", "cpu"]) == 0
    )
    assert "token from $PAIRSIM_SERVE_TOKEN" in capsys.readouterr().err
    with TestClient(seen["app"], base_url="http://127.0.0.1:8000") as client:
        ok = client.post("/enroll", json={"identity": "ann", "items": ["x"]},
                         headers={"Authorization": "Bearer from-the-environment-0123"})  # fmt: skip
        assert ok.status_code == 200 and ok.json()["identities"] == 1

    (tmp_path / "token").write_text("from-a-file-0123456789\n")
    assert main(["serve", str(tmp_path / "model"), "--token-file", str(tmp_path / "token"), "--device", "cpu",
                 "--host", "0.0.0.0", "--allowed-host", "pairsim.lan"]) == 0  # fmt: skip
    assert seen["app"].state.policy.token == "from-a-file-0123456789"
    assert seen["app"].state.policy.host_allowed("pairsim.lan:8000")
    assert not seen["app"].state.policy.host_allowed("0.0.0.0:8000")  # a wildcard bind names no host

    monkeypatch.delenv("PAIRSIM_SERVE_TOKEN")
    assert main(["serve", str(tmp_path / "model"), "--open-writes", "--device", "cpu"]) == 0
    assert "warning: --open-writes" in capsys.readouterr().err
    assert seen["app"].state.policy.writes == "open"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--token", "short"], "at least 16"),
        (["--token-file", "missing.txt"], "missing.txt: no such file"),
        (["--max-items", "0"], "--max-items: expected a positive number"),
        (["--allowed-host", "a b"], "allowed host 'a b'"),
    ],
)
def test_cli_serve_refuses_bad_settings_in_one_line(
    text_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str], words: str,
) -> None:  # fmt: skip
    import uvicorn

    from pairsim.cli import main

    text_model.save_pretrained(tmp_path / "model")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: pytest.fail("the server started"))
    monkeypatch.chdir(tmp_path)
    assert main(["serve", str(tmp_path / "model"), "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("pairsim: error:") and words in err, err


def test_a_non_finite_score_is_refused_naming_the_pair_never_sent(text_model, serve, monkeypatch) -> None:
    """Embeddings pass the model's own check; a head that overflows on one pair still never answers inf."""
    real = text_model.head.forward
    monkeypatch.setattr(text_model.head, "forward", lambda a, b: real(a, b).index_fill(0, torch.tensor([1]), torch.inf))
    with serve(text_model) as client:
        answer = client.post("/score", json={"a": ["one", "two"], "b": ["uno", "dos"]})
    assert answer.status_code == 422
    assert "pair 2: the model gave a non-finite score (inf)" in answer.json()["error"]


@pytest.mark.parametrize("name", ["ann", "unknown", " ann", "a\tb", "x" * 9000, "ann\u200b", ""])
def test_enroll_checks_the_name_policy_before_encoding_anything(
    text_model, serve, write, tmp_path: Path, monkeypatch, name: str
) -> None:
    encoded: list[int] = []
    real = text_model.encode_b
    monkeypatch.setattr(text_model, "encode_b", lambda items, **kw: encoded.append(len(items)) or real(items, **kw))
    gallery = tmp_path / "people.safetensors"
    with serve(text_model, gallery=gallery) as client:
        answer = client.post("/enroll", json={"identity": name, "items": ["how old are you"]}, headers=write)
    if name == "ann":  # the control: a good name is encoded and enrolled
        assert answer.status_code == 200 and encoded == [1] and gallery.is_file()
        return
    assert answer.status_code == 422 and "identity" in answer.json()["error"]
    assert encoded == [] and not gallery.exists()


def test_every_enrolled_name_can_be_revoked_even_with_a_slash(
    text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    """Probe finding 7: ``identity=a/b`` enrolled, but ``DELETE /identities/a%2Fb`` answered 404 Not Found."""
    with serve(text_model, gallery=tmp_path / "g.safetensors") as client:
        for name in ("a/b", "c"):
            assert client.post("/enroll", data={"identity": name, "items": ["x"]}, headers=write).status_code == 200
        for path in ("/identities/a%2Fb", "/identities/c"):
            r = client.delete(path, headers=write)
            assert r.status_code == 200 and r.json()["removed_rows"] == 1, (path, r.text)
        r = client.delete("/identities/a/b", headers=write)
        assert r.status_code == 404 and r.json()["error"] == "identity 'a/b' is not enrolled"
        assert client.get("/info").json()["gallery"] == {"identities": 0, "rows": 0}
