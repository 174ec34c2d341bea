"""Robustness cases on model directories, checkpoints, run folders and galleries (the loading / saving half).

Each function ``(ctx, folder) -> Trial`` is one case of issue 8; see ``robustness.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robustness_context import (
    DIGITS,
    LOST,
    SEC,
    SILENT,
    TEXTS,
    TINY,
    TRACE,
    VAGUE,
    Context,
    Trial,
    case,
    scores_of,
)


@case("planted_checkpoint", SEC)
def _(ctx: Context, d: Path) -> Trial:
    import pickle

    run = ctx.copy_run(d)
    marker = d / "PWNED"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints" / "last.pt").write_bytes(pickle.dumps({"model": Evil()}))
    return Trial(
        argv=["train", DIGITS, *TINY, f"output_dir={run}", "--resume", "--no-progress"],
        expect=["checkpoint"], marker=marker, protect=[run / "model", run / "metrics.json"],
    )  # fmt: skip


@case("auto_map_tokenizer", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    marker = d / "PWNED"
    tok = model / "tower_a" / "tokenizer"
    (tok / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = json.loads((tok / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"]}
    (tok / "tokenizer_config.json").write_text(json.dumps(config))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["auto_map|custom code|remote code"], marker=marker)


@case("hub_id_in_saved_config", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["backbone_config"] = None
    saved["model"]["tower"]["model"] = "sentence-transformers/all-MiniLM-L6-v2"
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["config.json|backbone_config"])


@case("parent_path_in_saved_config", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["backbone_config"] = None
    saved["model"]["tower"]["model"] = str(ctx.root / "tiny-bert")  # a folder outside the model directory
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["outside|model directory|tiny-bert"])


def _finished(run: Path) -> list[Path]:
    return [run / "model", run / "metrics.json", run / "recipe.yaml"]


@case("train_epochs0_into_finished_run", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "train.epochs=0", f"output_dir={run}", "--no-progress"],
                 expect=[str(run)], protect=_finished(run))  # fmt: skip


@case("train_nan_into_finished_run", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "train.lr=1e30", f"output_dir={run}", "--no-progress"],
                 expect=[str(run)], protect=_finished(run))  # fmt: skip


@case("nan_stop_names_what_is_kept", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = d / "run"

    def kept(out: str, _: Any) -> str | None:
        return "a NaN loss run ended with exit 0"

    def paths_exist(message: str) -> str | None:
        named = [w.strip(",.;:()'\"") for w in message.split() if "/" in w]
        gone = [p for p in named if not Path(p).exists()]
        return f"names {gone[0]}, which does not exist" if gone else None

    return Trial(argv=["train", DIGITS, *TINY, "train.lr=1e30", "train.checkpoint.every=0", f"output_dir={run}",
                       "--no-progress"], expect=["nan"], success=kept, check_message=paths_exist)  # fmt: skip


@case("save_pretrained_over_file", LOST)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    target = d / "notes.txt"
    target.write_text("my notes\n")
    model = PairModel.from_pretrained(ctx.text_model)
    return Trial(call=lambda: model.save_pretrained(target), expect=["notes.txt"], protect=[target],
                 shown="model.save_pretrained('$TMP/notes.txt')  # an existing file")  # fmt: skip


@case("save_pretrained_over_foreign_dir", LOST)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    target = d / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
    model = PairModel.from_pretrained(ctx.text_model)
    return Trial(call=lambda: model.save_pretrained(target), expect=["photos"], protect=[target],
                 shown="model.save_pretrained('$TMP/photos')  # a folder of other files")  # fmt: skip


@case("output_dir_empty", LOST)
def _(ctx: Context, d: Path) -> Trial:
    (d / "metrics.json").write_text('{"mine": 1}\n')
    return Trial(argv=["train", DIGITS, *TINY, "output_dir=", "--no-progress"], expect=["output_dir"], cwd=d,
                 protect=[d])  # fmt: skip


@case("interrupted_model_swap", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    (run / "model").rename(run / ".model.old")  # killed between the two renames: no model/ at all
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])

    def recovered(out: str, _: Any) -> str | None:
        return None if len(scores_of(out)) == 2 else f"unexpected output {out[:80]!r}"

    return Trial(argv=["score", a, a, "--model", run / "model"], expect=[".model.old"], success=recovered)


@case("gallery_from_another_model", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    from pairsim.model import PairModel

    gallery = ctx.gallery(d, ctx.run / "model")
    other = PairModel.from_pretrained(ctx.run / "model")
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p))
    other_dir = other.save_pretrained(d / "other-model")
    return Trial(
        argv=["identify", ctx.pngs[2], "--model", other_dir, "--gallery", gallery], expect=["gallery|g.safetensors"]
    )


def _gallery_file(d: Path, rows: Any, metadata: dict[str, str] | None) -> Path:
    from safetensors.torch import save_file

    path = d / "g.safetensors"
    save_file({"embeddings": rows}, str(path), metadata=metadata)
    return path


@case("gallery_wrong_size", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.randn(2, 5), {"identities": json.dumps(["ann", "bob"])})
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g], expect=["g.safetensors"])


@case("gallery_empty", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.zeros(0, 32), {"identities": "[]"})
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g], expect=["g.safetensors"])


@case("gallery_without_identities", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.randn(2, 32), None)
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g],
                 expect=["g.safetensors", "identit"])  # fmt: skip


@case("flipped_weight_bytes", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.run / "model", d)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    for i in range(len(data) - 4096, len(data) - 64, 97):  # inside the tensor data, past the header
        data[i] ^= 0x40
    weights.write_bytes(bytes(data))
    a = ctx.lines(d, "a.txt", ctx.pngs[:3])
    return Trial(argv=["score", a, a, "--model", model], expect=["model.safetensors|checksum"])


@case("truncated_vocab", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    vocab = model / "tower_a" / "vocab.json"
    saved = json.loads(vocab.read_text())
    saved["itos"] = saved["itos"][:2]
    vocab.write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    return Trial(argv=["score", a, b, "--model", model], expect=["vocab"])


@case("missing_tokenizer_json", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.cli import main

    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    with open(d / "reference.tsv", "w") as f, __import__("contextlib").redirect_stdout(f):
        main(["score", str(a), str(b), "--model", str(ctx.bert_model)])
    reference = scores_of((d / "reference.tsv").read_text())
    model = ctx.copy(ctx.bert_model, d)
    (model / "tower_a" / "tokenizer" / "tokenizer.json").unlink()

    def same(out: str, _: Any) -> str | None:
        got = scores_of(out)
        ok = len(got) == len(reference) and all(abs(x - y) < 1e-4 for x, y in zip(got, reference, strict=True))
        return None if ok else f"scores {got} differ from the intact model's {reference}"

    return Trial(argv=["score", a, b, "--model", model], expect=["tokenizer"], success=same)


@case("threshold_nan", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["threshold"] = float("nan")
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["threshold", "nan"])


@case("output_dir_is_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    f = d / "results.txt"
    f.write_text("keep me\n")
    return Trial(argv=["train", DIGITS, *TINY, f"output_dir={f}", "--no-progress"],
                 expect=["output_dir", "results.txt"], protect=[f])  # fmt: skip


@case("resume_with_changed_shape", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "model.tower.out_dim=16", f"output_dir={run}", "--resume",
                       "--no-progress"], expect=["checkpoint|resume"], protect=_finished(run))  # fmt: skip


@case("config_json_is_a_list", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    (model / "config.json").write_text("[1, 2, 3]\n")
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["config.json"], forbid=["format_version None"])


@case("local_typo_sent_to_hub", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    return Trial(argv=["score", a, a, "--model", "digts/model"], expect=["digts/model", "local", "hub"],
                 network_ok=True)  # fmt: skip
