"""Robustness cases of issue 22 (second round): output paths, identity names, unambiguous outputs, hidden folders
and the temporary files of a killed-then-resumed run.

Each function ``(ctx, folder) -> Trial`` is one case; see ``robustness.py``. Nothing here ever writes near a
real device node: the character-device case uses a symbolic link to ``/dev/null``, and the policy must refuse
it before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robustness_context import DIGITS, NAMES, OUT_PATHS, TINY, Context, Trial, case, enroll_folders


def _pairs(ctx: Context, d: Path) -> tuple[Path, Path]:
    return ctx.lines(d, "a.txt", ctx.pngs[:3]), ctx.lines(d, "b.txt", ctx.pngs[3:6])


def _still(path: Path, test: Callable[[Path], bool], what: str) -> Callable[[str], str | None]:
    """A message check: the thing at ``path`` must still be what it was (``test``), else say it was replaced."""
    return lambda message: None if test(path) else f"{path.name} is no longer {what}"


def _score_out(
    ctx: Context, d: Path, out: Path, *, expect: list[str], test: Callable[[Path], bool], what: str
) -> Trial:
    a, b = _pairs(ctx, d)
    return Trial(argv=["score", a, b, "--model", ctx.run / "model", "--out", out], expect=expect,
                 check_message=_still(out, test, what))  # fmt: skip


# -- one output-path policy -------------------------------------------------------------------------------------
@case("r2_out_fifo", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    os.mkfifo(d / "out.tsv")
    return _score_out(ctx, d, d / "out.tsv", expect=["out.tsv", "FIFO", "regular file"], test=Path.is_fifo,
                      what="a FIFO")  # fmt: skip


@case("r2_out_socket", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(d / "out.tsv"))
    server.close()
    return _score_out(ctx, d, d / "out.tsv", expect=["out.tsv", "socket", "regular file"], test=Path.is_socket,
                      what="a socket")  # fmt: skip


@case("r2_out_link_to_dev_null", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    (d / "out.tsv").symlink_to("/dev/null")
    return _score_out(ctx, d, d / "out.tsv", expect=["out.tsv", "/dev/null", "character device"],
                      test=Path.is_symlink, what="a link")  # fmt: skip


@case("r2_out_dangling_link", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    (d / "out.tsv").symlink_to(d / "gone" / "scores.tsv")
    return _score_out(ctx, d, d / "out.tsv", expect=["out.tsv", "symbolic link", "does not exist"],
                      test=Path.is_symlink, what="a link")  # fmt: skip


@case("r2_out_link_to_file", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    real = d / "results" / "v1.tsv"
    real.parent.mkdir()
    real.write_text("old\n")
    (d / "latest.tsv").symlink_to(real)
    a, b = _pairs(ctx, d)

    def followed(out: str, value: Any) -> str | None:
        if not (d / "latest.tsv").is_symlink():
            return "the link was replaced by a plain file"
        rows = real.read_text().splitlines()
        return None if rows[0] == "score\tsame" and len(rows) == 4 else f"the linked file holds {rows[:2]}"

    return Trial(argv=["score", a, b, "--model", ctx.run / "model", "--out", d / "latest.tsv"], success=followed)


@case("r2_out_dash_is_stdout", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    a, b = _pairs(ctx, d)

    def on_stdout(out: str, value: Any) -> str | None:
        if (d / "-").exists():
            return "wrote a file named -"
        rows = out.splitlines()
        return None if rows[0] == "score\tsame" and len(rows) == 4 else f"stdout: {rows[:2]}"

    return Trial(argv=["score", a, b, "--model", ctx.run / "model", "--out", "-"], cwd=d, success=on_stdout)


@case("r2_encode_out_fifo", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    os.mkfifo(d / "emb.npy")
    a, _ = _pairs(ctx, d)
    return Trial(argv=["encode", a, "--model", ctx.run / "model", "--out", d / "emb.npy"],
                 expect=["emb.npy", "FIFO"], check_message=_still(d / "emb.npy", Path.is_fifo, "a FIFO"))  # fmt: skip


@case("r2_encode_out_dash", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    a, _ = _pairs(ctx, d)
    return Trial(argv=["encode", a, "--model", ctx.run / "model", "--out", "-"], cwd=d,
                 expect=["--out -", "binary", "file name"])  # fmt: skip


@case("r2_gallery_is_socket", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(d / "g.safetensors"))
    server.close()
    return Trial(argv=["enroll", ctx.people(d), "--model", ctx.run / "model", "--gallery", d / "g.safetensors"],
                 expect=["--gallery", "g.safetensors", "socket"],
                 check_message=_still(d / "g.safetensors", Path.is_socket, "a socket"))  # fmt: skip


@case("r2_export_out_fifo", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    os.mkfifo(d / "onnx")
    return Trial(argv=["export", ctx.run / "model", "--format", "onnx", "--out", d / "onnx"],
                 expect=["onnx", "FIFO", "folder"], check_message=_still(d / "onnx", Path.is_fifo, "a FIFO"))  # fmt: skip


@case("r2_resume_leaves_no_tmp", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    ckpt = run / "checkpoints"
    (ckpt / ".tmp0fhb10").write_bytes((ckpt / "last.pt").read_bytes()[:4096])  # safetensors' temp of a kill -9
    (ckpt / ".last.pt.tmp.d").mkdir()
    (ckpt / ".last.pt.tmp.d" / ".tmpAbC123").write_bytes(b"")
    (ckpt / "notes.txt").write_text("mine")

    def tidy(out: str, value: Any) -> str | None:
        left = sorted(p.name for p in ckpt.iterdir() if p.name.startswith("."))
        if not (ckpt / "notes.txt").is_file():
            return "removed the user's notes.txt"
        return f"left {left}" if left else None

    return Trial(argv=["train", DIGITS, *TINY, f"output_dir={run}", "--resume", "--no-progress"], success=tidy)


# -- one name policy ---------------------------------------------------------------------------------------------
@case("r2_enroll_folder_unknown", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["unknown"], ["'unknown'", "no match"])


@case("r2_enroll_folder_Unknown_fullwidth", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["\uff35nknown"], ["no match"])


@case("r2_enroll_folder_tab", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["ann\tlee"], ["ann\\tlee", "control character"])


@case("r2_enroll_folder_bidi_override", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["\u202egnp.exe"], ["U+202E", "right-to-left override"])


@case("r2_enroll_folder_zero_width", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["a\u200dnn"], ["U+200D", "zero width joiner"])


@case("r2_api_name_9mb", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    def call() -> Any:
        import torch

        from pairsim.gallery import Gallery, save_gallery

        save_gallery(d / "g.safetensors", Gallery(names=["x" * 9_000_000], embeddings=torch.ones(1, 4),
                                                  fingerprint="f00d"))  # fmt: skip

    return Trial(call=call, expect=["9000000 characters", "128"], protect=[d])


@case("r2_gallery_file_with_unknown", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    from safetensors.torch import save_file

    from pairsim.model import PairModel

    model = PairModel.from_pretrained(ctx.run / "model")
    rows = model.encode_b([ctx.pngs[0], ctx.pngs[1]])  # (2, D)
    meta = {"identities": json.dumps(["ann", "unknown"]), "model_fingerprint": model.fingerprint()}
    save_file({"embeddings": rows.contiguous()}, str(d / "g.safetensors"), metadata=meta)  # as older versions let
    return Trial(argv=["identify", ctx.pngs[1], "--model", ctx.run / "model", "--gallery", d / "g.safetensors"],
                 expect=["g.safetensors", "'unknown'", "unenroll"])  # fmt: skip


# -- unambiguous outputs -----------------------------------------------------------------------------------------
@case("r2_identify_probe_with_tab_and_newline", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    gallery = ctx.gallery(d, ctx.run / "model")
    probes = [d / "tab\there.png", d / "new\nline.png"]
    for probe, png in zip(probes, ctx.pngs[:2], strict=True):
        shutil.copy(png, probe)

    def one_row_each(out: str, value: Any) -> str | None:
        rows = [line.split("\t") for line in out.splitlines()]
        if [len(r) for r in rows] != [5, 5, 5]:  # probe, identity, score, known, exact
            return f"rows of {[len(r) for r in rows]} fields"
        return None if rows[1][0].endswith("tab\\there.png") and rows[2][0].endswith("new\\nline.png") else str(rows)

    return Trial(argv=["identify", *probes, "--model", ctx.run / "model", "--gallery", gallery], success=one_row_each)


@case("r2_identify_no_match_is_marked", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    gallery = ctx.gallery(d, ctx.run / "model")
    strict = PairModel.from_pretrained(ctx.run / "model")
    strict.config.threshold = 0.0  # the head's lowest distance: only an enrolled picture itself could match
    strict.save_pretrained(d / "strict")

    def marked(out: str, value: Any) -> str | None:
        rows = [line.split("\t") for line in out.splitlines()]
        ok = rows[0] == ["probe", "identity", "score", "known", "exact"] and rows[1][1::2] == ["unknown", "false"]
        return None if ok else f"rows {rows}"

    return Trial(argv=["identify", ctx.pngs[5], "--model", d / "strict", "--gallery", gallery], success=marked)


# -- hidden folders ------------------------------------------------------------------------------------------------
@case("r2_enroll_ipynb_checkpoints", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    people = ctx.people(d)
    (people / ".ipynb_checkpoints").mkdir()
    shutil.copy(ctx.pngs[3], people / ".ipynb_checkpoints" / "face-checkpoint.png")
    (people / "ann" / "._face.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble, not an image")
    gallery = d / "g.safetensors"

    def skipped(out: str, value: Any) -> str | None:
        from safetensors import safe_open

        with safe_open(gallery, framework="pt") as f:
            names = sorted(set(json.loads(f.metadata()["identities"])))
        return None if names == ["ann", "bob"] else f"enrolled {names}"

    return Trial(argv=["enroll", people, "--model", ctx.run / "model", "--gallery", gallery], success=skipped)


@case("r2_image_folder_hidden_class", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    for i, name in enumerate(["s1", "s2", "s3", "s4", ".ipynb_checkpoints", ".git"]):
        (d / "faces" / name).mkdir(parents=True)
        for j in range(2):
            shutil.copy(ctx.pngs[(i + j) % 10], d / "faces" / name / f"{j}.png")

    def call() -> Any:
        from pairsim.data import load_dataset

        splits = load_dataset({"name": "image_folder", "path": str(d / "faces"), "split_by": "item",
                               "val_fraction": 0.0, "test_fraction": 0.0})  # fmt: skip
        return sorted(set(splits.train.groups))

    return Trial(call=call, success=lambda out, groups: None if groups == ["s1", "s2", "s3", "s4"] else str(groups))
