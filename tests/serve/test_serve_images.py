"""Uploaded images go through pairsim.images: pixel limit before decoding (413), 16-bit scaled like a file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_upload_over_pairsims_pixel_limit_is_413_json(image_model, serve, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's own limit is larger, but pairsim's limit for every image ($PAIRSIM_MAX_IMAGE_PIXELS) holds."""
    monkeypatch.setenv("PAIRSIM_MAX_IMAGE_PIXELS", "1000")  # a 100 x 100 PNG stands in for a 20000 x 20000 bomb
    big = _png(Image.new("L", (100, 100), 7))
    with serve(image_model) as client:
        answer = client.post("/score", files=[("a", ("big.png", big)), ("b", ("big.png", big))])
        assert answer.status_code == 413
        assert "'big.png' has 100x100 pixels, more than 1000 per image" in answer.json()["error"]


def test_a_16_bit_upload_scores_as_its_scaled_8_bit_version(image_model, serve, faces: list[str]) -> None:
    face = np.asarray(Image.open(faces[0]).convert("L"), dtype=np.uint16)  # (H, W) 0..255
    deep = _png(Image.fromarray(face * 257))  # the same picture in 16 bits (I;16)
    with serve(image_model) as client:
        body = client.post(
            "/score", files=[("a", ("deep.png", deep)), ("b", (Path(faces[1]).name, Path(faces[1]).read_bytes()))]
        )
        expected = image_model.score([faces[0]], [faces[1]])  # (1,)
        assert torch.allclose(torch.tensor(body.json()["scores"]), expected, atol=1e-4)


def test_an_upload_with_exif_orientation_scores_like_the_upright_file(
    image_model, serve, faces: list[str], tmp_path: Path
) -> None:
    upright_face = Image.open(faces[0]).convert("L")  # (H, W) 92 x 112
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: a viewer rotates it 90 degrees clockwise
    buffer = io.BytesIO()
    upright_face.transpose(Image.Transpose.ROTATE_90).save(buffer, format="PNG", exif=exif)
    upright_path = tmp_path / "upright.png"
    upright_face.save(upright_path)
    other = Path(faces[1])
    with serve(image_model) as client:
        body = client.post(
            "/score", files=[("a", ("sideways.png", buffer.getvalue())), ("b", (other.name, other.read_bytes()))]
        )
        expected = image_model.score([str(upright_path)], [faces[1]])  # (1,)
        assert torch.allclose(torch.tensor(body.json()["scores"]), expected, atol=1e-4)
