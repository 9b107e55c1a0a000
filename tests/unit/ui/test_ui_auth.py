"""Who may read the dashboard: loopback only without a token; with one, every request."""

from __future__ import annotations

import pytest
from tests.unit.ui.conftest import Serve, fetch

from perflab.errors import UsageError
from perflab.ui.auth import COOKIE, check_bind, is_loopback

TOKEN = "s3cret-Token-42"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_network_bind_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(UsageError, match="without a password"):
        check_bind("0.0.0.0", None)
    with pytest.raises(UsageError, match="bad dashboard token"):
        check_bind("0.0.0.0", "short")
    with pytest.raises(UsageError, match="bad dashboard token"):
        check_bind("127.0.0.1", "has a space; and more")


def test_every_request_without_the_token_is_refused(serve: Serve) -> None:
    url = serve(token=TOKEN)
    for path in ("/", "/api/runs", "/static/plotly.min.js", "/api/live/stream", "/nope"):
        reply = fetch(url + path)
        assert reply.status == 401, path
        assert TOKEN not in reply.text
    assert fetch(url + "/", {"Authorization": "Bearer wrong-token-1"}).status == 401
    assert fetch(url + "/?token=wrong-token-1").status == 401
    assert fetch(url + "/", {"Cookie": f"{COOKIE}=wrong-token-1"}).status == 401


def test_bearer_header_lets_scripts_in(serve: Serve) -> None:
    url = serve(token=TOKEN)
    reply = fetch(url + "/api/runs", {"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200 and '"runs"' in reply.text


def test_query_token_becomes_a_cookie_and_leaves_the_url(serve: Serve) -> None:
    url = serve(token=TOKEN)
    reply = fetch(url + f"/?name=checkout&token={TOKEN}")
    assert reply.status == 303
    assert reply.headers["location"] == "/?name=checkout"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = fetch(url + "/?name=checkout", {"Cookie": f"{COOKIE}={TOKEN}"})
    assert page.status == 200 and "checkout" in page.text
    assert TOKEN not in page.text  # no secret in any page, links included


def test_without_a_token_only_loopback_host_names_are_served(base_url: str) -> None:
    assert fetch(base_url + "/", {"Host": "localhost:8089"}).status == 200
    rebound = fetch(base_url + "/", {"Host": "attacker.example:8089"})
    assert rebound.status == 403
