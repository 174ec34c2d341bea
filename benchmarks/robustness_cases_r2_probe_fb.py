"""Robustness cases of the issue 22 probe follow-up (helper fb): identity names that look alike.

Look-alike spellings of one name (NFC / NFD ``José``, ``ann`` + a variation selector), look-alikes of the
no-match label ``unknown``, and names made of marks or invisible characters only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from robustness_context import NAMES, Context, Trial, case, enroll_folders

NFC, NFD = "Jos\u00e9", "Jose\u0301"


# -- finding 1: one identity, two spellings ----------------------------------------------------------------------
@case("r2p_fb_enroll_nfc_and_nfd_twins", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, [NFC, NFD], ["Jos\\xe9", "Jose\\u0301", "spellings of one identity"])


@case("r2p_fb_unenroll_other_spelling", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.cli import main

    people = ctx.people(d)
    (people / NFD).mkdir()  # enrolled from a macOS-style folder name
    shutil.copy(ctx.pngs[2], people / NFD / "face.png")
    gallery = d / "g.safetensors"
    assert main(["enroll", str(people), "--model", str(ctx.run / "model"), "--gallery", str(gallery)]) == 0

    def only_ann_and_bob_left(out: str, value: Any) -> str | None:
        from safetensors import safe_open

        with safe_open(gallery, framework="pt") as f:
            names = json.loads(f.metadata()["identities"])
        return None if sorted(set(names)) == ["ann", "bob"] else f"the gallery still holds {names!a}"

    return Trial(argv=["unenroll", NFC, "--gallery", gallery], success=only_ann_and_bob_left)


@case("r2p_fb_enroll_variation_selector", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["bob\ufe0f"], ["U+FE0F", "variation selector"])


# -- finding 2: look-alikes of the no-match label ----------------------------------------------------------------
@case("r2p_fb_enroll_unknown_cyrillic_o", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["unkn\u043ewn"], ["looks like 'unknown'", "no match"])


# -- finding 3: nothing visible --------------------------------------------------------------------------------
@case("r2p_fb_enroll_marks_only", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["\u0301"], ["no visible base character"])


@case("r2p_fb_enroll_private_use", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["\ue000"], ["U+E000", "private-use"])


@case("r2p_fb_enroll_mark_pile", NAMES)
def _(ctx: Context, d: Path) -> Trial:
    return enroll_folders(ctx, d, ["A" + "\u0300" * 20], ["combining marks in a row"])
