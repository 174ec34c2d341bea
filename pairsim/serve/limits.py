"""What one request to the service may hold (items, bytes, pixels, JSON depth); ``pairsim serve`` flags set them."""

from __future__ import annotations

import dataclasses

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # per uploaded image, and a JSON body


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may hold; more is answered 413 (400 for JSON nested too deep).

    Args:
        max_items: Inputs per field (``a``, ``b``, ``items``).
        max_body_bytes: The whole request body.
        max_upload_bytes: One uploaded image, or a JSON body.
        max_pixels: One image (width x height, read from its header before decoding).
        max_request_pixels: All images of a request together.
        max_json_depth: Nesting of a JSON body (objects and arrays); the API needs 2.

    Example:
        >>> Limits(max_items=8).max_pixels
        16777216
    """

    max_items: int = 64
    max_body_bytes: int = 32 * 1024 * 1024
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = 4096 * 4096
    max_request_pixels: int = 4 * 4096 * 4096
    max_json_depth: int = 16
