"""Robustness cases of issue 22's "inputs" class: one image converter, one number parser, bounded documents,
empty and unknown texts (see ``robustness.py``). Each function ``(ctx, folder) -> Trial`` is one case."""

from __future__ import annotations

import io
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from robustness_context import DIGITS, INPUTS, TEXTS, TINY, Context, Trial, case, scores_of, write_recipe

RECIPE_HEAD = "model: {tower: {name: cnn, arch: face}}\nloss: {name: contrastive}\ndata: {name: digits}\n"


def _equal_scores(out: str, _: Any) -> str | None:
    """Every line's score is the first line's: the converted image scores as its 8-bit reference does."""
    scores = scores_of(out)
    if len(scores) < 2 or max(scores) - min(scores) > 1e-4:
        return f"scores differ from the 8-bit reference's: {scores}"
    return None


def _same_as_reference(ctx: Context, d: Path, converted: Path, reference: Image.Image) -> Trial:
    """Score [converted, reference] against a digit: both lines must give the same score."""
    ref = d / "reference.png"
    reference.save(ref)
    a = ctx.lines(d, "a.txt", [str(ref), str(converted)])
    b = ctx.lines(d, "b.txt", [ctx.pngs[3], ctx.pngs[3]])
    return Trial(argv=["score", a, b, "--model", ctx.run / "model"], success=_equal_scores)


def _digit(ctx: Context) -> np.ndarray:
    return np.asarray(Image.open(ctx.pngs[0]).convert("L"), dtype=np.uint8)  # (8, 8)


# -- one image converter ------------------------------------------------------------------------------------------
@case("png_16_bit_scaled", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    pixels = _digit(ctx)
    deep = d / "deep.png"
    Image.fromarray(pixels.astype(np.uint16) * 257).save(deep)  # the same picture in 16 bits (was: all white)
    return _same_as_reference(ctx, d, deep, Image.fromarray(pixels))


@case("png_16_bit_noise", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    noise = np.random.default_rng(0).integers(0, 65536, (8, 8)).astype(np.uint16)
    deep = d / "noise16.png"
    Image.fromarray(noise).save(deep)
    scaled = np.floor(noise / 257 + 0.5).astype(np.uint8)  # the reference conversion, computed here
    return _same_as_reference(ctx, d, deep, Image.fromarray(scaled))


@case("tiff_16_bit_big_endian", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    pixels = _digit(ctx)
    deep = d / "deep.tif"
    Image.frombytes("I;16B", (8, 8), (pixels.astype(">u2") * 257).tobytes()).save(deep)
    return _same_as_reference(ctx, d, deep, Image.fromarray(pixels))


@case("tiff_float_unit_range", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    pixels = _digit(ctx)
    path = d / "float.tif"
    Image.fromarray(pixels.astype(np.float32) / 255).save(path)  # mode F, values in [0, 1]
    return _same_as_reference(ctx, d, path, Image.fromarray(pixels))


@case("rgba_transparent_background", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    pixels = _digit(ctx)
    alpha = 255 - pixels  # dark strokes opaque, white paper transparent (and black behind it)
    path = d / "cutout.png"
    Image.fromarray(np.dstack([np.zeros((8, 8, 3), np.uint8), alpha]), "RGBA").save(path)
    return _same_as_reference(ctx, d, path, Image.fromarray(pixels))  # over white: the digit itself


def _streamed_png(path: Path, width: int, height: int) -> Path:
    """A one-colour grey PNG of ``width x height``, compressed row by row (a few hundred KB for 400 MP)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    packer, row, data = zlib.compressobj(9), b"\x00" * (width + 1), io.BytesIO()
    for _ in range(height):
        data.write(packer.compress(row))
    data.write(packer.flush())
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data.getvalue()) + chunk(b"IEND", b"")
    )
    return path


@case("png_bomb_20000_square", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    bomb = _streamed_png(d / "bomb.png", 20000, 20000)
    a = ctx.lines(d, "a.txt", [ctx.pngs[0], str(bomb)])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["bomb.png", "pixels", "limit"])


@case("png_bomb_8000_square", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    big = _streamed_png(d / "big.png", 8000, 8000)  # 64 MP: over the 40 MP default
    a = ctx.lines(d, "a.txt", [str(big)])
    return Trial(argv=["encode", a, "--model", ctx.run / "model", "--out", d / "e.npy"], expect=["big.png", "limit"])


@case("png_bomb_thin_strip", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    strip = _streamed_png(d / "strip.png", 60_000_000, 1)  # 60 MP in one row: a few KB
    a = ctx.lines(d, "a.txt", [str(strip)])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["strip.png", "limit"])


# -- one number parser ----------------------------------------------------------------------------------------------
@case("override_octal_epochs", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.epochs=010", f"output_dir={d / 'run'}"],
                 expect=["010", "ambiguous", "0o10"])  # fmt: skip


@case("override_sexagesimal_max_steps", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.schedule.max_steps=1:00", f"output_dir={d / 'run'}"],
                 expect=["max_steps", "integer", "1:00"])  # fmt: skip


@case("override_yes_for_a_bool", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.validation.at_start=off", f"output_dir={d / 'run'}"],
                 expect=["validation.at_start", "true or false"])  # fmt: skip


@case("override_exponent_int", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.log_every=1e1", f"output_dir={d / 'run'}"],
                 expect=["log_every", "integer", "write 10"])  # fmt: skip


@case("recipe_octal_seed", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, RECIPE_HEAD + "train: {epochs: 1, seed: 0755}\n")
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["0755", "ambiguous", "line 4"])


@case("recipe_duplicate_train", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, RECIPE_HEAD + "train:\n  epochs: 7\n  lr: 0.01\ntrain:\n  seed: 3\n")
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["duplicate", "train", "4 and 7"])


@case("recipe_duplicate_nested_key", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, "model:\n  tower:\n    name: cnn\n    arch: face\n    name: lstm\n"
                             "loss: {name: contrastive}\ndata: {name: digits}\n")  # fmt: skip
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["duplicate", "name", "3 and 5"])


# -- bounded documents, short quotations --------------------------------------------------------------------------
def _short(limit: int) -> Any:
    return lambda message: None if len(message) <= limit else f"{len(message)} characters"


def _laughs(levels: int) -> str:
    rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(rows) + "\n"


@case("recipe_billion_laughs", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, _laughs(8) + RECIPE_HEAD + "train: {epochs: *a7}\n")  # 9**8 strings: ~540 bytes
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["expands", "values"],
                 check_message=_short(300))  # fmt: skip


@case("recipe_laughs_in_a_type_error", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, _laughs(5).replace("a0:", "x0:") + RECIPE_HEAD + "train: {epochs: *a4}\n")
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["x0|expands|integer"],
                 check_message=_short(300))  # fmt: skip


@case("override_billion_laughs", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    laughs = "{" + ", ".join(_laughs(8).strip().replace(": &", ": &").splitlines()) + "}"
    return Trial(argv=["train", DIGITS, *TINY, f"train.epochs={laughs}", f"output_dir={d / 'run'}"],
                 expect=["expands|values"], check_message=_short(300))  # fmt: skip


@case("recipe_huge_string_value", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    recipe = write_recipe(d, RECIPE_HEAD + f"train: {{epochs: '{'9' * 2_000_000}x'}}\n")
    return Trial(argv=["train", recipe, f"output_dir={d / 'run'}"], expect=["epochs", "integer"],
                 check_message=_short(300))  # fmt: skip


# -- empty and unknown texts ----------------------------------------------------------------------------------------
@case("empty_texts_strict", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ["", TEXTS[0]])
    b = ctx.lines(d, "b.txt", ["   ", TEXTS[1]])
    return Trial(argv=["score", a, b, "--model", ctx.text_model, "--strict-text"], expect=["a.txt", "empty", "line 1"])


@case("unknown_texts_strict", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ["zebra quux"])
    b = ctx.lines(d, "b.txt", ["florp blarg"])
    return Trial(argv=["score", a, b, "--model", ctx.text_model, "--strict-text"], expect=["no word", "line 1"])


@case("unknown_word_pieces_strict", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    # only [UNK] for a word-piece tokenizer (the shared tiny BERT's tokenizer knows no word at all: line 1 too)
    a = ctx.lines(d, "a.txt", [TEXTS[0], "\U0001f600 \U0001f600"])
    out = d / "e.npy"
    return Trial(argv=["encode", a, "--model", ctx.bert_model, "--out", out, "--strict-text"],
                 expect=["no word", "line 2|lines 1, 2"], protect=[out])  # fmt: skip


def _warned(kind: str) -> Any:
    def check(_: str, caught: Any) -> str | None:
        messages = [str(w.message) for w in caught]
        if len(messages) == 2 and all(kind in m for m in messages):
            return None
        return f"expected one warning per side naming {kind!r}, got {messages}"

    return check


def _score_warned(model_dir: Path, a: list[str], b: list[str]) -> Any:
    from pairsim.model import PairModel

    model = PairModel.from_pretrained(model_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.score(a, b)
    return [w for w in caught if w.category.__name__ == "TextInputWarning"]


@case("empty_texts_python_warning", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(call=lambda: _score_warned(ctx.text_model, ["", "a cat"], ["", "a cat"]),
                 success=_warned("empty"), shown="PairModel.score(['', ...], ['', ...])")  # fmt: skip


@case("unknown_texts_python_warning", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(call=lambda: _score_warned(ctx.text_model, ["zebra quux"], ["florp blarg"]),
                 success=_warned("no word"), shown="PairModel.score(['zebra quux'], ['florp blarg'])")  # fmt: skip
