"""Fixtures of the service tests: small served models, a live uvicorn server on 127.0.0.1, real images."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'pairsim[serve]'")

REPO = Path(__file__).resolve().parents[2]
DATA = Path(
    os.environ.get("PAIRSIM_DATA_DIR") or REPO.parent / "shared" / "data"
).resolve()  # browsers need it absolute


TOKEN = "test-write-token-0123456789"  # the tests' servers are started with this write token
LOCAL = "http://127.0.0.1:8000"  # TestClient's base URL: a Host the service answers to


@pytest.fixture
def token() -> str:
    """The write token of the tests' servers."""
    return TOKEN


@pytest.fixture
def write() -> dict[str, str]:
    """Headers of a write request (enroll, delete) to a server started with ``token=TOKEN``."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``serve(model, **create_app_kwargs)``: a TestClient (on 127.0.0.1) of the app, with the write token ``TOKEN``
    unless the kwargs set ``token`` or ``open_writes``; use it as a context manager."""
    from fastapi.testclient import TestClient

    from pairsim.serve.app import create_app

    def make(model: Any, *, raise_server_exceptions: bool = True, **kwargs: Any) -> TestClient:
        if "token" not in kwargs and not kwargs.get("open_writes"):
            kwargs["token"] = TOKEN
        return TestClient(create_app(model, **kwargs), base_url=LOCAL, raise_server_exceptions=raise_server_exceptions)

    return make


@pytest.fixture(scope="session")
def faces() -> list[str]:
    """Six real AT&T face images (PGM), two each of three people."""
    paths = [DATA / "att_faces" / f"s{p}" / f"{k}.pgm" for p in (1, 2, 3) for k in (1, 2)]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"AT&T faces not found under {DATA} (set PAIRSIM_DATA_DIR)")
    return [str(p) for p in paths]


@pytest.fixture
def text_model(make_model):
    """A tied LSTM text model, cosine head, threshold 0.5."""
    return make_model("lstm", head="cosine", threshold=0.5).eval()


@pytest.fixture
def image_model(make_model):
    """A tied small CNN image model, euclidean head (a distance), threshold 1.0."""
    return make_model("cnn", head="euclidean", threshold=1.0).eval()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], str]]:
    """``live_server(app)``: serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; returns its URL."""
    import uvicorn

    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:  # the app answers to 127.0.0.1: the default allowed host
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def blank_png(width: int, height: int) -> bytes:
    """A 1-bit black PNG of ``width`` x ``height`` written without decoding memory: 20000 x 20000 is about 48 KB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pack = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    data = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def png() -> Callable[[int, int], bytes]:
    """``png(width, height)``: the bytes of a blank 1-bit PNG (see :func:`blank_png`)."""
    return blank_png
