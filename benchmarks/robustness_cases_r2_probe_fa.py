"""Robustness cases of the issue 22 follow-up probe, helper ``fa``: temporary and lock files that must never be
opened through a link or block on a FIFO, a run's ``train.log``, saving to ``.``, and the HTTP service's
Origin port, a gallery path that is no longer a file, names holding ``/`` and the form-field limit.

Each function ``(ctx, folder) -> Trial`` is one case; see ``robustness.py``. Nothing here writes near a device.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robustness_cases_r2_service import TOKEN, WRITE, _text_gallery, _text_model, http, statuses
from robustness_context import DIGITS, NAMES, OUT_PATHS, SERVICE, TINY, Context, Trial, case


def _pairs(ctx: Context, d: Path) -> tuple[Path, Path]:
    return ctx.lines(d, "a.txt", ctx.pngs[:3]), ctx.lines(d, "b.txt", ctx.pngs[3:6])


def _score_table(res: Path, victim: Path) -> Any:
    def check(out: str, value: Any) -> str | None:
        if victim.exists() and victim.read_text() != "keep\n":
            return "the file behind the planted temporary name was overwritten"
        if res.is_symlink() or not res.is_file():
            return f"{res.name} is not a regular file"
        rows = res.read_text().splitlines()
        return None if rows[0] == "score\tsame" and len(rows) == 4 else f"{res.name} holds {rows[:2]}"

    return check


# -- finding 1: --out's temporary file -----------------------------------------------------------------------------
@case("probe_fa_out_tmp_link", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    victim = d / "victim"
    victim.write_text("keep\n")
    (d / ".res.tsv.tmp").symlink_to(victim)
    a, b = _pairs(ctx, d)
    return Trial(argv=["score", a, b, "--model", ctx.run / "model", "--out", d / "res.tsv"],
                 success=_score_table(d / "res.tsv", victim), protect=[victim],
                 shown="ln -s victim .res.tsv.tmp; pairsim score a b --model M --out res.tsv")  # fmt: skip


@case("probe_fa_out_tmp_fifo", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    os.mkfifo(d / ".res2.tsv.tmp")  # opening it for writing would block forever
    a, b = _pairs(ctx, d)
    return Trial(argv=["score", a, b, "--model", ctx.run / "model", "--out", d / "res2.tsv"],
                 success=_score_table(d / "res2.tsv", d / "none"),
                 shown="mkfifo .res2.tsv.tmp; pairsim score a b --model M --out res2.tsv")  # fmt: skip


# -- finding 2: the gallery lock -------------------------------------------------------------------------------------
@case("probe_fa_gallery_lock_link", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    created = d / "created_by_lock"
    (d / ".g2.safetensors.lock").symlink_to(created)
    return Trial(argv=["enroll", ctx.people(d), "--model", ctx.run / "model", "--gallery", d / "g2.safetensors"],
                 expect=["gallery lock", ".g2.safetensors.lock", "symbolic link", "regular file"],
                 check_message=lambda m: f"{created.name} was created" if created.exists() else None,
                 shown="ln -s created_by_lock .g2.safetensors.lock; pairsim enroll people --gallery g2.safetensors")  # fmt: skip


@case("probe_fa_gallery_lock_fifo", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    os.mkfifo(d / ".g2.safetensors.lock")
    return Trial(argv=["enroll", ctx.people(d), "--model", ctx.run / "model", "--gallery", d / "g2.safetensors"],
                 expect=["gallery lock", ".g2.safetensors.lock", "FIFO", "regular file"],
                 check_message=lambda m: None if (d / ".g2.safetensors.lock").is_fifo() else "the FIFO was replaced",
                 shown="mkfifo .g2.safetensors.lock; pairsim enroll people --gallery g2.safetensors")  # fmt: skip


# -- finding 3: train.log ------------------------------------------------------------------------------------------
@case("probe_fa_train_log_link", OUT_PATHS)
def _(ctx: Context, d: Path) -> Trial:
    outside, run = d / "outside.log", d / "run"
    outside.write_text("keep\n")
    run.mkdir()
    (run / "train.log").symlink_to(outside)
    return Trial(argv=["train", DIGITS, *TINY, f"output_dir={run}", "--no-progress"],
                 expect=["output_dir", "train.log", "symbolic link", "regular file"], protect=[outside],
                 shown="ln -s ../outside.log run/train.log; pairsim train digits output_dir=run")  # fmt: skip


# -- finding 4: save_pretrained(".") --------------------------------------------------------------------------------
@case("probe_fa_save_pretrained_dot", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    empty = d / "empty"
    empty.mkdir()

    def call() -> Any:
        from pairsim.model import PairModel

        PairModel.from_pretrained(ctx.run / "model").save_pretrained(".")

    return Trial(call=call, cwd=empty, expect=["empty", "current folder", "another folder"], protect=[empty],
                 shown='cd empty; PairModel.save_pretrained(".")')  # fmt: skip


# -- finding 5: the Origin's port -----------------------------------------------------------------------------------
@case("probe_fa_origin_other_localhost_port", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        return {"enroll": c.post("/enroll", data={"identity": "mallory"}, files={"items": ("x.png", b"hi")},
                                 headers={"Origin": "http://localhost:3000"}),
                "delete": c.delete("/identities/ann", headers={"Sec-Fetch-Site": "cross-site"}),
                "own": c.get("/info", headers={"Origin": "http://localhost:3000"})}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, open_writes=True), protect=[gallery],
                 success=statuses({"enroll": 403, "delete": 403, "own": 200}),
                 shown="--open-writes; curl -H 'Origin: http://localhost:3000' -F identity=mallory .../enroll; "
                       "DELETE with Sec-Fetch-Site: cross-site and no Origin")  # fmt: skip


# -- finding 6: the gallery path is no longer a file -------------------------------------------------------------------
@case("probe_fa_gallery_became_dir_or_fifo", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        got = {}
        gallery.unlink()
        gallery.mkdir()
        got["dir identify"] = c.post("/identify", json={"items": ["x"]})
        gallery.rmdir()
        os.mkfifo(gallery)
        got["fifo identify"] = c.post("/identify", json={"items": ["x"]})
        got["fifo enroll"] = c.post("/enroll", json={"identity": "bob", "items": ["x"]}, headers=WRITE)
        got["fifo info"] = c.get("/info")
        return got

    def names_it(got: dict[str, Any]) -> str | None:
        for label in ("dir identify", "fifo identify", "fifo enroll"):
            if str(gallery) not in got[label].json()["error"]:
                return f"{label}: the error does not name {gallery}"
        return None if "FIFO" in str(got["fifo info"].json()["gallery"]) else "/info does not say FIFO"

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN),
                 success=statuses({"dir identify": 503, "fifo identify": 503, "fifo enroll": 503, "fifo info": 200},
                                  names_it),
                 shown="serving g.safetensors, replaced by a folder, then by a FIFO: POST /identify, /enroll, GET /info")  # fmt: skip


# -- finding 7: a name with "/" ---------------------------------------------------------------------------------------
@case("probe_fa_delete_name_with_slash", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = d / "g.safetensors"

    def send(c: Any) -> dict[str, Any]:
        return {"enroll": c.post("/enroll", data={"identity": "a/b", "items": ["x"]}, headers=WRITE),
                "delete": c.delete("/identities/a%2Fb", headers=WRITE),
                "again": c.delete("/identities/a%2Fb", headers=WRITE)}  # fmt: skip

    def removed(got: dict[str, Any]) -> str | None:
        return None if got["delete"].json() == {"identity": "a/b", "removed_rows": 1} else got["delete"].text[:120]

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN),
                 success=statuses({"enroll": 200, "delete": 200, "again": 404}, removed),
                 shown="POST /enroll identity=a/b; DELETE /identities/a%2Fb (twice)")  # fmt: skip


# -- finding 8: too many URL-encoded fields ----------------------------------------------------------------------------
@case("probe_fa_urlencoded_too_many_fields", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    def send(c: Any) -> dict[str, Any]:
        return {"encode": c.post("/encode", data={f"f{i}": "x" for i in range(200)})}

    def says_limit(got: dict[str, Any]) -> str | None:
        message = got["encode"].json()["error"]
        return None if "too many fields: at most" in message and "multipart" not in message else message[:120]

    return Trial(call=http(_text_model(ctx), send), success=statuses({"encode": 413}, says_limit),
                 shown="POST /encode, application/x-www-form-urlencoded with 200 fields")  # fmt: skip
