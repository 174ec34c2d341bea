"""Who may write and which hosts and origins are answered: tokens, the read-only default, Host and Origin checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.errors import ConfigError
from pairsim.serve.security import AccessPolicy, parse_host

ENROLL = {"identity": "mallory", "items": ["how old are you"]}


def test_a_server_without_a_token_is_read_only(text_model, serve, tmp_path: Path) -> None:
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery, token=None) as client:
        for response in (
            client.post("/enroll", json=ENROLL),
            client.post("/enroll", data={"identity": "mallory"}, files={"items": ("x.txt", b"hi")}),  # curl -F
            client.delete("/identities/ann"),
            client.post("/enroll", json=ENROLL, headers={"Authorization": "Bearer anything-at-all-0123"}),
        ):
            assert response.status_code == 403, response.text
            error = response.json()["error"]
            assert "read-only" in error and "PAIRSIM_SERVE_TOKEN" in error and "--open-writes" in error
        assert not gallery.exists()
        assert client.post("/score", json={"a": "x", "b": "x"}).json()["same"] == [True]  # reads stay open
        assert client.post("/encode", json={"items": ["x"]}).status_code == 200
        assert client.post("/identify", json={"items": ["x"]}).status_code == 409  # empty gallery, not refused
        assert client.get("/").status_code == 200 and client.get("/openapi.json").status_code == 200
        assert client.get("/info").json()["writes"] == "disabled"


def test_writes_need_the_token_compared_exactly(text_model, serve, token: str, tmp_path: Path) -> None:
    gallery = tmp_path / "g.safetensors"
    wrong = [None, "", "Bearer", f"Bearer {token[:-1]}", f"Bearer {token[:-1]}X", f"Bearer {token}X",
             f"Basic {token}", f"Bearer {token[:-1]}\u00e9".encode(), token]  # fmt: skip
    with serve(text_model, gallery=gallery) as client:
        for value in wrong:
            headers = {} if value is None else {"Authorization": value}
            r = client.post("/enroll", json=ENROLL, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (value, r.text)
            assert "Authorization: Bearer TOKEN" in r.json()["error"]
        assert not gallery.exists()
        ok = client.post("/enroll", json=ENROLL, headers={"Authorization": f"bearer  {token}"})
        assert ok.status_code == 200 and ok.json()["identities"] == 1
        assert client.delete("/identities/mallory").status_code == 401
        assert client.delete("/identities/mallory", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert (
            client.post("/identities/x", headers={"Authorization": "Bearer no"}).status_code == 401
        )  # unknown: a write
        assert client.get("/info").json()["writes"] == "token"
        spec = client.get("/openapi.json").json()
        assert spec["paths"]["/enroll"]["post"]["security"] and "security" not in spec["paths"]["/score"]["post"]


def test_open_writes_need_no_token_and_exclude_one(text_model, serve, tmp_path: Path) -> None:
    with serve(text_model, gallery=tmp_path / "g.safetensors", open_writes=True) as client:
        assert client.post("/enroll", json=ENROLL).status_code == 200
        assert client.get("/info").json()["writes"] == "open"
    with pytest.raises(ConfigError, match="pick one"):
        AccessPolicy(token="a-long-enough-token-123", open_writes=True)
    for bad in ("short", "has a space in it 0123", "x" * 15, "tab\tinside-the-token-0"):
        with pytest.raises(ConfigError, match="at least 16 printable ASCII"):
            AccessPolicy(token=bad)


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200), ("localhost", 200), ("LOCALHOST:1", 200), ("[::1]:8000", 200), ("[::1]", 200),
        ("evil.example", 400), ("evil.example:8000", 400), ("127.0.0.1.evil.example", 400),
        ("localhost.evil.example", 400), ("evil.example@127.0.0.1", 400), ("127.0.0.1:99999", 400),
        ("127.0.0.1:abc", 400), ("", 400), ("[::2]:8000", 400), ("0.0.0.0:8000", 400),
        ("pairsim.lan", 200), ("pairsim.lan:9000", 200), ("10.0.0.7:8000", 200),
        ("box.lan:9000", 200), ("box.lan:9001", 400), ("box.lan", 400),
    ],
)  # fmt: skip
def test_the_host_header_is_checked_against_the_allowed_hosts(text_model, serve, host: str, status: int) -> None:
    """DNS rebinding: a page of evil.example that resolves to 127.0.0.1 still sends Host: evil.example."""
    with serve(text_model, allowed_hosts=["pairsim.lan", "box.lan:9000"], bind_host="10.0.0.7") as client:
        for response in (
            client.get("/info", headers={"Host": host}),
            client.get("/", headers={"Host": host}),
            client.post("/score", json={"a": "x", "b": "x"}, headers={"Host": host}),
        ):
            assert response.status_code == status, (host, response.text)
            if status == 400:
                error = response.json()["error"]
                assert "is not allowed" in error and "--allowed-host" in error and "127.0.0.1:*" in error


def test_parse_host_and_wildcard_binds() -> None:
    assert parse_host("Example.ORG:80") == ("example.org", 80)
    assert parse_host("[::ffff:127.0.0.1]:1") == ("[::ffff:127.0.0.1]", 1)
    assert parse_host("[zz::1]") is None and parse_host("a b") is None and parse_host("a:0") is None
    assert AccessPolicy(bind_host="0.0.0.0").hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    assert AccessPolicy(bind_host="::").hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    assert AccessPolicy(bind_host="fe80::1").host_allowed("[fe80::1]:8000")
    with pytest.raises(ConfigError, match="allowed host 'http://x'"):
        AccessPolicy(allowed_hosts=("http://x",))


def test_a_foreign_origin_cannot_write_even_with_the_token(
    text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    """CSRF: a cross-site multipart POST (a form on evil.example) carries Origin: http://evil.example."""
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery, allowed_hosts=["pairsim.lan"]) as client:
        for origin in ("http://evil.example", "https://evil.example:8000", "null", "http://127.0.0.1.evil.example",
                       "file://", "http://localhost:8000/path", "http://box.lan", "http://localhost:3000",
                       "http://127.0.0.1:8001", "http://localhost", "https://pairsim.lan:8000:1",
                       "http://user@localhost:8000"):  # fmt: skip
            r = client.post("/enroll", data={"identity": "mallory"}, files={"items": ("a.txt", b"how old are you")},
                            headers={**write, "Origin": origin})  # fmt: skip
            assert r.status_code == 403 and "may only read" in r.json()["error"], (origin, r.text)
            r = client.delete("/identities/ann", headers={**write, "Origin": origin})
            assert r.status_code == 403, origin
            assert client.post("/score", json={"a": "x", "b": "x"}, headers={"Origin": origin}).status_code == 403
            assert client.get("/info", headers={"Origin": origin}).status_code == 200  # reading is not refused
        assert not gallery.exists()
        for origin in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
            r = client.post("/enroll", json=ENROLL, headers={**write, "Origin": origin})  # the demo page's own origin
            assert r.status_code == 200, (origin, r.text)
        behind_a_proxy = {**write, "Host": "pairsim.lan", "Origin": "https://pairsim.lan"}  # port 443, default
        assert client.post("/enroll", json=ENROLL, headers=behind_a_proxy).status_code == 200
    with serve(text_model, gallery=gallery, allowed_hosts=["pairsim.lan:8443"]) as client:
        assert (
            client.post("/enroll", json=ENROLL, headers={**write, "Origin": "https://pairsim.lan:8443"}).status_code
            == 200
        )
        assert (
            client.post("/enroll", json=ENROLL, headers={**write, "Origin": "https://pairsim.lan"}).status_code == 403
        )


def test_a_page_on_another_localhost_port_cannot_write_with_open_writes(text_model, serve, tmp_path: Path) -> None:
    """Finding 5 of the probe: Origin http://localhost:3000 enrolled into a server on port 8000."""
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery, open_writes=True) as client:
        r = client.post("/enroll", data={"identity": "mallory"}, files={"items": ("a.txt", b"hi")},
                        headers={"Origin": "http://localhost:3000"})  # fmt: skip
        assert r.status_code == 403 and "its host and port must be the server's" in r.json()["error"]
        for site in ("cross-site", "same-site"):  # no Origin, but the browser says the request is foreign
            r = client.delete("/identities/ann", headers={"Sec-Fetch-Site": site})
            assert r.status_code == 403 and f"Sec-Fetch-Site '{site}'" in r.json()["error"], r.text
        assert not gallery.exists()
        r = client.post("/enroll", json=ENROLL, headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200, r.text
