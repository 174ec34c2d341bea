"""The scoring service: ``create_app(model, gallery=...)`` -> a FastAPI app.

Endpoints (JSON in, JSON out; images as multipart file fields):

* ``GET /``: the demo page; ``GET /info``: modalities, head, threshold, gallery size; ``/docs``: OpenAPI.
* ``POST /score``: fields ``a`` and ``b`` (texts or image files) -> scores and same / different.
* ``POST /encode?side=a``: field ``items`` -> embeddings.
* ``POST /identify``: field ``items`` (probes, side a) -> best identity or ``unknown`` (needs a gallery).
* ``POST /enroll``: fields ``identity`` and ``items`` (examples, side b) -> the identity is added (replaced);
  ``DELETE /identities/{name}`` removes one. Writes hold one writer lock and replace the gallery file
  atomically; the served gallery changes only once the file is written.

Bad requests get a 4xx JSON ``{"error": "..."}`` naming the problem. Concurrent encodes are merged into
one model call by :class:`~pairsim.serve.batching.Batcher`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pairsim.errors import PairsimError
from pairsim.gallery import Gallery, load_gallery, save_gallery, writer_lock
from pairsim.search import GalleryIndex
from pairsim.serve.batching import Batcher
from pairsim.serve.inputs import MAX_UPLOAD_BYTES, RequestError, read_fields, take

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
        self.gallery_path = Path(gallery) if gallery else None
        self.fingerprint = model.fingerprint()  # written into the gallery files this server saves
        self._stamp: tuple[int, int] | None = None
        self.gallery: GalleryIndex | None = self._read() if self.gallery_path else None

    def modality(self, side: str) -> str:
        return self.model.tower_for(side).modality

    def _empty(self) -> GalleryIndex:
        dim = self.model.tower_a.out_dim
        return GalleryIndex([], torch.empty(0, dim), head=self.model.head, threshold=self.model.config.threshold)

    def _read(self) -> GalleryIndex:
        assert self.gallery_path is not None
        if not self.gallery_path.is_file():
            self._stamp = None
            return self._empty()
        gallery = load_gallery(self.gallery_path, self.model, allow_empty=True)  # refuses another model's
        st = self.gallery_path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)
        return GalleryIndex(
            gallery.names, gallery.embeddings, head=self.model.head, threshold=self.model.config.threshold
        )

    def require_gallery(self) -> GalleryIndex:
        if self.gallery is None:
            raise RequestError(404, "no gallery: start the server with --gallery FILE to identify and enroll")
        return self.gallery

    def update_gallery(self, change: Any) -> GalleryIndex:
        """Apply ``change(gallery)`` to a copy under the writer lock, write it atomically, then serve it."""
        self.require_gallery()
        assert self.gallery_path is not None
        with writer_lock(self.gallery_path):
            current = self.gallery
            if self.gallery_path.is_file():  # another writer (pairsim enroll) may have changed the file
                st = self.gallery_path.stat()
                if (st.st_mtime_ns, st.st_size) != self._stamp:
                    current = self._read()
            assert current is not None
            new = GalleryIndex(
                list(current.names), current.embeddings, head=self.model.head, threshold=self.model.config.threshold
            )
            result = change(new)
            save_gallery(
                self.gallery_path, Gallery(names=new.names, embeddings=new.embeddings, fingerprint=self.fingerprint)
            )
            st = self.gallery_path.stat()
            self._stamp = (st.st_mtime_ns, st.st_size)
            self.gallery = new
        return result


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
               max_batch_items: int = 64, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:  # fmt: skip
    """The FastAPI app serving ``model`` (and ``gallery``).

    Args:
        model: A PairModel (``PairModel.from_pretrained``) or an OnnxPairModel.
        gallery: A gallery file for identify / enroll (created on the first enroll), or None.
        batch_window_ms: Batching window for concurrent requests.
        max_batch_items: Inputs per merged model call at most (1: no batching).
        max_upload_bytes: Largest accepted image upload.

    Example:
        >>> app = create_app(PairModel.from_pretrained("runs/faces/model"), gallery="staff.safetensors")  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    service = Service(model, gallery, batch_window_ms=batch_window_ms, max_batch_items=max_batch_items)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.batcher.close()

    app = FastAPI(
        title="pairsim", description="Score pairs, encode inputs, identify and enroll identities.", lifespan=lifespan
    )
    app.state.service = service

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"error": err.message}, status_code=err.status)

    @app.exception_handler(PairsimError)
    async def _input_error(request: Request, err: PairsimError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=422)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error: {type(err).__name__}: {err}"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in err.errors())
        return JSONResponse({"error": problems or "invalid request"}, status_code=422)

    async def fields(request: Request) -> dict[str, list[Any]]:
        return await read_fields(request, max_upload_bytes=max_upload_bytes)

    def encode(side: str, items: list[Any]) -> torch.Tensor:
        return service.batcher.encode(side, items)  # (N, D)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/info")
    async def info() -> dict[str, Any]:
        """What the model takes and how it decides."""
        g = service.gallery
        return {
            "side_a": service.modality("a"), "side_b": service.modality("b"), "tied": model.tied,
            "head": model.config.head.name, "higher_is_similar": model.head.higher_is_similar,
            "threshold": model.config.threshold, "embedding_size": model.tower_a.out_dim,
            "gallery": None if g is None else {"identities": len(g.identities), "rows": len(g)},
        }  # fmt: skip

    @app.post("/score", openapi_extra=request_body({"a": "side-a inputs (texts or image files)", "b": "side-b inputs"}))
    async def score(request: Request) -> dict[str, Any]:
        """Fields ``a`` and ``b``: pair i is ``(a[i], b[i])``. Returns scores and same / different."""
        data = await fields(request)
        a = take(data, "a", service.modality("a"), side="a")
        b = take(data, "b", service.modality("b"), side="b")
        if len(a) != len(b):
            raise RequestError(422, f"fields 'a' and 'b' need as many inputs each, got {len(a)} and {len(b)}")

        def run() -> torch.Tensor:
            with torch.inference_mode():
                return model.head(encode("a", a), encode("b", b))  # (N,)

        scores = await run_in_threadpool(run)
        threshold = model.config.threshold
        same = None if threshold is None else model.head.is_similar(scores, threshold).tolist()
        return {"scores": scores.tolist(), "same": same, "threshold": threshold,
                "higher_is_similar": model.head.higher_is_similar}  # fmt: skip

    @app.post("/encode", openapi_extra=request_body({"items": "inputs of the chosen side"}))
    async def encode_items(request: Request, side: str = "a") -> dict[str, Any]:
        """Field ``items``; ``?side=a|b`` picks the tower. Returns ``(N, D)`` embeddings."""
        if side not in ("a", "b"):
            raise RequestError(422, f"side: expected a or b, got {side!r}")
        items = take(await fields(request), "items", service.modality(side), side=side)
        embeddings = await run_in_threadpool(encode, side, items)
        return {"embeddings": embeddings.tolist(), "size": embeddings.shape[1]}

    @app.post("/identify", openapi_extra=request_body({"items": "probes (side a)"}))
    async def identify(request: Request) -> dict[str, Any]:
        """Field ``items`` (probes): each one's best identity, or ``unknown`` past the threshold."""
        gallery = service.require_gallery()
        probes = take(await fields(request), "items", service.modality("a"), side="a")
        if len(gallery) == 0:
            raise RequestError(409, "the gallery is empty: enroll identities first")
        matches = await run_in_threadpool(lambda: gallery.identify(encode("a", probes)))
        return {"matches": [{"identity": m.identity or "unknown", "known": m.identity is not None,
                             "nearest": m.nearest, "score": m.score} for m in matches]}  # fmt: skip

    @app.post("/enroll", openapi_extra=request_body({"identity": "the name", "items": "examples (side b)"}))
    async def enroll(request: Request) -> dict[str, Any]:
        """Fields ``identity`` (a name) and ``items`` (examples): adds the identity, replacing earlier examples."""
        service.require_gallery()
        data = await fields(request)
        names = data.get("identity") or []
        if len(names) != 1 or not isinstance(names[0], str) or not names[0].strip():
            raise RequestError(422, "field 'identity': expected one non-empty name")
        identity = names[0].strip()
        items = take(data, "items", service.modality("b"), side="b")

        def run() -> GalleryIndex:
            rows = encode("b", items)  # (n, D): encoded outside the lock
            service.update_gallery(lambda g: g.add(identity, rows))
            assert service.gallery is not None
            return service.gallery

        g = await run_in_threadpool(run)
        return {"identity": identity, "examples": len(items), "identities": len(g.identities), "rows": len(g)}

    @app.delete("/identities/{name}")
    async def remove(name: str) -> dict[str, Any]:
        """Remove an enrolled identity (its embeddings; nothing is re-encoded)."""
        gallery = service.require_gallery()
        if name not in gallery.names:
            raise RequestError(404, f"identity {name!r} is not enrolled")
        removed = await run_in_threadpool(service.update_gallery, lambda g: g.remove(name))
        return {"identity": name, "removed_rows": removed}

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return app
