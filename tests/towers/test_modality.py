"""The checks where items enter a tower: a text tower refuses images and image files, an image tower refuses
texts and blank paths, each with one line naming the item; and encoding refuses a batch size below 1."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim import TOWERS
from pairsim.errors import DataError
from pairsim.towers.base import TextTower
from pairsim.towers.image import ImageTower
from pairsim.towers.modality import check_modality


@pytest.mark.parametrize("name", TOWERS.names())
def test_every_tower_declares_the_modality_of_its_base(name: str) -> None:
    """Image towers (the ImageTower base: pixels, augmentation, mirror average) read images, text towers text."""
    tower = TOWERS.get(name)
    assert tower.modality == ("image" if issubclass(tower, ImageTower) else "text")
    assert issubclass(tower, ImageTower) != issubclass(tower, TextTower)


@pytest.mark.parametrize(
    ("item", "kind"),
    [(np.zeros((4, 4)), "an image"), (Image.new("L", (4, 4)), "an image"), (Path("x.txt"), "a file path"), (3, "int")],
)
def test_text_tower_refuses_what_is_not_text(item: Any, kind: str) -> None:
    with pytest.raises(DataError) as info:
        check_modality("text", ["fine", item], where="side-a inputs")
    assert str(info.value) == (
        f"side-a inputs: item 2 is {kind}, but this tower reads text (a model for image inputs is needed)"
    )


def test_text_tower_refuses_a_list_of_image_files(pngs: Callable[..., list[str]]) -> None:
    paths = pngs()
    with pytest.raises(DataError, match=r"^a\.txt: the inputs are image files \(.*img0\.png, \.\.\.\), but this"):
        check_modality("text", paths, where="a.txt", lines=True)


def test_texts_that_mention_image_names_are_texts(pngs: Callable[..., list[str]]) -> None:
    check_modality("text", ["see photo.png", "a cat"], where="x")  # not all are image names
    check_modality("text", ["photo.png", "diagram.jpg"], where="x")  # image names, but no such files: texts
    check_modality("text", [*pngs(), "a caption"], where="x")


def test_image_tower_refuses_texts_and_blank_lines(pngs: Callable[..., list[str]]) -> None:
    paths = pngs()
    check_modality(
        "image", [*paths, Path(paths[0]), np.zeros((2, 2)), "missing.png"], where="x"
    )  # load_image names a missing file
    with pytest.raises(DataError) as info:
        check_modality("image", [paths[0], "  "], where="b.txt", lines=True)
    assert str(info.value) == "b.txt: line 2 is blank; expected an image file path"
    with pytest.raises(DataError) as info:
        check_modality("image", ["a dog runs"], where="side-b inputs")
    assert str(info.value) == (
        "side-b inputs: item 1 is 'a dog runs', not an image file; this model's tower reads images "
        "(a model for text inputs is needed, or fix the path)"
    )


def test_the_model_checks_both_sides(make_model: Callable[..., Any], pngs: Callable[..., list[str]]) -> None:
    model = make_model("lstm", tower_b="cnn")
    with pytest.raises(DataError, match=r"^side-a inputs: the inputs are image files"):
        model.encode_a(pngs())
    with pytest.raises(DataError, match=r"^side-b inputs: item 1 is 'a cat', not an image file"):
        model.encode_b(["a cat"])
    assert model.encode_b(pngs()).shape == (3, 8)


def test_training_inputs_of_the_wrong_modality(make_model: Callable[..., Any], pngs: Callable[..., list[str]]) -> None:
    model = make_model("lstm")
    with pytest.raises(DataError) as info:
        model.adapt([np.zeros((8, 8))] * 3)  # digits (arrays) for a text tower: no vocabulary to fit
    assert str(info.value) == (
        "side-a training inputs: item 1 is an image, but this tower reads text (a model for image inputs is needed)"
    )


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_encode_refuses_a_batch_size_that_would_leave_rows_unwritten(
    make_model: Callable[..., Any], batch_size: Any
) -> None:
    from pairsim.errors import ConfigError

    model = make_model("lstm")
    with pytest.raises(ConfigError, match=f"^batch_size: expected a positive integer, got {batch_size}$"):
        model.encode_a(["a cat", "a dog"], batch_size=batch_size)


# -- the input contract of PairModel.score / encode (one ValueError naming argument, item, what it is, what fits) --

DIGIT = np.arange(64, dtype=np.float64).reshape(8, 8) % 17  # values 0-16, as sklearn's load_digits().images


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            DIGIT,
            "items_b: item 2 is a float64 array with values 0 to 16 (expected floats in [0, 1]: divide by the "
            "largest possible value, e.g. images / 16 for load_digits, or use uint8 0-255); an image tower reads "
            "an image file path, a PIL image",
        ),
        (-DIGIT / 16, "items_b: item 2 is a float64 array with values -1 to 0 (expected floats in [0, 1]"),
        (
            np.zeros((2, 8, 8, 1)),
            "items_b: item 2 is an array of shape (2, 8, 8, 1) (expected one image: (H, W) or "
            "(H, W, C) with C 1, 3 or 4)",
        ),
        (np.zeros((8, 8, 2), dtype=np.uint8), "items_b: item 2 is an array of shape (8, 8, 2)"),
        (torch.zeros(2, 8, 8, 8), "items_b: item 2 is a tensor of shape (2, 8, 8, 8)"),
        (DIGIT.astype(np.int64), "items_b: item 2 is an int64 array (expected uint8 0-255, bool, uint16, or floats"),
        (np.full((8, 8), np.nan), "items_b: item 2 is a float64 array with NaN or infinite values"),
        (None, "items_b: item 2 is None, not an image; this model's tower reads an image file path, a PIL image"),
        (3.5, "items_b: item 2 is a float, not an image"),
        ("a cat on a mat", "items_b: item 2 is 'a cat on a mat', not an image file; this model's tower reads images"),
    ],
)
def test_image_model_refuses_what_it_cannot_read(make_model: Callable[..., Any], bad: Any, message: str) -> None:
    model = make_model("mlp")
    good = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(ValueError) as info:
        model.score([good, good], [good, bad])
    assert isinstance(info.value, DataError) and str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("items_a", "message"),
    [
        ("a cat", "items_a: expected a list of inputs (one per item), got a string; wrap one input in a list"),
        (None, "items_a: expected a list of inputs (one per item), got None"),
        (np.zeros((8, 8)), "items_a: expected a list of images, got one ndarray of shape (8, 8)"),
        (Image.new("L", (8, 8)), "items_a: expected a list of inputs (one per item), got a Image"),
        ((x for x in ["a"]), "items_a: expected a list of inputs, got a generator"),
    ],
)
def test_one_input_where_a_list_belongs_is_refused(make_model: Callable[..., Any], items_a: Any, message: str) -> None:
    model = make_model("mlp")
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        model.score(items_a, [np.zeros((8, 8), dtype=np.uint8)])


def test_text_model_refuses_images_and_none(make_model: Callable[..., Any]) -> None:
    model = make_model("lstm")
    with pytest.raises(ValueError, match=r"^items_a: item 2 is an image, but this tower reads text"):
        model.score(["a cat", DIGIT / 16], ["a cat", "a dog"])
    with pytest.raises(ValueError, match=r"^items_b: item 1 is None, but this tower reads text"):
        model.score(["a cat"], [None])
    with pytest.raises(ValueError, match=r"^side-a inputs: item 1 is an image"):
        model.encode_a([Image.new("L", (4, 4))])


def test_every_accepted_form_of_one_image_encodes_alike(make_model: Callable[..., Any], tmp_path: Path) -> None:
    """uint8, floats in [0, 1], a tensor (H, W) and (C, H, W), a PIL image and a PNG file of the same pixels."""
    model = make_model("mlp")
    pixels = (np.arange(144).reshape(12, 12) * 7 % 256).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    forms = [
        pixels,
        pixels / 255.0,
        (pixels / 255.0).astype(np.float32),
        torch.from_numpy(pixels),
        torch.from_numpy(pixels / 255.0).unsqueeze(0),
        Image.fromarray(pixels),
        str(tmp_path / "x.png"),
    ]
    embeddings = model.encode_a(forms)  # (7, D)
    torch.testing.assert_close(embeddings, embeddings[:1].expand_as(embeddings), atol=0, rtol=0)


def test_digits_scaled_to_unit_range_score_as_their_png_files(make_model: Callable[..., Any], tmp_path: Path) -> None:
    """The issue's case: sklearn digits (0-16 floats) divided by 16 are read as the same pixels as PNGs of them."""
    model = make_model("mlp")
    digits = np.stack([DIGIT, DIGIT[::-1]])  # (2, 8, 8) in 0-16
    paths = []
    for i, digit in enumerate(digits):
        Image.fromarray(np.round(digit / 16 * 255).astype(np.uint8)).save(tmp_path / f"d{i}.png")
        paths.append(str(tmp_path / f"d{i}.png"))
    with pytest.raises(ValueError, match=r"values 0 to 16 \(expected floats in \[0, 1\]"):
        model.score(digits[:1], digits[1:])
    torch.testing.assert_close(model.score(digits[:1] / 16, digits[1:] / 16), model.score(paths[:1], paths[1:]))
