"""The service's client errors: a 4xx status and one line naming the problem, answered as JSON ``{"error": ...}``."""

from __future__ import annotations


class RequestError(Exception):
    """A bad request: ``status`` (4xx, or 503 for a gallery file that cannot be used) and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
