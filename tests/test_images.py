"""load_image: paths, PIL images, numpy arrays and tensors -> PIL images; bad input -> DataError. crop_to_content."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.errors import DataError
from pairsim.images import MAX_PIXELS, crop_to_content, load_image, open_image, to_mode, to_uint8


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
        torch.from_numpy(rgb).permute(2, 0, 1),  # uint8 tensor (C, H, W)
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


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (torch.ones(4, 4) * 2.0, "a float32 tensor with values 2 to 2 (expected floats in [0, 1]"),  # 0..255? 0..16?
        (np.full((3, 3), -7, dtype=np.int32), "an int32 array (expected uint8 0-255, bool, uint16, or floats"),
        (np.arange(9).reshape(3, 3), "an int64 array (expected uint8 0-255"),  # np.array of Python ints
        (np.full((8, 8), 16.0), "a float64 array with values 16 to 16 (expected floats in [0, 1]: divide by the"),
    ],
)
def test_arrays_whose_scale_is_not_known_are_refused(array: object, words: str) -> None:
    """Floats outside [0, 1] and integers other than uint8 / uint16 / bool: the caller says their scale."""
    with pytest.raises(DataError, match=f"^cannot use {re.escape(words)}"):
        load_image(array)


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
        DataError, match=rf"cannot use an array of shape \({', '.join(map(str, shape))},?\) \(expected one image"
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
    assert str(info.value) == (
        f"image {bomb} has more pixels than the limit of 1000 (a possible decompression bomb; "
        "$PAIRSIM_MAX_IMAGE_PIXELS sets the limit)"
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


# -- every PIL mode converts by scaling, never clipping (issue 22) -----------------------------------------------
# The references below are computed here with numpy from the raw values, independently of pairsim.images.
@pytest.fixture
def u16() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 65536, (6, 5)).astype(np.uint16)


def _ref16(values: np.ndarray) -> np.ndarray:
    return np.floor(values.astype(np.float64) * 255 / 65535 + 0.5)  # 0..65535 -> 0..255 by proportion


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114  # ITU-R 601-2, PIL's "L"


def _close(image: Image.Image, reference: np.ndarray, tolerance: float = 1.0) -> bool:
    return np.abs(np.asarray(image).astype(np.float64) - reference).max() <= tolerance


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L"])
def test_16_bit_images_are_scaled_not_clipped(mode: str, u16: np.ndarray, tmp_path: Path) -> None:
    dtype = ">u2" if mode == "I;16B" else "<u2"
    image = Image.frombytes(mode, (5, 6), u16.astype(dtype).tobytes())
    assert _close(to_mode(image, "L"), _ref16(u16), 0.5)
    assert _close(to_mode(image, "RGB"), np.repeat(_ref16(u16)[..., None], 3, axis=2), 0.5)


def test_a_16_bit_png_file_is_read_scaled(u16: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(u16).save(path)
    assert Image.open(path).mode == "I;16"
    assert _close(load_image(path, mode="RGB"), np.repeat(_ref16(u16)[..., None], 3, axis=2), 0.5)
    dark = np.full((4, 4), 1000, dtype=np.uint16)  # a dark 16-bit image stays dark (was white: clipped to 255)
    Image.fromarray(dark).save(path)
    assert load_image(path, mode="L").getextrema() == (4, 4)


def test_16_bit_noise_is_mid_grey_noise_not_white(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 65536, (64, 64)).astype(np.uint16)
    path = tmp_path / "noise.png"
    Image.fromarray(noise).save(path)
    pixels = np.asarray(load_image(path, mode="RGB"))
    assert 100 < pixels.mean() < 155 and pixels.std() > 50


@pytest.mark.parametrize(
    "values, reference",
    [
        (np.array([[0, 100, 255]], dtype=np.int32), [[0, 100, 255]]),  # fits 8 bits: as is
        (np.array([[0, 257, 65535]], dtype=np.int32), [[0, 1, 255]]),  # fits 16 bits: / 257
        (np.array([[0, 100_000, 200_000]], dtype=np.int32), [[0, 127.5, 255]]),  # more: by its maximum
        (np.array([[-10, 0, 10]], dtype=np.int32), [[0, 127.5, 255]]),  # negative: min-max
    ],
)
def test_32_bit_integer_images(values: np.ndarray, reference: list[list[float]]) -> None:
    image = Image.fromarray(values)
    assert image.mode == "I"
    assert _close(to_mode(image, "L"), np.array(reference), 0.5)


@pytest.mark.parametrize(
    "values, reference",
    [
        ([[0.0, 0.5, 1.0]], [[0, 127.5, 255]]),  # [0, 1]: times 255
        ([[0.0, 100.0, 255.0]], [[0, 100, 255]]),  # [0, 255]: as is
        ([[-1.0, 0.0, 1.0]], [[0, 127.5, 255]]),  # otherwise: min-max
        ([[0.0, 500.0, 1000.0]], [[0, 127.5, 255]]),
    ],
)
def test_float_images(values: list[list[float]], reference: list[list[float]]) -> None:
    """A float image file (PIL mode F) is scaled by its range; a float array must already be in [0, 1]."""
    image = Image.fromarray(np.array(values, dtype=np.float32))
    assert image.mode == "F"
    assert _close(to_mode(image, "L"), np.array(reference), 0.5)
    if max(map(max, values)) <= 1 and min(map(min, values)) >= 0:
        assert _close(load_image(np.array(values), mode="L"), np.array(reference), 0.5)
    else:
        with pytest.raises(DataError, match=r"expected floats in \[0, 1\]"):
            load_image(np.array(values), mode="L")


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(DataError, match="NaN or infinite pixel values"):
        to_mode(Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32)), "L")
    with pytest.raises(DataError, match=r"^cannot use a float64 array with NaN or infinite values"):
        load_image(np.array([[0.0, np.inf]]))


def test_uint16_arrays_are_16_bit(u16: np.ndarray) -> None:
    assert _close(load_image(u16), _ref16(u16), 0.5)


@pytest.mark.parametrize("gray", [False, True])
def test_transparency_is_laid_over_white(gray: bool, rgb: np.ndarray) -> None:
    alpha = np.random.default_rng(3).integers(0, 256, rgb.shape[:2]).astype(np.float64)
    colour = rgb[..., :1].repeat(3, axis=2) if gray else rgb
    reference = colour * (alpha / 255)[..., None] + 255 * (1 - alpha / 255)[..., None]  # (H, W, 3) over white
    if gray:
        image = Image.fromarray(np.dstack([rgb[..., 0], alpha.astype(np.uint8)]), "LA")
    else:
        image = Image.fromarray(np.dstack([rgb, alpha.astype(np.uint8)]), "RGBA")
    assert _close(to_mode(image, "RGB"), reference, 1.0)
    assert _close(to_mode(image, "L"), _luma(reference), 1.5)
    clear = Image.new("RGBA" if not gray else "LA", (4, 4), (0, 0, 0, 0) if not gray else (0, 0))
    assert to_mode(clear, "RGB").getextrema() == ((255, 255),) * 3  # fully transparent black: white, not black


def test_a_transparent_stroke_png_keeps_its_stroke(tmp_path: Path) -> None:
    stroke = Image.new("RGBA", (20, 20), (0, 0, 0, 0))  # a signature: black ink on nothing
    stroke.paste((0, 0, 0, 255), (5, 9, 15, 11))
    path = tmp_path / "sig.png"
    stroke.save(path)
    pixels = np.asarray(load_image(path, mode="L"))
    assert pixels[10, 10] == 0 and pixels[0, 0] == 255  # PIL's convert("L") makes both black


def test_palette_images_with_and_without_transparency(tmp_path: Path) -> None:
    palette = [0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9)  # 0 black, 1 red, 2 blue
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette)
    colours = np.array(palette[:9], dtype=np.float64).reshape(3, 3)
    assert _close(to_mode(image, "RGB"), colours[indices], 0)  # plain palette lookup
    path = tmp_path / "p.png"
    image.save(path, transparency=0)  # index 0 transparent
    loaded = Image.open(path)
    assert loaded.mode == "P" and "transparency" in loaded.info
    reference = colours[indices]
    reference[indices == 0] = 255  # the transparent black is white
    assert _close(load_image(path, mode="RGB"), reference, 0)
    alpha = np.array([[0, 255], [255, 128]], dtype=np.uint8)
    pa = Image.merge("PA", [Image.fromarray(indices, "L"), Image.fromarray(alpha, "L")])
    pa.putpalette(palette)
    a = alpha[..., None] / 255
    assert _close(to_mode(pa, "RGB"), colours[indices] * a + 255 * (1 - a), 1.0)  # palette + alpha over white


def test_cmyk_ycbcr_and_bilevel_follow_pils_own_conversion(rgb: np.ndarray) -> None:
    cmyk = np.random.default_rng(4).integers(0, 256, (6, 5, 4)).astype(np.float64)
    image = Image.fromarray(cmyk.astype(np.uint8), "CMYK")
    reference = (255 - cmyk[..., :3]) * (255 - cmyk[..., 3:]) / 255  # C, M, Y under the black plate
    assert _close(to_mode(image, "RGB"), reference, 1.0)
    ycc = Image.fromarray(rgb).convert("YCbCr")
    assert _close(to_mode(ycc, "RGB"), rgb.astype(np.float64), 3.0)  # 8-bit round trip through YCbCr
    bits = rgb[..., 0] > 127
    assert _close(to_mode(Image.fromarray(bits), "L"), bits * 255.0, 0)
    assert _close(to_mode(Image.fromarray(rgb), "L"), _luma(rgb.astype(np.float64)), 1.0)


def test_to_uint8_keeps_uint8_and_rounds() -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert to_uint8(pixels) is pixels
    assert to_uint8(np.array([[0.7 / 255, 1.0]])).tolist() == [[1, 255]]  # [0, 1] floats round to nearest


# -- pixel counts are bounded before decoding ---------------------------------------------------------------------
def _big_png(path: Path, side: int) -> Path:
    Image.new("L", (side, side), 7).save(path, optimize=True)  # one colour: a few KB for millions of pixels
    return path


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    bomb = _big_png(tmp_path / "bomb.png", 300)
    calls: list[int] = []
    monkeypatch.setattr(Image.Image, "load", lambda self: calls.append(1))  # decoding would be seen here
    with pytest.raises(DataError) as info:
        load_image(bomb, max_pixels=300 * 300 - 1)
    assert str(info.value) == (
        f"image {bomb} is 300x300 = 90000 pixels, more than the limit of 89999 (a possible decompression bomb; "
        "$PAIRSIM_MAX_IMAGE_PIXELS sets the limit)"
    )
    assert not calls


def test_the_pixel_limit_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    image = _big_png(tmp_path / "big.png", 100)
    assert MAX_PIXELS == 40_000_000 and load_image(image).size == (100, 100)
    monkeypatch.setenv("PAIRSIM_MAX_IMAGE_PIXELS", "9999")
    with pytest.raises(DataError, match="more than the limit of 9999"):
        load_image(image)
    with pytest.raises(DataError, match="more than the limit of 9999"):
        load_image(Image.new("L", (100, 100)))  # an image handed over as PIL is bounded too
    monkeypatch.setenv("PAIRSIM_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(DataError, match="PAIRSIM_MAX_IMAGE_PIXELS='lots': expected a positive number"):
        load_image(image)


def test_a_20000_square_bomb_from_bytes_is_one_line(tmp_path: Path) -> None:
    import io
    import zlib

    side = 20000  # a one-colour 20000 x 20000 PNG: a few dozen KB, 400 megapixels
    row = b"\x00" + b"\x00" * side
    data = zlib.compress(row * side, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    assert len(png) < 500_000
    with pytest.raises(DataError) as info:
        open_image(io.BytesIO(png), name="upload.png")
    assert str(info.value).startswith("image upload.png ") and "limit" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_cielab_tiff_is_converted_through_rgb(mode: str, tmp_path: Path) -> None:
    path = tmp_path / "lab.tif"
    Image.new("RGB", (4, 4), (200, 10, 10)).convert("LAB").save(path)  # PIL has LAB -> RGB, not LAB -> L
    reference = Image.new("RGB", (4, 4), (200, 10, 10)).convert(mode).getpixel((0, 0))
    got = load_image(path, mode=mode)
    assert got.mode == mode
    assert np.abs(np.subtract(got.getpixel((0, 0)), reference)).max() <= 6  # LAB is stored in 8 bits


def test_a_mode_pil_cannot_convert_is_one_data_error(monkeypatch) -> None:
    def refuse(self, *args, **kwargs):
        raise ValueError(f"conversion from {self.mode} to {args[0] if args else '?'} not supported")

    monkeypatch.setattr(Image.Image, "convert", refuse)
    with pytest.raises(DataError, match=r"^image odd.tif is in PIL mode RGB, which cannot be converted to L \("):
        to_mode(Image.new("RGB", (2, 2)), "L", name="odd.tif")


def test_exif_orientation_is_applied_to_files_and_uploads(rgb: np.ndarray, tmp_path: Path) -> None:
    from pairsim.images import upright

    stored = Image.fromarray(np.kron(rgb, np.ones((8, 8, 1), dtype=np.uint8)))  # 48 x 40, blocks survive JPEG
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: a viewer rotates it 90 degrees clockwise
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)
    shown = Image.open(path).transpose(Image.Transpose.ROTATE_270)  # what a viewer shows
    for got in (load_image(path), open_image(path.open("rb"), name="upload")):
        assert got.size == (48, 40) == shown.size
        assert np.abs(np.asarray(got, dtype=int) - np.asarray(shown, dtype=int)).max() == 0
    plain = tmp_path / "plain.jpg"
    stored.save(plain, quality=95)
    image = Image.open(plain)
    image.load()
    assert upright(image) is image  # no orientation tag: untouched


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("L", (4, 4), value) for value in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_image(path, mode="L").getpixel((0, 0)) == 10
