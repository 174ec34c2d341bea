"""Turning an HTTP request into model inputs, within :class:`Limits`, with 4xx errors that name the problem.

A request is either JSON (``{"a": "text" | ["text", ...], ...}``) or a multipart form in which each field
is a text value or uploaded image files. Texts go to text towers and images to image towers; a string is
never read as a server-side path. Every client mistake is a :class:`RequestError` (a 4xx status and one
line): too many inputs, too many bytes or pixels, JSON nested too deep, a file that is not an image of an
accepted format. An image's pixel count is read from its header and checked before it is decoded.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from pairsim.errors import DataError
from pairsim.images import pixel_limit, upright
from pairsim.jsonio import loads_bounded
from pairsim.serve.errors import RequestError
from pairsim.serve.limits import MAX_UPLOAD_BYTES, Limits

__all__ = ["MAX_UPLOAD_BYTES", "Limits", "RequestError", "decode_image", "read_fields", "take"]

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")  # decoders tried on uploads (PPM: .pgm, .ppm)


def parse_json(body: bytes, limits: Limits) -> dict[str, list[Any]]:
    """The fields of a JSON body (each a list of values).

    Raises:
        RequestError: Too large (413), empty, nested too deep, malformed or not an object (400).
    """
    if len(body) > limits.max_upload_bytes:
        raise RequestError(413, f"JSON body of {len(body)} bytes is larger than {limits.max_upload_bytes} bytes")
    if not body.strip():
        raise RequestError(400, 'empty body: expected a JSON object such as {"a": "text", "b": "text"}')
    try:  # pairsim's one JSON reader: bounded, and a key given twice is refused, never silently overwritten
        data = loads_bounded(body, what="JSON body", max_depth=limits.max_json_depth, max_bytes=limits.max_upload_bytes)
    except DataError as err:
        raise RequestError(400, str(err)[:300]) from None
    if not isinstance(data, dict):
        raise RequestError(400, "body: expected a JSON object of fields")
    return {k: v if isinstance(v, list) else [v] for k, v in data.items()}


async def read_fields(request: Request, limits: Limits) -> dict[str, list[Any]]:
    """Every field of a JSON or multipart request as a list of values (texts, or PIL images for files).

    Raises:
        RequestError: Empty body (400), malformed JSON or form (400), unsupported content type (415), too
            many parts, bytes or pixels (413), unreadable image (415).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        return parse_json(await request.body(), limits)
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        parts = 2 * limits.max_items + 8  # two input fields and a few others
        try:
            form = await request.form(max_files=parts, max_fields=parts)
        except RequestError:
            raise
        except Exception as err:  # starlette raises its own error types for a broken form
            problem = str(getattr(err, "detail", None) or err)[:200]
            if problem.startswith("Too many"):  # a limit, not a malformed form
                what = "files" if problem.startswith("Too many files") else "fields"
                raise RequestError(
                    413,
                    f"form has too many {what}: at most {parts} {what} per request ({limits.max_items} inputs per "
                    "field, --max-items, and a few other fields)",
                ) from None
            form_kind = "multipart" if kind == "multipart/form-data" else "URL-encoded"
            raise RequestError(400, f"malformed {form_kind} form ({problem})") from None
        fields: dict[str, list[Any]] = {}
        budget = [limits.max_request_pixels]  # pixels left for the rest of the request
        for key, value in form.multi_items():
            fields.setdefault(key, []).append(
                await _image(key, value, limits, budget) if isinstance(value, UploadFile) else value
            )
        if not fields:
            raise RequestError(400, "empty form: expected fields such as a and b")
        return fields
    if not kind:
        raise RequestError(400, "empty body: send JSON or a multipart form")
    raise RequestError(415, f"content type {kind[:80]!r}: expected application/json or a form (multipart/form-data)")


async def _image(field: str, upload: UploadFile, limits: Limits, budget: list[int]) -> Image.Image:
    data = await upload.read(limits.max_upload_bytes + 1)
    name = (upload.filename or field)[:100]
    if len(data) > limits.max_upload_bytes:
        raise RequestError(413, f"field {field!r}: file {name!r} is larger than {limits.max_upload_bytes} bytes")
    if not data:
        raise RequestError(400, f"field {field!r}: file {name!r} is empty")
    return await run_in_threadpool(decode_image, data, f"field {field!r}: file {name!r}", limits, budget)


def decode_image(data: bytes, what: str, limits: Limits, budget: list[int] | None = None) -> Image.Image:
    """Decode an uploaded image after checking its pixel count (from the header) against ``limits`` and
    pairsim's pixel limit for every image (:func:`pairsim.images.pixel_limit`), whichever is smaller; the
    image is turned as its EXIF orientation says (:func:`pairsim.images.upright`), of a multi-frame file the
    first frame.

    Args:
        data: The file's bytes.
        what: How messages name the file.
        limits: ``max_pixels`` for this image.
        budget: A one-item list of pixels left for the request; this image's are taken from it.

    Raises:
        RequestError: Too many pixels (413); not an image of :data:`IMAGE_FORMATS`, or it fails to decode (415).
    """
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)  # reads the header only
        width, height = image.size
        pixels = width * height
        limit = min(limits.max_pixels, pixel_limit())  # the service's own, and pairsim's for every image it reads
        if pixels > limit:
            raise RequestError(413, f"{what} has {width}x{height} pixels, more than {limit} per image")
        if budget is not None:
            if pixels > budget[0]:
                raise RequestError(
                    413, f"{what}: the request's images hold more than {limits.max_request_pixels} pixels together"
                )
            budget[0] -= pixels
        image.load()
    except RequestError:
        raise
    except Image.DecompressionBombError:  # PIL's own limit, met in Image.open
        raise RequestError(
            413, f"{what} has more pixels than {limits.max_pixels}: too large to decode safely (a decompression bomb?)"
        ) from None
    except Exception as err:  # any decoder failure on untrusted bytes is the upload's fault
        problem = " ".join(str(err).split())[:200] or type(err).__name__
        raise RequestError(
            415, f"{what} is not a readable image ({problem}); accepted formats: {', '.join(IMAGE_FORMATS)}"
        ) from None
    return upright(image)  # as a viewer shows it (EXIF orientation), like a file (pairsim.images.open_image)


def take(fields: dict[str, list[Any]], name: str, modality: str, *, side: str, max_items: int) -> list[Any]:
    """Field ``name``'s values checked against the modality of the tower that encodes them.

    Raises:
        RequestError: Missing or empty field (422), too many inputs (413), wrong modality (422).
    """
    values = fields.get(name)
    if not values:
        raise RequestError(
            422, f"field {name!r} is missing: expected {'text' if modality == 'text' else 'image files'}"
        )
    if len(values) > max_items:
        raise RequestError(413, f"field {name!r}: {len(values)} inputs, at most {max_items} per request")
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
