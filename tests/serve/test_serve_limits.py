"""Requests are bounded (items, bytes, pixels, JSON depth) and every client mistake is a 4xx JSON, never a 500."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pairsim.errors import DataError
from pairsim.serve.inputs import Limits


def test_a_decompression_bomb_and_huge_images_get_413_before_decoding(
    image_model, serve, write: dict[str, str], png, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = png(20000, 20000)  # about 48 KB, 400 million pixels
    assert len(bomb) < 60_000
    big = png(8000, 8000)  # a few KB each, 64 million pixels
    loads: list[tuple[int, int]] = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: (loads.append(self.size), real_load(self))[1])
    gallery = tmp_path / "g.safetensors"
    with serve(image_model, gallery=gallery) as client:
        for response in (
            client.post("/score", files=[("a", ("bomb.png", bomb)), ("b", ("b.png", bomb))]),
            client.post("/encode", files=[("items", (f"big{i}.png", big)) for i in range(4)]),
            client.post("/identify", files={"items": ("bomb.png", bomb)}),
            client.post("/enroll", data={"identity": "x"}, files={"items": ("bomb.png", bomb)}, headers=write),
        ):
            assert response.status_code == 413, response.text
            assert "pixels" in response.json()["error"]
        assert not [size for size in loads if size[0] * size[1] > Limits().max_pixels]  # never decoded
        assert not gallery.exists()
        ok = client.post("/encode", files={"items": ("small.png", png(64, 48))})
        assert ok.status_code == 200 and len(ok.json()["embeddings"]) == 1


def test_the_pixels_of_a_request_are_bounded_together(image_model, serve, png) -> None:
    limits = Limits(max_pixels=1000, max_request_pixels=1500)
    with serve(image_model, limits=limits) as client:
        one = client.post("/encode", files=[("items", ("a.png", png(30, 30)))])
        two = client.post("/encode", files=[("items", ("a.png", png(30, 30))), ("items", ("b.png", png(30, 30)))])
        wide = client.post("/encode", files=[("items", ("w.png", png(40, 30)))])
    assert one.status_code == 200
    assert two.status_code == 413 and "more than 1500 pixels together" in two.json()["error"]
    assert wide.status_code == 413 and "40x30 pixels, more than 1000 per image" in wide.json()["error"]


def test_broken_and_foreign_files_get_415_or_413_never_500(image_model, serve, png, faces: list[str]) -> None:
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buf, format="PNG")
    noise = buf.getvalue()
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"  # decoded by Ghostscript: refused
    uploads = {
        "truncated.png": (noise[: len(noise) // 2], 415),
        "bad-crc.png": (png(16, 16)[:-5] + b"XXXXX", 200),  # IEND's CRC is not checked by PIL: still an image
        "figure.eps": (eps, 415),
        "garbage.gif": (b"GIF89a" + b"\xff" * 40, 415),
        "huge.pgm": (b"P5\n100000 100000\n255\n" + b"\0" * 100, 413),  # header says 10^10 pixels
        "zero.pgm": (b"P5\n0 0\n255\n", 415),
        "text.png": (b"just some text", 415),
    }
    with serve(image_model) as client:
        for name, (data, status) in uploads.items():
            r = client.post("/encode", files={"items": (name, data)})
            assert r.status_code == status, (name, r.text)
            if status != 200:
                assert name in r.json()["error"]
        good = client.post("/encode", files={"items": ("face.pgm", Path(faces[0]).read_bytes())})
        assert good.status_code == 200


def test_items_and_bytes_per_request_are_bounded(text_model, image_model, serve, png) -> None:
    with serve(text_model, limits=Limits(max_body_bytes=4000)) as text:
        assert text.post("/encode", json={"items": ["x"] * 64}).status_code == 200
        r = text.post("/encode", json={"items": ["x"] * 65})
        assert r.status_code == 413 and "65 inputs, at most 64" in r.json()["error"]
        r = text.post("/score", json={"a": "x" * 5000, "b": "y"})
        assert r.status_code == 413 and "larger than 4000 bytes" in r.json()["error"]
        chunks = (b'{"a": "' + b"x" * 1000, b"x" * 1000, b"x" * 1000, b"x" * 1000, b"x" * 1000 + b'", "b": "y"}')
        r = text.post("/score", content=iter(chunks), headers={"content-type": "application/json"})  # no length
        assert r.status_code == 413 and "larger than 4000 bytes" in r.json()["error"]
        r = text.post("/score", content=b"{}", headers={"content-type": "application/json", "content-length": "x"})
        assert r.status_code == 400
    with serve(image_model) as image:
        r = image.post("/encode", files=[("items", (f"{i}.png", png(8, 8))) for i in range(65)])
        assert r.status_code == 413 and "at most 64" in r.json()["error"]
        r = image.post("/encode", files=[("items", (f"{i}.png", png(8, 8))) for i in range(200)])
        assert r.status_code == 413 and r.json()["error"] == (
            "form has too many files: at most 136 files per request (64 inputs per field, --max-items, and a few "
            "other fields)"
        )
    with serve(text_model) as text:  # probe finding 8: a URL-encoded form was called "malformed multipart"
        r = text.post("/encode", data={f"f{i}": "x" for i in range(200)})
        assert r.status_code == 413 and r.json()["error"].startswith("form has too many fields: at most 136 fields")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' + b"[" * 100_000 + b'"x"' + b"]" * 100_000 + b', "b": "y"}',
        b'{"a": "x", "b": ' + b'{"k": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
        b"[" * 100_000,  # never closed
        b'{"a": ' + b"[" * 17 + b'"x"' + b"]" * 17 + b', "b": "y"}',
    ],
    ids=["array", "in-a-field", "objects", "unclosed", "depth-18"],
)
def test_deeply_nested_json_gets_400_not_a_recursion_error(text_model, serve, body: bytes) -> None:
    with serve(text_model) as client:
        r = client.post("/score", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "nested deeper than 16 levels" in r.json()["error"], r.text[:200]
        ok = client.post("/score", json={"a": "[" * 10_000, "b": "{{{ [[["})  # brackets inside texts are text
        assert ok.status_code == 200


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DataError("image x is not usable"), 422),
        (ValueError("could not convert"), 422),
        (Image.DecompressionBombError("too many pixels"), 422),
        (RuntimeError("secret /srv/internal/path"), 500),
    ],
)
def test_encoding_failures_are_json_and_only_client_mistakes_are_4xx(
    text_model, serve, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    def fail(items: list[str]) -> None:
        raise error

    monkeypatch.setattr(text_model, "encode_a", fail)
    with serve(text_model, raise_server_exceptions=False) as client:
        r = client.post("/encode", json={"items": ["x"]})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    if status == 500:
        assert r.json() == {"error": "internal error (RuntimeError); the server log has the details"}
        assert "Traceback" not in r.text and "secret" not in r.text
    else:
        assert str(error) in r.json()["error"]


def test_images_of_other_modes_are_accepted(image_model, serve) -> None:
    """16-bit, palette, CMYK and alpha uploads decode (their conversion is the image loader's)."""

    def encoded(image: Image.Image, fmt: str) -> bytes:
        buf = io.BytesIO()
        image.save(buf, format=fmt)
        return buf.getvalue()

    uploads = [encoded(Image.new("I;16", (20, 20), 30000), "PNG"), encoded(Image.new("P", (20, 20)), "GIF"),
               encoded(Image.new("CMYK", (20, 20)), "JPEG"), encoded(Image.new("LA", (20, 20)), "PNG")]  # fmt: skip
    with serve(image_model) as client:
        r = client.post("/encode", files=[("items", (f"{i}", data)) for i, data in enumerate(uploads)])
    assert r.status_code == 200 and len(r.json()["embeddings"]) == 4


def test_a_json_body_with_a_key_twice_is_400_never_the_last_one_silently(text_model, serve) -> None:
    with serve(text_model) as client:
        answer = client.post(
            "/score", content=b'{"a": "one", "b": "two", "a": "three"}', headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400 and "'a'" in answer.json()["error"]
