"""Robustness cases of issue 22's model-directory class (``MODEL_DIR``): one loader rule for model directories
and ONNX exports (no links, every file read is listed in the sha256 map and verified, no unverified load
without asking), weights of the model's kind and finite values, no non-finite output, bounded JSON, and a
threshold within the head's score range at save and at load. See ``robustness.py``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from robustness_context import MODEL_DIR, TEXTS, Context, Trial, case, rehash

DEEP = "[" * 100_000 + "]" * 100_000  # json.loads alone: RecursionError


def _edit_config(model: Path, edit: Any) -> None:
    config = json.loads((model / "config.json").read_text())
    edit(config)
    (model / "config.json").write_text(json.dumps(config))


def _edit_weights(model: Path, edit: Any) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(model / "model.safetensors")
    edit(state)
    save_file(state, model / "model.safetensors", metadata={"format": "pt"})
    rehash(model)


def _score(ctx: Context, d: Path, model: Path, **kwargs: Any) -> Trial:
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    return Trial(argv=["score", a, b, "--model", model], **kwargs)


# -- the examples ----------------------------------------------------------------------------------------
@case("r2_unlisted_vocab_replaced_by_link", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    vocab = model / "tower_a" / "vocab.json"
    other = json.loads(vocab.read_text())
    other["itos"] = other["itos"][:2] + other["itos"][2:][::-1]  # same size, other words: other scores
    (d / "elsewhere.json").write_text(json.dumps(other))
    _edit_config(model, lambda c: c["sha256"].pop("tower_a/vocab.json"))
    vocab.unlink()
    vocab.symlink_to(d / "elsewhere.json")
    return _score(ctx, d, model, expect=["vocab.json", "symbolic link"])


@case("r2_format1_no_manifest_flipped_bits", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    for i in range(len(data) - 512, len(data) - 8, 7):
        data[i] ^= 0x40
    weights.write_bytes(bytes(data))
    _edit_config(model, lambda c: (c.pop("sha256"), c.update(format_version=1)))
    return _score(ctx, d, model, expect=["sha256", "--allow-unverified"])


@case("r2_nan_weights", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    _edit_weights(model, lambda s: s["tower_a.lstm.weight_ih_l0"].fill_(math.nan))
    return _score(ctx, d, model, expect=["tower_a.lstm.weight_ih_l0", "non-finite"])


@case("r2_int8_weights", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    _edit_weights(model, lambda s: s.update({k: (v * 100).to(__import__("torch").int8) for k, v in s.items()}))
    return _score(ctx, d, model, expect=["int8", "tower_a."])


@case("r2_encode_nan_embeddings", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    _edit_weights(model, lambda s: s["tower_a.embedding.weight"][2:].fill_(math.inf))
    out = d / "e.npy"

    def written(_: str, __: Any) -> str | None:
        return "encode wrote embeddings with exit 0"

    return Trial(argv=["encode", ctx.lines(d, "a.txt", TEXTS), "--model", model, "--out", out],
                 expect=["non-finite", "tower_a.embedding.weight"], success=written)  # fmt: skip


@case("r2_deep_config_json", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    (model / "config.json").write_text('{"format_version": 2, "model": ' + DEEP + "}")
    return _score(ctx, d, model, expect=["config.json", "nested deeper"])


@case("r2_deep_tokenizer_json", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    (model / "tower_a" / "tokenizer" / "special_tokens_map.json").write_text(DEEP)
    rehash(model)
    return _score(ctx, d, model, expect=["special_tokens_map.json", "nested deeper"])


@case("r2_deep_gallery_metadata", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    import torch
    from safetensors.torch import save_file

    gallery = d / "g.safetensors"
    save_file({"embeddings": torch.zeros(2, 8)}, gallery, metadata={"identities": DEEP})
    return Trial(argv=["identify", TEXTS[0], "--text", "--model", ctx.text_model, "--gallery", gallery],
                 expect=["g.safetensors"])  # fmt: skip


@case("r2_save_threshold_outside_range", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    model = PairModel.from_pretrained(ctx.text_model)
    model.config.threshold = 1.5  # a cosine head scores in [-1, 1]
    return Trial(call=lambda: model.save_pretrained(d / "saved"), expect=["threshold", "1.5", "[-1, 1]"],
                 shown="model.config.threshold = 1.5; model.save_pretrained(DIR)  # cosine head")  # fmt: skip


@case("r2_load_threshold_outside_range", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    _edit_config(model, lambda c: c["model"].update(threshold=-7.0))
    return _score(ctx, d, model, expect=["threshold", "-7.0", "score range"])


# -- new variants of the same class --------------------------------------------------------------------------------
@case("r2_tokenizer_folder_is_a_link", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    folder = model / "tower_a" / "tokenizer"
    shutil.move(folder, d / "tokenizer-elsewhere")
    folder.symlink_to(d / "tokenizer-elsewhere", target_is_directory=True)
    return _score(ctx, d, model, expect=["tokenizer", "symbolic link"])


@case("r2_unlisted_file_added_to_tokenizer", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    # transformers reads added_tokens.json by itself: an unlisted file must never reach it
    (model / "tower_a" / "tokenizer" / "added_tokens.json").write_text(json.dumps({"zzzq": 5}))
    return _score(ctx, d, model, expect=["added_tokens.json", "not listed"])


@case("r2_manifest_without_tower_files", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    _edit_config(model, lambda c: c.update(sha256={"model.safetensors": c["sha256"]["model.safetensors"]}))
    return _score(ctx, d, model, expect=["tokenizer", "not listed"])


@case("r2_pipe_in_model_directory", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    os.mkfifo(model / "tower_a" / "merges.txt")  # opening it for reading would block forever
    return _score(ctx, d, model, expect=["merges.txt", "pipe"])


@case("r2_onnx_deep_head_json", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.export.onnx import export_onnx
    from pairsim.model import PairModel

    export = export_onnx(PairModel.from_pretrained(ctx.text_model), d / "onnx")
    (export / "head.json").write_text(DEEP)
    rehash(export, "pairsim_onnx.json")
    return Trial(argv=["score", ctx.lines(d, "a.txt", TEXTS[:2]), ctx.lines(d, "b.txt", TEXTS[2:]), "--backend",
                       "onnx", "--model", export], expect=["head.json", "nested deeper"])  # fmt: skip


@case("r2_onnx_vocab_replaced_by_link", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.export.onnx import export_onnx
    from pairsim.model import PairModel

    export = export_onnx(PairModel.from_pretrained(ctx.text_model), d / "onnx")
    vocab = export / "tower_a" / "vocab.json"
    shutil.move(vocab, d / "vocab-elsewhere.json")
    vocab.symlink_to(d / "vocab-elsewhere.json")
    return Trial(argv=["score", ctx.lines(d, "a.txt", TEXTS[:2]), ctx.lines(d, "b.txt", TEXTS[2:]), "--backend",
                       "onnx", "--model", export], expect=["vocab.json", "symbolic link"])  # fmt: skip


@case("r2_encode_overflowing_weights", MODEL_DIR)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.run / "model", d)
    # finite weights (1e30 x each) that overflow float32 inside the network: the output check names the input
    _edit_weights(model, lambda s: s.update({k: v * 1e30 for k, v in s.items() if v.is_floating_point()}))
    out = d / "e.npy"

    def written(_: str, __: Any) -> str | None:
        return "encode wrote embeddings with exit 0"

    return Trial(argv=["encode", ctx.lines(d, "a.txt", ctx.pngs[:3]), "--model", model, "--out", out],
                 expect=["non-finite", "input 1"], success=written)  # fmt: skip
