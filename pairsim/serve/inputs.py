"""Turning an HTTP request into model inputs, with 4xx errors that name the problem.

A request is either JSON (``{"a": "text" | ["text", ...], ...}``) or a multipart form in which each field
is a text value or uploaded image files. Texts go to text towers and images to image towers; a string is
never read as a server-side path.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from starlette.datastructures import UploadFile
from starlette.requests import Request

from pairsim.errors import DataError
from pairsim.images import TooManyPixelsError, open_image

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # per uploaded image
MAX_ITEMS = 256  # inputs per field and request


class RequestError(Exception):
    """A bad request: ``status`` (4xx) and a one-line message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_fields(request: Request, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> dict[str, list[Any]]:
    """Every field of a JSON or multipart request as a list of values (texts, or PIL images for files).

    Raises:
        RequestError: Empty body (400), malformed JSON (400), unsupported content type (415), oversize
            upload or image over the pixel limit (413), unreadable image (415).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        body = await request.body()
        if len(body) > max_upload_bytes:
            raise RequestError(413, f"JSON body of {len(body)} bytes is larger than {max_upload_bytes} bytes")
        if not body.strip():
            raise RequestError(400, 'empty body: expected a JSON object such as {"a": "text", "b": "text"}')
        try:
            data = await request.json()
        except ValueError as err:
            raise RequestError(400, f"body is not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise RequestError(400, "body: expected a JSON object of fields")
        return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=2 * MAX_ITEMS, max_fields=2 * MAX_ITEMS)
        except Exception as err:  # starlette raises its own error types for a broken form
            raise RequestError(400, f"malformed multipart form ({err})") from None
        fields: dict[str, list[Any]] = {}
        for key, value in form.multi_items():
            fields.setdefault(key, []).append(
                await _image(key, value, max_upload_bytes) if isinstance(value, UploadFile) else value
            )
        if not fields:
            raise RequestError(400, "empty form: expected fields such as a and b")
        return fields
    if not kind:
        raise RequestError(400, "empty body: send JSON or a multipart form")
    raise RequestError(415, f"content type {kind!r}: expected application/json or a form (multipart/form-data)")


async def _image(field: str, upload: UploadFile, limit: int) -> Image.Image:
    data = await upload.read(limit + 1)
    name = upload.filename or field
    if len(data) > limit:
        raise RequestError(413, f"field {field!r}: file {name!r} is larger than {limit} bytes")
    if not data:
        raise RequestError(400, f"field {field!r}: file {name!r} is empty")
    try:  # the pixel count is checked from the header, before decoding (pairsim.images)
        return open_image(io.BytesIO(data), name=repr(name))
    except TooManyPixelsError as err:
        raise RequestError(413, f"field {field!r}: {err}") from None
    except DataError as err:
        raise RequestError(415, f"field {field!r}: file {name!r} is not a readable image ({err})") from None


def take(fields: dict[str, list[Any]], name: str, modality: str, *, side: str) -> list[Any]:
    """Field ``name``'s values checked against the modality of the tower that encodes them.

    Raises:
        RequestError: Missing or empty field (400/422), too many inputs (413), wrong modality (422).
    """
    values = fields.get(name)
    if not values:
        raise RequestError(
            422, f"field {name!r} is missing: expected {'text' if modality == 'text' else 'image files'}"
        )
    if len(values) > MAX_ITEMS:
        raise RequestError(413, f"field {name!r}: {len(values)} inputs, at most {MAX_ITEMS} per request")
    for value in values:
        if modality == "text" and not isinstance(value, str):
            raise RequestError(422, f"field {name!r}: this model's side-{side} tower takes text, got {_kind(value)}")
        if modality == "image" and not isinstance(value, Image.Image):
            raise RequestError(
                422, f"field {name!r}: this model's side-{side} tower takes images (upload files), got text"
            )
    return values


def _kind(value: Any) -> str:
    return "an image file" if isinstance(value, Image.Image) else type(value).__name__
