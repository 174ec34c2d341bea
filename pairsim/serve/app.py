"""The scoring service: ``create_app(model, gallery=...)`` -> a FastAPI app.

Endpoints (JSON in, JSON out; images as multipart file fields):

* ``GET /``: the demo page; ``GET /info``: modalities, head, threshold, gallery size; ``/docs``: OpenAPI.
* ``POST /score``: fields ``a`` and ``b`` (texts or image files) -> scores and same / different.
* ``POST /encode?side=a``: field ``items`` -> embeddings.
* ``POST /identify``: field ``items`` (probes, side a) -> best identity or ``unknown`` (needs a gallery), and
  ``exact``: false when the match came from an approximate index's shortlist.
* ``POST /enroll``: fields ``identity`` and ``items`` (examples, side b) -> the identity is added (replaced);
  ``DELETE /identities/{name}`` removes one. Writes need the server's token (or writes opened explicitly),
  hold one writer lock and replace the gallery file atomically; the served gallery changes only once the
  file is written, and follows the file when another process changes it
  (:class:`~pairsim.serve.served_gallery.ServedGallery`).

Every request passes :class:`~pairsim.serve.security.Guard` first (Host allow-list, Origin rule, write token,
body size). Bad requests get a 4xx JSON ``{"error": "..."}`` naming the problem; an unexpected failure a 500
JSON that names only the exception's type. Concurrent encodes are merged into one model call by
:class:`~pairsim.serve.batching.Batcher`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import torch
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBearer
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pairsim.errors import PairsimError
from pairsim.names import check_identity
from pairsim.scoring import check_finite
from pairsim.search import GalleryIndex
from pairsim.serve.batching import Batcher
from pairsim.serve.errors import RequestError
from pairsim.serve.inputs import Limits, read_fields, take
from pairsim.serve.security import AccessPolicy, Guard
from pairsim.serve.served_gallery import ServedGallery

PAGE = Path(__file__).parent / "static" / "index.html"


class Service:
    """The model, its batcher and the gallery the endpoints share.

    Args:
        model: A PairModel or OnnxPairModel.
        gallery: Gallery file (created by the first enroll if missing), or None.
        batch_window_ms: How long the batcher waits to merge concurrent requests.
        max_batch_items: Inputs per merged model call at most (1: no batching).
    """

    def __init__(
        self, model: Any, gallery: str | Path | None = None, *, batch_window_ms: float = 0.0, max_batch_items: int = 64
    ) -> None:
        self.model = model
        model.head.cpu().eval()
        self.batcher = Batcher(model, window_ms=batch_window_ms, max_items=max_batch_items)
        self.served = ServedGallery(gallery, model) if gallery else None

    def modality(self, side: str) -> str:
        return self.model.tower_for(side).modality

    def encode(self, side: str, items: list[Any]) -> torch.Tensor:
        """``(N, D)`` embeddings of a request's inputs; an input the model cannot take is a 422, not a 500."""
        try:
            return self.batcher.encode(side, items)  # (N, D)
        except PairsimError as err:
            raise RequestError(422, str(err)) from None
        except (ValueError, Image.DecompressionBombError, UnidentifiedImageError) as err:
            raise RequestError(
                422, f"cannot encode the side-{side} inputs: {' '.join(str(err).split())[:200]}"
            ) from None

    def require_gallery(self) -> ServedGallery:
        if self.served is None:
            raise RequestError(404, "no gallery: start the server with --gallery FILE to identify and enroll")
        return self.served


def request_body(fields: dict[str, str]) -> dict[str, Any]:
    """OpenAPI description of a JSON or multipart body with these fields (the endpoints parse it themselves)."""
    text = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    form = {"oneOf": [*text["oneOf"], {"type": "array", "items": {"type": "string", "format": "binary"}}]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "required": list(fields),
                                                 "properties": {k: {**text, "description": d} for k, d in fields.items()}}},
                "multipart/form-data": {"schema": {"type": "object", "required": list(fields),
                                                   "properties": {k: {**form, "description": d} for k, d in fields.items()}}},
            },
        }
    }  # fmt: skip


def create_app(model: Any, *, gallery: str | Path | None = None, batch_window_ms: float = 0.0,
               max_batch_items: int = 64, max_upload_bytes: int | None = None, limits: Limits | None = None,
               token: str | None = None, open_writes: bool = False, allowed_hosts: Sequence[str] = (),
               bind_host: str | None = None) -> FastAPI:  # fmt: skip
    """The FastAPI app serving ``model`` (and ``gallery``).

    Reads (the page, ``/info``, ``/docs``, ``/score``, ``/encode``, ``/identify``) are open to every allowed
    host; writes (``/enroll``, ``DELETE /identities/...``) need ``token`` and are refused without one unless
    ``open_writes`` (see :mod:`pairsim.serve.security`).

    Args:
        model: A PairModel (``PairModel.from_pretrained``) or an OnnxPairModel.
        gallery: A gallery file for identify / enroll (created on the first enroll), or None. The served
            gallery follows the file: a change by another process is seen by the next request.
        batch_window_ms: Batching window for concurrent requests.
        max_batch_items: Inputs per merged model call at most (1: no batching).
        max_upload_bytes: Largest accepted image upload (overrides ``limits.max_upload_bytes``; None: keep it).
        limits: Items, bytes, pixels and JSON depth per request (default :class:`Limits`).
        token: The bearer token writes need (at least 16 characters), or None.
        open_writes: Without a token, let anyone who can reach the server write.
        allowed_hosts: Host names (``name`` or ``name:port``) accepted besides 127.0.0.1, localhost and [::1].
        bind_host: The address the server listens on (allowed too when it is a specific address).

    Raises:
        ConfigError: A token that is too short, a token together with ``open_writes``, a malformed host.
        ModelFileError: The gallery file cannot be read or was enrolled with another model.

    Example:
        >>> app = create_app(PairModel.from_pretrained("runs/faces/model"), gallery="staff.safetensors",
        ...                  token=os.environ["PAIRSIM_SERVE_TOKEN"])  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    limits = limits or Limits()
    if max_upload_bytes is not None:
        limits = dataclasses.replace(limits, max_upload_bytes=max_upload_bytes)
    policy = AccessPolicy(token=token, open_writes=open_writes, allowed_hosts=tuple(allowed_hosts), bind_host=bind_host)
    service = Service(model, gallery, batch_window_ms=batch_window_ms, max_batch_items=max_batch_items)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.batcher.close()

    app = FastAPI(
        title="pairsim", description="Score pairs, encode inputs, identify and enroll identities.", lifespan=lifespan
    )
    app.state.service = service
    app.state.policy = policy
    app.add_middleware(Guard, policy=policy, max_body_bytes=limits.max_body_bytes)
    add_error_handlers(app)
    write = [
        Depends(HTTPBearer(auto_error=False, description="the server's write token"))
    ]  # shown in /docs; the Guard enforces it

    async def fields(request: Request) -> dict[str, list[Any]]:
        return await read_fields(request, limits)

    def take_items(data: dict[str, list[Any]], name: str, side: str) -> list[Any]:
        return take(data, name, service.modality(side), side=side, max_items=limits.max_items)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/info")
    async def info() -> dict[str, Any]:
        """What the model takes and how it decides; whether writes are open, need a token or are disabled."""
        gallery: dict[str, Any] | None = None
        if service.served is not None:
            try:
                g = await run_in_threadpool(service.served.current)
                gallery = {"identities": len(g.identities), "rows": len(g)}
            except RequestError as err:
                gallery = {"error": err.message}
        return {
            "side_a": service.modality("a"), "side_b": service.modality("b"), "tied": model.tied,
            "head": model.config.head.name, "higher_is_similar": model.head.higher_is_similar,
            "threshold": model.config.threshold, "embedding_size": model.embedding_dim,
            "gallery": gallery, "writes": policy.writes,
        }  # fmt: skip

    @app.post("/score", openapi_extra=request_body({"a": "side-a inputs (texts or image files)", "b": "side-b inputs"}))
    async def score(request: Request) -> dict[str, Any]:
        """Fields ``a`` and ``b``: pair i is ``(a[i], b[i])``. Returns scores and same / different."""
        data = await fields(request)
        a, b = take_items(data, "a", "a"), take_items(data, "b", "b")
        if len(a) != len(b):
            raise RequestError(422, f"fields 'a' and 'b' need as many inputs each, got {len(a)} and {len(b)}")

        def run() -> torch.Tensor:
            with torch.inference_mode():
                return check_finite(model.head(service.encode("a", a), service.encode("b", b)), what="pair")  # (N,)

        scores = await run_in_threadpool(run)
        threshold = model.config.threshold
        same = None if threshold is None else model.head.is_similar(scores, threshold).tolist()
        return {"scores": scores.tolist(), "same": same, "threshold": threshold,
                "higher_is_similar": model.head.higher_is_similar}  # fmt: skip

    @app.post("/encode", openapi_extra=request_body({"items": "inputs of the chosen side"}))
    async def encode_items(request: Request, side: str = "a") -> dict[str, Any]:
        """Field ``items``; ``?side=a|b`` picks the tower. Returns ``(N, D)`` embeddings."""
        if side not in ("a", "b"):
            raise RequestError(422, f"side: expected a or b, got {side[:20]!r}")
        if model.tower_for(side).gives != "embeddings":
            raise RequestError(422, "a cross-encoder reads both texts together and gives no embeddings; use /score")
        items = take_items(await fields(request), "items", side)
        embeddings = await run_in_threadpool(service.encode, side, items)  # (N, D)
        return {"embeddings": embeddings.tolist(), "size": embeddings.shape[1]}

    @app.post("/identify", openapi_extra=request_body({"items": "probes (side a)"}))
    async def identify(request: Request) -> dict[str, Any]:
        """Field ``items`` (probes): each one's best identity, or ``unknown`` past the threshold."""
        served = service.require_gallery()
        probes = take_items(await fields(request), "items", "a")

        def run() -> list[Any]:
            gallery = served.current()  # as the file holds it now: a revoked identity never matches
            if len(gallery) == 0:
                raise RequestError(409, "the gallery is empty: enroll identities first")
            return gallery.identify(service.encode("a", probes))

        matches = await run_in_threadpool(run)
        return {"matches": [{"identity": m.identity or "unknown", "known": m.identity is not None,
                             "nearest": m.nearest, "score": m.score, "exact": m.exact} for m in matches]}  # fmt: skip

    @app.post(
        "/enroll",
        openapi_extra=request_body({"identity": "the name", "items": "examples (side b)"}),
        dependencies=write,
    )
    async def enroll(request: Request) -> dict[str, Any]:
        """Fields ``identity`` (a name) and ``items`` (examples): adds the identity, replacing earlier examples.
        Needs ``Authorization: Bearer TOKEN``."""
        served = service.require_gallery()
        data = await fields(request)
        names = data.get("identity") or []
        if len(names) != 1 or not isinstance(names[0], str):
            raise RequestError(422, "field 'identity': expected one name")
        identity = check_identity(names[0], where="field 'identity'")  # the one name policy, before any encoding
        items = take_items(data, "items", "b")

        def run() -> GalleryIndex:
            rows = service.encode("b", items)  # (n, D): encoded outside the lock
            return served.update(lambda g: g.add(identity, rows))[1]

        g = await run_in_threadpool(run)
        return {"identity": identity, "examples": len(items), "identities": len(g.identities), "rows": len(g)}

    @app.delete("/identities/{name:path}", dependencies=write)  # the whole rest: a name may hold "/"
    async def remove(name: str) -> dict[str, Any]:
        """Remove an enrolled identity (its embeddings; nothing is re-encoded). Needs ``Authorization: Bearer TOKEN``."""
        served = service.require_gallery()

        def change(g: GalleryIndex) -> tuple[str, int]:
            stored = g.find(name)  # the enrolled spelling (José as é or e + U+0301, any case), never another person
            if stored is None:  # checked under the writer lock: of concurrent deletes, one removes, the rest 404
                raise RequestError(404, f"identity {name[:100]!r} is not enrolled")
            return stored, g.remove(stored)

        stored, removed = (await run_in_threadpool(served.update, change))[0]
        return {"identity": stored, "removed_rows": removed}

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return app


def add_error_handlers(app: FastAPI) -> None:
    """Every error becomes JSON ``{"error": ...}``: client mistakes a 4xx naming the problem; anything else a
    500 that names only the exception's type (the traceback goes to the server log, never to the client)."""

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"error": err.message}, status_code=err.status)

    @app.exception_handler(PairsimError)
    async def _input_error(request: Request, err: PairsimError) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(err).split())[:500]}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in err.errors())
        return JSONResponse({"error": problems[:500] or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code, headers=err.headers)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error ({type(err).__name__}); the server log has the details"},
                            status_code=500)  # fmt: skip
