"""The checks where items enter a tower: a text tower refuses images and image files, an image tower refuses
texts and blank paths, each with one line naming the item; and encoding refuses a batch size below 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
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
