"""The HTTP adapter of the authoritative-check port, against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.identity_verification.adapters.authority_http import HttpIdentityAuthority
from services.identity_verification.ports import AuthorityUnavailable

pytestmark = pytest.mark.integration


class Authority(BaseHTTPRequestHandler):
    """Answers by the name or token it is sent; remembers what it saw."""

    seen: list[tuple[str, dict[str, Any], str | None]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, body, self.headers.get("Authorization")))
        key = body.get("full_name") or body.get("token")
        status, answer = {
            "match": (200, {"match": True}),
            "nomatch": (200, {"match": False}),
            "valid": (200, {"valid": True}),
            "down": (503, {}),
            "throttled": (429, {}),
            "refused": (401, {}),
            "garbled": (200, {"something": "else"}),
        }[key]
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Authority)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


async def test_answers_are_read_from_the_authority_with_the_bearer_token(server: str) -> None:
    authority = HttpIdentityAuthority(server, "tok-123")
    try:
        assert await authority.name_matches_id("match", "11010519491231002X") is True
        assert await authority.name_matches_id("nomatch", "11010519491231002X") is False
        assert await authority.network_token_valid("valid") is True
    finally:
        await authority.aclose()
    path, body, auth = Authority.seen[0]
    assert path == "/v1/name-id-checks"
    assert body == {"full_name": "match", "id_card_number": "11010519491231002X"}
    assert auth == "Bearer tok-123"


@pytest.mark.parametrize("name", ["down", "throttled"])
async def test_server_errors_and_throttling_mean_the_authority_is_unavailable(server: str, name: str) -> None:
    authority = HttpIdentityAuthority(server, "tok")
    try:
        with pytest.raises(AuthorityUnavailable):
            await authority.name_matches_id(name, "x")
    finally:
        await authority.aclose()


async def test_an_unreachable_authority_is_unavailable() -> None:
    authority = HttpIdentityAuthority("http://127.0.0.1:9", "tok", timeout_s=1)
    try:
        with pytest.raises(AuthorityUnavailable):
            await authority.network_token_valid("valid")
    finally:
        await authority.aclose()


@pytest.mark.parametrize("name", ["refused", "garbled"])
async def test_a_refused_request_or_a_garbled_answer_is_an_error_not_a_verdict(
    server: str, name: str
) -> None:
    authority = HttpIdentityAuthority(server, "tok")
    try:
        with pytest.raises(RuntimeError):
            await authority.name_matches_id(name, "x")
    finally:
        await authority.aclose()
