"""Robustness cases of the issue-22 follow-up probe (helper ``fc``): ONNX export assets outside the export,
explicit YAML tags, text lines split at form feeds, CIELab TIFFs, EXIF orientation, float64 weights that
overflow float32, duplicate JSON keys. See ``robustness.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from robustness_context import DIGITS, INPUTS, MODEL_DIR, TEXTS, TINY, Context, Trial, case, rehash, scores_of


def _score(ctx: Context, d: Path, model: Path, *extra: Any, **kwargs: Any) -> Trial:
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    return Trial(argv=["score", a, b, "--model", model, *extra], **kwargs)


def _equal_scores(out: str, _: Any) -> str | None:
    scores = scores_of(out)
    if len(scores) < 2 or max(scores) - min(scores) > 1e-4:
        return f"scores differ from the upright reference's: {scores}"
    return None


# -- 1. ONNX export assets must be the export's own, verified folders -------------------------------------------
@case("r2_probe_fc_onnx_assets_outside", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.export.onnx import export_onnx
    from pairsim.model import PairModel

    export = export_onnx(PairModel.from_pretrained(ctx.text_model), d / "onnx")
    elsewhere = d / "elsewhere"
    elsewhere.mkdir()
    vocab = json.loads((export / "tower_a" / "vocab.json").read_text())
    vocab["itos"] = vocab["itos"][:2] + vocab["itos"][2:][::-1]  # same size, other words: other scores
    (elsewhere / "vocab.json").write_text(json.dumps(vocab))
    manifest = json.loads((export / "pairsim_onnx.json").read_text())
    manifest["sides"]["a"]["assets"] = str(elsewhere)  # an absolute path: no sha256 covered it
    (export / "pairsim_onnx.json").write_text(json.dumps(manifest))
    return _score(ctx, d, export, "--backend", "onnx", expect=["sides.a.assets", "tower_a"])


# -- 2. explicit YAML tags ---------------------------------------------------------------------------------------
@case("r2_probe_fc_yaml_int_tag_override", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, f"output_dir={d / 'run'}", "train.epochs=!!int -0x2", "--no-progress"],
                 expect=["train.epochs", "!!int"])  # fmt: skip


# -- 3. a line holding a form feed stays one input -----------------------------------------------------------------
@case("r2_probe_fc_form_feed_in_a_line", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ["The cat\x0csat on the mat.", TEXTS[1]])
    b = ctx.lines(d, "b.txt", ["The cat\x0csat on the mat.", TEXTS[3]])

    def two_rows(out: str, _: Any) -> str | None:
        scores = scores_of(out)
        return None if len(scores) == 2 else f"{len(scores)} scores for 2 lines: {scores}"

    return Trial(argv=["score", a, b, "--model", ctx.text_model], success=two_rows)


# -- 4. a CIELab TIFF --------------------------------------------------------------------------------------------
@case("r2_probe_fc_cielab_tiff", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    lab = d / "lab.tif"
    Image.open(ctx.pngs[0]).convert("RGB").convert("LAB").save(lab)

    def scored(out: str, _: Any) -> str | None:
        scores = scores_of(out)
        return None if len(scores) == 1 and all(math.isfinite(s) for s in scores) else f"scores {scores}"

    a = ctx.lines(d, "a.txt", [str(lab)])
    b = ctx.lines(d, "b.txt", [ctx.pngs[3]])
    return Trial(argv=["score", a, b, "--model", ctx.run / "model"], success=scored, expect=["lab.tif", "LAB"])


# -- 5. EXIF orientation -----------------------------------------------------------------------------------------
@case("r2_probe_fc_exif_orientation", INPUTS)
def _(ctx: Context, d: Path) -> Trial:
    digit = Image.open(ctx.pngs[0]).convert("L")
    reference = d / "upright.png"
    digit.save(reference)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: a viewer rotates it 90 degrees clockwise
    sideways = d / "sideways.png"
    digit.transpose(Image.Transpose.ROTATE_90).save(sideways, exif=exif)
    assert not np.array_equal(np.asarray(digit), np.asarray(digit.transpose(Image.Transpose.ROTATE_90)))
    a = ctx.lines(d, "a.txt", [str(reference), str(sideways)])
    b = ctx.lines(d, "b.txt", [ctx.pngs[3], ctx.pngs[3]])
    return Trial(argv=["score", a, b, "--model", ctx.run / "model"], success=_equal_scores)


# -- 6. float64 weights that overflow float32 ---------------------------------------------------------------------
@case("r2_probe_fc_float64_overflow_weights", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    from safetensors.torch import load_file, save_file

    model = ctx.copy(ctx.text_model, d)
    state = {k: v.double() for k, v in load_file(model / "model.safetensors").items()}
    state["tower_a.lstm.weight_hh_l0"][0, 0] = 1e300  # finite in float64, infinity in the float32 model
    save_file(state, model / "model.safetensors", metadata={"format": "pt"})
    rehash(model)
    return _score(ctx, d, model, expect=["tower_a.lstm.weight_hh_l0", "too large for float32"])


# -- 7. a key twice in one JSON object -----------------------------------------------------------------------------
@case("r2_probe_fc_duplicate_json_key", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    text = (model / "config.json").read_text()
    assert '"threshold": 0.5' in text
    (model / "config.json").write_text(text.replace('"threshold": 0.5', '"threshold": 0.5, "threshold": 0.9', 1))
    return _score(ctx, d, model, expect=["config.json", "threshold", "twice"])
