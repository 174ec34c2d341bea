"""Robustness cases of issue 22 on the HTTP service (``pairsim serve``): write tokens and the read-only default,
the Host allow-list (DNS rebinding), the Origin rule (CSRF), request limits (items, bytes, pixels, JSON depth),
a gallery that follows its file, concurrent deletes.

Each HTTP case serves a tiny model in this process through Starlette's TestClient (no socket) and sends what a
careful user or an attacker would; it is **handled** when every answer has the right status and nothing
changed that should not have. See ``robustness.py``.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from robustness_context import SERVICE, TEXTS, Context, Trial, case

TOKEN = "robustness-token-0123456789"
WRITE = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://127.0.0.1:8000"
_IMAGE_MODEL: list[Any] = []


def _text_model(ctx: Context) -> Any:
    from pairsim.model import PairModel

    return PairModel.from_pretrained(ctx.text_model).eval()


def _text_gallery(ctx: Context, d: Path) -> Path:
    """A gallery of the text model: ann (TEXTS[0]) and bob (TEXTS[2])."""
    import torch

    from pairsim.gallery import Gallery, save_gallery

    model, path = _text_model(ctx), d / "g.safetensors"
    with torch.inference_mode():
        rows = model.encode_b([TEXTS[0], TEXTS[2]])  # (2, D)
    save_gallery(path, Gallery(names=["ann", "bob"], embeddings=rows, fingerprint=model.fingerprint()))
    return path


def _image_model() -> Any:
    """A tiny untrained CNN image model (euclidean head), built once."""
    if not _IMAGE_MODEL:
        import torch

        from pairsim.model import PairModel

        torch.manual_seed(0)
        tower = {"name": "cnn", "arch": "koch", "width": 0.25, "out_dim": 8, "image_size": [72, 72]}
        config = {"tower": tower, "head": {"name": "euclidean"}, "threshold": 1.0}
        _IMAGE_MODEL.append(PairModel.from_config(config, pretrained=False).eval())
    return _IMAGE_MODEL[0]


def blank_png(width: int, height: int) -> bytes:
    """A 1-bit black PNG, written row by row: 20000 x 20000 is about 48 KB (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pack = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    data = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def http(model: Any, send: Callable[[Any], dict[str, Any]], **app: Any) -> Callable[[], dict[str, Any]]:
    """A call that serves ``model`` (``create_app(**app)``), runs ``send(client)`` and returns what it gathered."""

    def call() -> dict[str, Any]:
        from fastapi.testclient import TestClient

        from pairsim.serve.app import create_app

        with TestClient(create_app(model, **app), base_url=LOCAL, raise_server_exceptions=False) as client:
            return send(client)

    return call


def statuses(want: dict[str, int], extra: Callable[[dict[str, Any]], str | None] | None = None) -> Any:
    """``success`` for a Trial whose call returns ``{label: response, ...}``: every label has its status, and
    every error body is JSON ``{"error": ...}`` without a traceback."""

    def check(_: str, got: dict[str, Any]) -> str | None:
        for label, status in want.items():
            r = got[label]
            if r.status_code != status:
                return f"{label}: {r.status_code} {r.text[:120]}, expected {status}"
            if status >= 400 and ("error" not in r.json() or "Traceback" in r.text):
                return f"{label}: {r.status_code} without a one-line JSON error"
        return extra(got) if extra else None

    return check


# -- writes: a token, or read-only -------------------------------------------------------------------------------
@case("svc_enroll_without_token", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = d / "g.safetensors"

    def send(c: Any) -> dict[str, Any]:  # curl -F identity=mallory -F items=@x.txt .../enroll
        return {"enroll": c.post("/enroll", data={"identity": "mallory"}, files={"items": ("x.txt", b"hi")}),
                "score": c.post("/score", json={"a": TEXTS[0], "b": TEXTS[1]})}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, gallery=gallery), protect=[gallery],
                 success=statuses({"enroll": 403, "score": 200}),
                 shown="curl -F identity=mallory -F items=@x .../enroll  # server started without a token")  # fmt: skip


@case("svc_delete_without_token", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        return {"no token": c.delete("/identities/ann"), "wrong token": c.delete(
            "/identities/ann", headers={"Authorization": f"Bearer {TOKEN[:-1]}X"})}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN), protect=[gallery],
                 success=statuses({"no token": 401, "wrong token": 401}),
                 shown="DELETE /identities/ann  # no token; a token differing in its last character")  # fmt: skip


@case("svc_short_token_refused", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["serve", ctx.text_model, "--token", "1234", "--device", "cpu"], expect=["token", "16"])


# -- hosts and origins -----------------------------------------------------------------------------------------------
@case("svc_dns_rebinding_host", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    def send(c: Any) -> dict[str, Any]:
        return {host: c.get("/info", headers={"Host": host})
                for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost:8000")}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send),
                 success=statuses({"evil.example": 400, "evil.example:8000": 400, "127.0.0.1.evil.example": 400,
                                   "localhost:8000": 200}),
                 shown="GET /info with Host: evil.example (and two look-alikes; localhost:8000 answered)")  # fmt: skip


@case("svc_host_userinfo_and_bad_port", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    def send(c: Any) -> dict[str, Any]:
        return {host: c.post("/score", json={"a": "x", "b": "x"}, headers={"Host": host})
                for host in ("evil.example@127.0.0.1", "127.0.0.1:99999", "[::2]:8000", "pairsim.lan:8000")}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, allowed_hosts=["pairsim.lan"]),
                 success=statuses({"evil.example@127.0.0.1": 400, "127.0.0.1:99999": 400, "[::2]:8000": 400,
                                   "pairsim.lan:8000": 200}),
                 shown="POST /score with Host: user@127.0.0.1, a port past 65535, [::2]; --allowed-host pairsim.lan")  # fmt: skip


@case("svc_csrf_cross_site_enroll", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = d / "g.safetensors"

    def send(c: Any) -> dict[str, Any]:
        evil = {**WRITE, "Origin": "http://evil.example"}
        return {"enroll": c.post("/enroll", data={"identity": "mallory"}, files={"items": ("x.txt", b"hi")},
                                 headers=evil)}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN), protect=[gallery],
                 success=statuses({"enroll": 403}),
                 shown="multipart POST /enroll, Origin: http://evil.example, with the token")  # fmt: skip


@case("svc_csrf_null_origin_delete", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        return {"null": c.delete("/identities/ann", headers={**WRITE, "Origin": "null"}),
                "look-alike": c.delete("/identities/ann", headers={**WRITE, "Origin": "http://localhost.evil.example"})}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, open_writes=True), protect=[gallery],
                 success=statuses({"null": 403, "look-alike": 403}),
                 shown="DELETE /identities/ann from a sandboxed frame (Origin: null) and a look-alike origin")  # fmt: skip


# -- limits ------------------------------------------------------------------------------------------------------------
@case("svc_decompression_bomb_png", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    bomb = blank_png(20000, 20000)

    def send(c: Any) -> dict[str, Any]:
        return {"score": c.post("/score", files=[("a", ("bomb.png", bomb)), ("b", ("b.png", bomb))])}

    return Trial(call=http(_image_model(), send), success=statuses({"score": 413}),
                 shown=f"POST /score with a {len(bomb) // 1000} KB PNG of 20000x20000")  # fmt: skip


@case("svc_four_8000px_pngs", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    big = blank_png(8000, 8000)

    def send(c: Any) -> dict[str, Any]:
        return {"encode": c.post("/encode", files=[("items", (f"{i}.png", big)) for i in range(4)])}

    return Trial(call=http(_image_model(), send), success=statuses({"encode": 413}),
                 shown=f"POST /encode with four {len(big) // 1000} KB PNGs of 8000x8000")  # fmt: skip


@case("svc_pgm_header_claims_10g_pixels", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    data = b"P5\n100000 100000\n255\n" + b"\0" * 1000

    def send(c: Any) -> dict[str, Any]:
        return {"identify": c.post("/encode", files={"items": ("x.pgm", data)}),
                "eps": c.post("/encode", files={"items": ("x.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n")})}  # fmt: skip

    return Trial(call=http(_image_model(), send), success=statuses({"identify": 413, "eps": 415}),
                 shown="POST /encode: a 1 KB PGM whose header says 100000x100000; an EPS file (Ghostscript)")  # fmt: skip


@case("svc_256_items", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    def send(c: Any) -> dict[str, Any]:
        return {"json": c.post("/encode", json={"items": ["x"] * 256}),
                "form": c.post("/encode", files=[("items", (f"{i}.png", blank_png(8, 8))) for i in range(256)])}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send), success=statuses({"json": 413, "form": 413}),
                 shown="POST /encode with 256 texts; with 256 uploaded files")  # fmt: skip


@case("svc_streamed_body_over_limit", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.serve.limits import Limits

    chunks = [b'{"a": "', *([b"x" * 65536] * 40), b'", "b": "y"}']  # 2.6 MB, chunked: no Content-Length

    def send(c: Any) -> dict[str, Any]:
        return {"score": c.post("/score", content=iter(chunks), headers={"content-type": "application/json"})}

    return Trial(call=http(_text_model(ctx), send, limits=Limits(max_body_bytes=1024 * 1024)),
                 success=statuses({"score": 413}), shown="POST /score, a 2.6 MB chunked body, --max-body-mb 1")  # fmt: skip


@case("svc_json_100k_deep", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    def send(c: Any) -> dict[str, Any]:
        kind = {"content-type": "application/json"}
        return {"body": c.post("/score", content=b"[" * 100_000 + b"]" * 100_000, headers=kind),
                "field": c.post("/score", content=b'{"a": ' + b'{"k": ' * 100_000 + b"1" + b"}" * 100_000
                                + b', "b": "x"}', headers=kind)}  # fmt: skip

    return Trial(call=http(_text_model(ctx), send), success=statuses({"body": 400, "field": 400}),
                 shown="POST /score with [[[...]]] 100k deep; with objects 100k deep in field a")  # fmt: skip


# -- the gallery follows its file; concurrent deletes ------------------------------------------------------------------
@case("svc_stale_gallery_after_unenroll", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = d / "g.safetensors"

    def send(c: Any) -> dict[str, Any]:
        from pairsim.cli import main

        for name, text in (("ghost", TEXTS[2]), ("ann", TEXTS[0])):
            c.post("/enroll", json={"identity": name, "items": [text]}, headers=WRITE)
        before = c.post("/identify", json={"items": [TEXTS[2]]})
        assert main(["unenroll", "ghost", "--gallery", str(gallery)]) == 0  # another process
        return {"before": before, "after": c.post("/identify", json={"items": [TEXTS[2]]})}

    def ghost_gone(got: dict[str, Any]) -> str | None:
        if got["before"].json()["matches"][0]["identity"] != "ghost":
            return "ghost was not known before the unenroll (the case is broken)"
        after = got["after"].json()["matches"][0]
        return f"after unenroll: {after}" if after["identity"] == "ghost" or after["nearest"] == "ghost" else None

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN),
                 success=statuses({"before": 200, "after": 200}, ghost_gone),
                 shown="serve --gallery g; enroll ghost; pairsim unenroll ghost --gallery g; POST /identify")  # fmt: skip


@case("svc_gallery_swapped_in_place_same_size", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    import os

    from pairsim.gallery import Gallery, read_gallery, save_gallery

    gallery = d / "g.safetensors"

    def send(c: Any) -> dict[str, Any]:
        for name, text in (("ann", TEXTS[0]), ("bob", TEXTS[2])):
            c.post("/enroll", json={"identity": name, "items": [text]}, headers=WRITE)
        before = c.post("/identify", json={"items": [TEXTS[2]]})
        st, old = os.stat(gallery), read_gallery(gallery)
        swapped = d / "swapped.safetensors"  # names swapped: same size
        save_gallery(swapped, Gallery(names=["bob", "ann"], embeddings=old.embeddings, fingerprint=old.fingerprint))
        with open(gallery, "r+b") as f:
            f.write(swapped.read_bytes())
        os.utime(gallery, ns=(st.st_atime_ns, st.st_mtime_ns))  # same inode, size and modification time
        return {"before": before, "after": c.post("/identify", json={"items": [TEXTS[2]]})}

    def follows(got: dict[str, Any]) -> str | None:
        who = got["before"].json()["matches"][0]["identity"], got["after"].json()["matches"][0]["identity"]
        return None if who == ("bob", "ann") else f"identities before / after the rewrite: {who}, expected bob / ann"

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN),
                 success=statuses({"before": 200, "after": 200}, follows),
                 shown="gallery rewritten in place (names swapped, same size and mtime) while served; POST /identify")  # fmt: skip


@case("svc_gallery_file_deleted", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        before = c.post("/identify", json={"items": [TEXTS[0]]})
        gallery.unlink()
        return {"before": before, "after": c.post("/identify", json={"items": [TEXTS[0]]})}

    return Trial(call=http(_text_model(ctx), send, gallery=gallery), success=statuses({"before": 200, "after": 409}),
                 shown="rm g.safetensors while served; POST /identify (an empty gallery, not the old names)")  # fmt: skip


@case("svc_concurrent_deletes", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    gallery = _text_gallery(ctx, d)

    def send(c: Any) -> dict[str, Any]:
        barrier = threading.Barrier(8)

        def delete(_: int) -> Any:
            barrier.wait()
            return c.delete("/identities/ann", headers=WRITE)

        with ThreadPoolExecutor(8) as pool:
            answers = sorted(pool.map(delete, range(8)), key=lambda r: r.status_code)
        return {f"delete {i}": r for i, r in enumerate(answers)}

    return Trial(call=http(_text_model(ctx), send, gallery=gallery, token=TOKEN),
                 success=statuses({"delete 0": 200, **{f"delete {i}": 404 for i in range(1, 8)}}),
                 shown="8 simultaneous DELETE /identities/ann (one 200, seven 404)")  # fmt: skip


@case("svc_unexpected_error_no_traceback", SERVICE)
def _(ctx: Context, d: Path) -> Trial:
    model = _text_model(ctx)

    def broken(items: list[str]) -> Any:
        raise RuntimeError("secret detail at /srv/internal/path")

    model.encode_a = broken

    def send(c: Any) -> dict[str, Any]:
        return {"encode": c.post("/encode", json={"items": ["x"]})}

    def private(got: dict[str, Any]) -> str | None:
        return "the 500 body shows internal details" if "secret" in got["encode"].text else None

    return Trial(call=http(model, send), success=statuses({"encode": 500}, private),
                 shown="POST /encode while the model raises RuntimeError('secret ...'): 500 JSON naming only the type")  # fmt: skip
