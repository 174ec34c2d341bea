"""Who may talk to the service and how much: the Host allow-list, the Origin rule, write tokens, body size.

:class:`Guard` is an ASGI middleware that sees every request before it is routed:

* **Host** (DNS rebinding): the ``Host`` header must name an allowed host: ``127.0.0.1``, ``localhost`` and
  ``[::1]`` (any port), the address the server listens on when it is a specific one, and the names added
  with ``--allowed-host``. Anything else gets 400.
* **Origin** (CSRF): a request that may change something (any method but GET / HEAD / OPTIONS) and carries
  an ``Origin`` that is not this service gets 403, token or not. The Origin's host must be allowed and its
  port (80 / 443 when it names none) must be the port the server answers on: the one in the ``Host`` header
  (the default port when it has none), the one the server listens on, or the one given with the allowed
  host (``--allowed-host NAME:PORT``). So a page on another port of localhost is another site too. Browsers
  send ``Origin`` on every cross-site POST and DELETE; one that sends ``Sec-Fetch-Site: cross-site`` or
  ``same-site`` without an ``Origin`` is refused as well. A foreign web page can only read, never enroll or
  delete.
* **Writes** (every such request except the read-only POSTs ``/score``, ``/encode``, ``/identify``) need
  ``Authorization: Bearer TOKEN`` (compared in constant time); a server started without a token is read-only
  (403) unless it was started with writes open. New endpoints are writes until listed as reads.
* **Body size**: a body larger than the limit gets 413, whether it announces its length or streams it.

Example:
    >>> policy = AccessPolicy(token="s3cret-token-0123456789")
    >>> policy.host_allowed("localhost:8000"), policy.host_allowed("evil.example")
    (True, False)
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

from pairsim.errors import ConfigError
from pairsim.serve.errors import RequestError

Scope = dict[str, Any]
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "[::1]")
READ_POSTS = frozenset({"/score", "/encode", "/identify"})  # POSTs that only compute; every other POST writes
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
FOREIGN_FETCH = frozenset({"cross-site", "same-site"})  # Sec-Fetch-Site values of a request from another origin
TOKEN_ENV = "PAIRSIM_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::", "[::]")  # listening on every address: no name is implied
_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?")
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII, no spaces


def parse_host(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a Host header value (``host[:port]``, IPv6 in brackets), lower case; None if malformed.

    Example:
        >>> parse_host("[::1]:8000"), parse_host("LocalHost"), parse_host("a@b")
        (('[::1]', 8000), ('localhost', None), None)
    """
    match = _HOST.fullmatch(value.strip())
    if match is None:
        return None
    host, port = match["host"].lower(), match["port"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
    if port is not None and not 0 < int(port) < 65536:
        return None
    return host, None if port is None else int(port)


def check_token(token: str, source: str) -> str:
    """``token`` if it is usable as a bearer token, else a one-line ConfigError naming ``source``."""
    if len(token) < MIN_TOKEN_CHARS or not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"{source}: expected a token of at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces "
            f'(got {len(token)} characters); make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return token


@dataclasses.dataclass
class AccessPolicy:
    """Which hosts the service answers to and who may write.

    Args:
        token: The bearer token writes need, or None.
        open_writes: With no token: anyone who can reach the server may write (else writes get 403).
        allowed_hosts: Host names (``name`` or ``name:port``) accepted besides the defaults.
        bind_host: The address the server listens on; a specific one is allowed too.
    """

    token: str | None = None
    open_writes: bool = False
    allowed_hosts: tuple[str, ...] = ()
    bind_host: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None:
            check_token(self.token, "token")
            if self.open_writes:
                raise ConfigError("a write token and open writes were both given: pick one (open writes need no token)")
        self._hosts: list[tuple[str, int | None]] = []
        extra = [] if (self.bind_host or "").strip() in WILDCARD_ADDRESSES else [self.bind_host or ""]
        for name in (*DEFAULT_HOSTS, *extra, *self.allowed_hosts):
            name = name.strip()
            if ":" in name and not name.startswith("[") and name.count(":") > 1:
                name = f"[{name}]"  # a bare IPv6 address
            parsed = parse_host(name)
            if parsed is None:
                raise ConfigError(f"allowed host {name!r}: expected a host name or address, optionally with :PORT")
            if parsed not in self._hosts:
                self._hosts.append(parsed)

    @property
    def writes(self) -> str:
        """``token``, ``open`` or ``disabled``."""
        return "token" if self.token else "open" if self.open_writes else "disabled"

    @property
    def hosts(self) -> list[str]:
        """The allowed hosts as shown to users (``*`` for any port)."""
        return [f"{h}:{p if p is not None else '*'}" for h, p in self._hosts]

    def host_allowed(self, value: str) -> bool:
        """Whether a Host header value (or an Origin's netloc) names an allowed host."""
        parsed = parse_host(value)
        if parsed is None:
            return False
        host, port = parsed
        return any(host == h and (p is None or p == port) for h, p in self._hosts)

    def origin_allowed(self, origin: str, *, ports: frozenset[int]) -> bool:
        """Whether an ``Origin`` header (``scheme://host[:port]``) is this service's own.

        Args:
            origin: The header's value.
            ports: The ports the server answers this request on (the Host header's, the listening one).

        Its host must be allowed and its port (the scheme's default when it names none) one of ``ports`` or
        the port an allowed host was given with.

        Example:
            >>> AccessPolicy().origin_allowed("http://localhost:3000", ports=frozenset({8000}))
            False
        """
        parts = urlsplit(origin.strip())
        if parts.scheme not in DEFAULT_PORTS or parts.path or parts.query or parts.fragment:
            return False
        parsed = parse_host(parts.netloc)
        if parsed is None:
            return False
        host, port = parsed[0], parsed[1] or DEFAULT_PORTS[parts.scheme]
        return any(host == h and (port == p if p is not None else port in ports) for h, p in self._hosts)

    def authorize_write(self, authorization: str | None) -> None:
        """Raise a RequestError (401 / 403) unless a write with this ``Authorization`` header is allowed."""
        if self.token is None:
            if self.open_writes:
                return
            raise RequestError(
                403,
                "writes are disabled: this server is read-only because it started without a token; start it "
                f"with {TOKEN_ENV}=TOKEN (or --token-file FILE) and send 'Authorization: Bearer TOKEN', "
                "or with --open-writes",
            )
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), self.token.encode()):
            raise RequestError(
                401, "this request changes the gallery: send 'Authorization: Bearer TOKEN' (the server's token)"
            )


class Guard:
    """ASGI middleware applying an :class:`AccessPolicy` and a body-size limit to every HTTP request.

    Args:
        app: The application to guard.
        policy: Hosts, origins and the write token.
        max_body_bytes: Largest request body.
    """

    def __init__(self, app: Any, *, policy: AccessPolicy, max_body_bytes: int) -> None:
        self.app = app
        self.policy = policy
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            self._check(scope, headers)
        except RequestError as err:
            await _send_json(send, err.status, err.message, www_authenticate=err.status == 401)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise RequestError(413, f"request body is larger than {self.max_body_bytes} bytes")
            return message

        await self.app(scope, counted, send)

    def _check(self, scope: Scope, headers: dict[str, str]) -> None:
        host = headers.get("host", "")
        if not self.policy.host_allowed(host):
            raise RequestError(
                400,
                f"Host {host[:80]!r} is not allowed: this server answers to {', '.join(self.policy.hosts)} "
                "(add names with --allowed-host)",
            )
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise RequestError(400, f"Content-Length {length[:40]!r} is not a number")
            if int(length) > self.max_body_bytes:
                raise RequestError(
                    413, f"request body of {int(length)} bytes is larger than {self.max_body_bytes} bytes"
                )
        if scope["method"] in SAFE_METHODS:
            return
        origin = headers.get("origin")
        if origin is not None and not self.policy.origin_allowed(origin, ports=_own_ports(scope, host)):
            raise RequestError(
                403,
                f"Origin {origin[:80]!r} is not this service (its host and port must be the server's): requests "
                "from other sites may only read (GET)",
            )
        fetch_site = headers.get("sec-fetch-site", "").strip().lower()
        if origin is None and fetch_site in FOREIGN_FETCH:
            raise RequestError(
                403, f"Sec-Fetch-Site {fetch_site!r} without an Origin: requests from other sites may only read (GET)"
            )
        if scope["method"] != "POST" or scope["path"] not in READ_POSTS:
            self.policy.authorize_write(headers.get("authorization"))


def _own_ports(scope: Scope, host: str) -> frozenset[int]:
    """The ports this request reached the server on: the Host header's (80 and 443 when it names none, the
    default port of whichever scheme the client used) and the one the server listens on."""
    ports: set[int] = set()
    parsed = parse_host(host)
    if parsed is not None:
        ports.update([parsed[1]] if parsed[1] is not None else DEFAULT_PORTS.values())
    server = scope.get("server")
    if server and server[1] is not None:
        ports.add(int(server[1]))
    return frozenset(ports)


async def _send_json(send: Any, status: int, message: str, *, www_authenticate: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if www_authenticate:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
