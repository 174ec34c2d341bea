"""Robustness cases on configs, command-line arguments, input files and modality (the validation half).

Each function ``(ctx, folder) -> Trial`` is one case of issue 8; see ``robustness.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robustness_context import (
    DIGITS,
    SEC,
    SILENT,
    TEXTS,
    TINY,
    TRACE,
    VAGUE,
    Context,
    Skip,
    Trial,
    case,
    scores_of,
    write_recipe,
)


@case("vocab_size_1e11", SEC)
def _(ctx: Context, d: Path) -> Trial:
    r = write_recipe(d, "model: {tower: {name: lstm, vocab_size: 100000000000}}\nloss: {name: contrastive}\n"
                   "data: {name: digits}\n")  # fmt: skip
    return Trial(argv=["train", r, f"output_dir={d / 'run'}"], expect=["vocab_size", "100000000000"])


@case("image_size_40000", SEC)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "model.tower.image_size=[40000,40000]", f"output_dir={d / 'run'}"],
                 expect=["image_size", "40000"])  # fmt: skip


@case("image_paths_to_text_model", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:3])
    b = ctx.lines(d, "b.txt", ctx.pngs[3:6])
    return Trial(argv=["score", a, b, "--model", ctx.text_model], expect=["a.txt", "image", "text"])


@case("text_model_eval_on_images", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    r = write_recipe(d, "model: {tower: {name: lstm}}\nloss: {name: contrastive}\ndata: {name: digits}\n"
                   "eval: {pairs: 20, plots: false}\n")  # fmt: skip
    return Trial(argv=["eval", ctx.text_model, r, "--out", d / "eval"], expect=["image", "text"])


@case("text_tower_trained_on_images", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "model.tower={name: lstm, embed_dim: 8, hidden_dim: 8}",
                       f"output_dir={d / 'run'}", "--no-progress"], expect=["image", "text"])  # fmt: skip


@case("text_gallery_from_image_folders", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    people = ctx.people(d)
    return Trial(argv=["enroll", people, "--model", ctx.text_model, "--gallery", d / "g.safetensors"],
                 expect=["image", "text"])  # fmt: skip


def _score_case(extra: list[str], expect: list[str]) -> Callable[[Context, Path], Trial]:
    def make(ctx: Context, d: Path) -> Trial:
        a = ctx.lines(d, "a.txt", ctx.pngs[:3])
        return Trial(argv=["score", a, a, "--model", ctx.run / "model", *extra], expect=expect)

    return make


case("score_batch_size_-1", SILENT)(_score_case(["--batch-size", "-1"], ["--batch-size", "-1"]))


case("score_batch_size_0", SILENT)(_score_case(["--batch-size", "0"], ["--batch-size", "0"]))


case("score_top_k_-1", SILENT)(_score_case(["--top-k", "-1"], ["--top-k", "-1"]))


def _override_case(override: str, expect: list[str]) -> Callable[[Context, Path], Trial]:
    def make(ctx: Context, d: Path) -> Trial:
        return Trial(argv=["train", DIGITS, *TINY, override, f"output_dir={d / 'run'}", "--no-progress"], expect=expect)

    return make


for _override, _words in [
    ("train.log_every=0", ["train.log_every", "0"]),
    ("train.seed=-1", ["train.seed", "-1"]),
    ("sampler.per_epoch=-10", ["sampler.per_epoch", "-10"]),
    ("model.tower.out_dim=0", ["model.tower.out_dim", "0"]),
    ("model.tower.out_dim=-5", ["model.tower.out_dim", "-5"]),
    ("model.tower.width=-1.0", ["model.tower.width", "-1.0"]),
    ("loss.margin=-2.0", ["margin", "-2"]),
    ("train.lr=0", ["train.lr", "0"]),
    ("train.lr=-0.01", ["train.lr", "-0.01"]),
    ("train.lr=.nan", ["train.lr", "nan"]),
    ("data.val_fraction=1.5", ["data.val_fraction", "1.5"]),
]:
    case(_override.replace("model.tower.", "").replace("train.", "").replace("data.", ""), SILENT)(
        _override_case(_override, _words)
    )


@case("utf8_bom_input", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    a, b = d / "a.txt", d / "b.txt"
    a.write_bytes("\ufeffHow old are you?\n".encode())
    b.write_bytes(b"How old are you?\n")

    def identical(out: str, _: Any) -> str | None:
        got = scores_of(out)
        return None if got and abs(got[0] - 1.0) < 1e-5 else f"identical texts scored {got}"

    return Trial(argv=["score", a, b, "--model", ctx.text_model], success=identical)


@case("decompression_bomb", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    from PIL import Image

    bomb = d / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 Mpixels in a 48 kB file
    a = ctx.lines(d, "a.txt", [ctx.pngs[0], str(bomb)])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["bomb.png"])


@case("score_out_is_directory", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    (d / "out" / "keep").mkdir(parents=True)
    return Trial(argv=["score", a, a, "--model", ctx.run / "model", "--out", d / "out"], expect=["--out", "directory"],
                 protect=[d / "out"])  # fmt: skip


@case("non_utf8_recipe", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    r = d / "latin1.yaml"
    r.write_bytes("# caf\xe9\nmodel: {tower: {name: lstm}}\n".encode("latin-1"))
    return Trial(argv=["train", r, f"output_dir={d / 'run'}"], expect=["latin1.yaml", "utf-8"])


@case("non_utf8_people_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    person = d / "people" / "ann"
    person.mkdir(parents=True)
    (person / "says.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    return Trial(argv=["enroll", d / "people", "--model", ctx.text_model, "--gallery", d / "g.safetensors"],
                 expect=["says.txt", "utf-8"])  # fmt: skip


@case("device_cuda_without_gpu", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    if torch.cuda.is_available():
        raise Skip("this machine has a GPU")
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model", "--device", "cuda"], expect=["cuda"])


@case("device_cuda_without_gpu_in_recipe", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    if torch.cuda.is_available():
        raise Skip("this machine has a GPU")
    return Trial(argv=["train", DIGITS, *TINY, "train.device=cuda", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["train.device", "cuda"])  # fmt: skip


@case("device_unknown", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.device=gpu0", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["device", "gpu0"])  # fmt: skip


@case("hidden_dim_-4_in_saved_config", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["hidden_dim"] = -4
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["hidden_dim", "-4"])


@case("eval_out_is_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    f = d / "metrics.txt"
    f.write_text("earlier\n")
    return Trial(argv=["eval", ctx.run / "model", "--out", f], expect=["metrics.txt"], protect=[f])


@case("directory_as_input_file", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    (d / "inputs").mkdir()
    return Trial(argv=["score", d / "inputs", d / "inputs", "--model", ctx.run / "model"], expect=["directory"],
                 forbid=["not found"])  # fmt: skip


@case("blank_line_in_image_list", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", [ctx.pngs[0], "", ctx.pngs[1]])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["a.txt", "line 2"], forbid=["found: ."])


@case("empty_val_split", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["eval", ctx.run / "model", "data.val_fraction=0", "--split", "val", "--out", d / "eval"],
                 expect=["val_fraction"])  # fmt: skip


@case("empty_test_split_in_train", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "data.test_fraction=0", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["test", "data.test_fraction"])  # fmt: skip


@case("eval_pairs_0", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["eval", ctx.run / "model", "eval.pairs=0", "--out", d / "eval"], expect=["eval.pairs"])
