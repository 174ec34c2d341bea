"""load_image: paths, PIL images, numpy arrays and tensors -> PIL images; bad input -> DataError. crop_to_content."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.errors import DataError
from pairsim.images import crop_to_content, load_image


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)


def test_every_kind_of_input_gives_the_same_pixels(rgb: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    as_float = rgb.astype(np.float64) / 255
    inputs = [
        rgb,
        str(path),
        path,
        Image.fromarray(rgb),
        as_float,  # float (H, W, C) in [0, 1]
        as_float.astype(np.float32),
        torch.from_numpy(as_float).permute(2, 0, 1).float(),  # tensor (C, H, W)
        torch.from_numpy(as_float).float(),  # tensor (H, W, C)
        rgb.astype(np.int64),  # other integer types are taken as 0..255
    ]
    for item in inputs:
        image = load_image(item)
        assert image.mode == "RGB" and image.size == (5, 6), type(item)
        assert np.array_equal(np.asarray(image), rgb), type(item)


def test_grayscale_inputs(rgb: np.ndarray) -> None:
    mask = rgb[:, :, 0] > 127
    image = load_image(mask)  # bool (H, W): True -> 255
    assert image.mode == "L" and np.array_equal(np.asarray(image), mask.astype(np.uint8) * 255)
    single = load_image(rgb[:, :, :1])  # (H, W, 1)
    assert single.mode == "L" and np.array_equal(np.asarray(single), rgb[:, :, 0])
    from_tensor = load_image(torch.from_numpy(rgb[:, :, 0]).float()[None] / 255)  # (1, H, W)
    assert np.array_equal(np.asarray(from_tensor), rgb[:, :, 0])
    assert load_image(torch.ones(4, 4) * 2.0).getextrema() == (255, 255)  # floats are clipped to [0, 1]
    assert load_image(np.full((3, 3), -7, dtype=np.int32)).getextrema() == (0, 0)  # ints clipped to 0..255


def test_mode_conversion(rgb: np.ndarray) -> None:
    gray = load_image(rgb, mode="L")
    assert gray.mode == "L"
    assert np.array_equal(np.asarray(gray), np.asarray(Image.fromarray(rgb).convert("L")))
    assert load_image(rgb[:, :, 0], mode="RGB").mode == "RGB"
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, dtype=np.uint8)])
    assert load_image(rgba).mode == "RGBA" and load_image(rgba, mode="RGB").mode == "RGB"


def test_pil_image_is_returned_as_is(rgb: np.ndarray) -> None:
    image = Image.fromarray(rgb)
    assert load_image(image) is image


def test_missing_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(DataError, match=f"^{re.escape(f'image file not found: {missing}')}$"):
        load_image(missing)
    with pytest.raises(DataError, match=f"^{re.escape(f'{tmp_path} is a directory, expected an image file')}$"):
        load_image(str(tmp_path))  # a directory is no image file
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(DataError, match=f"^{re.escape(f'cannot read image {bad}')}"):
        load_image(bad)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8) + 7).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(DataError, match="cannot read image"):
        load_image(truncated)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5), (4, 4, 2), (4, 4, 5)])
def test_unusable_array_shapes_name_the_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(
        DataError, match=rf"cannot use an array of shape \({', '.join(map(str, shape))},?\) as an image"
    ):
        load_image(np.zeros(shape, dtype=np.uint8))


def test_unusable_types_are_named() -> None:
    with pytest.raises(DataError, match="cannot use list as an image"):
        load_image([[0, 1], [1, 0]])
    with pytest.raises(DataError, match="cannot use NoneType as an image"):
        load_image(None)


@pytest.mark.parametrize("side", [40, 100])  # over PIL's limit (its warning) and over twice it (its error)
def test_decompression_bomb_is_refused_before_decoding(
    side: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # small files stand in for a 20000 x 20000 bomb
    bomb = tmp_path / "bomb.png"
    Image.new("L", (side, side)).save(bomb)
    with pytest.raises(DataError) as info:
        load_image(bomb)
    assert (
        str(info.value)
        == f"image {bomb} is too large to decode safely (over 1000 pixels, a possible decompression bomb)"
    )
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", side * side)
    assert load_image(bomb).size == (side, side)  # at the limit: read


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_path_is_named_as_blank(blank: str) -> None:
    with pytest.raises(DataError, match=r"^blank image path: expected an image file$"):
        load_image(blank)


def test_crop_to_content_keeps_the_content_centred_in_a_square_padded_with_the_background() -> None:
    canvas = Image.new("L", (105, 105), 255)
    canvas.paste(0, (2, 40, 22, 50))  # a 20 x 10 black bar touching the left edge's margin
    out = np.asarray(crop_to_content(canvas, 0.25))  # side 20 * 1.5 = 30: 5 px margins, 10 px above and below
    assert out.shape == (30, 30)
    rows, cols = np.nonzero(out == 0)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 19, 5, 24)
    assert (out == 0).sum() == 200 and set(np.unique(out)) == {0, 255}  # the part left of the canvas is white


def test_crop_to_content_leaves_a_blank_image_and_keeps_the_mode() -> None:
    blank = Image.new("RGB", (8, 6), (255, 255, 255))
    assert crop_to_content(blank, 0.1) is blank
    dot = blank.copy()
    dot.putpixel((6, 1), (200, 0, 0))
    out = crop_to_content(dot, 0.0)
    assert out.mode == "RGB" and out.size == (1, 1) and out.getpixel((0, 0)) == (200, 0, 0)
