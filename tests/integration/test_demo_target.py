"""The demo shop over real HTTP, served by a real subprocess on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from perflab.demo import DemoTarget, serve
from perflab.errors import TargetError, UsageError


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    target: DemoTarget,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    form: bool = False,
    headers: dict[str, str] | None = None,
) -> Reply:
    sent = dict(headers or {})
    data: bytes | None = None
    if body is not None:
        data = urlencode(body).encode() if form else json.dumps(body).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
    try:
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def login(target: DemoTarget, user: str = "user1") -> str:
    reply = call(target, "POST", "/login", {"username": user, "password": "secret"})
    assert reply.status == 200, reply.body
    token: str = reply.json()["token"]
    return token


@pytest.fixture(scope="module")
def target() -> Iterator[DemoTarget]:
    with DemoTarget(port=0) as running:
        yield running


def test_url_names_the_loopback_port_it_listens_on(target: DemoTarget) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", target.url)
    assert target.port == urlsplit(target.url).port != 0


def test_health_and_house_headers(target: DemoTarget) -> None:
    reply = call(target, "GET", "/health", headers={"X-Request-Id": "req-42"})
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}
    assert reply.headers["Server"] == "perflab-demo"
    assert reply.headers["X-Request-Id"] == "req-42"
    assert reply.headers["Content-Type"] == "application/json"


def test_unknown_route_is_a_json_404(target: DemoTarget) -> None:
    reply = call(target, "GET", "/nowhere")
    assert reply.status == 404
    assert "error" in reply.json()


def test_login_accepts_json_and_forms(target: DemoTarget) -> None:
    token = login(target, "user7")
    form = call(target, "POST", "/login", {"username": "user7", "password": "secret"}, form=True)
    assert form.status == 200
    assert len(token) >= 20
    assert form.json()["token"] != token


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "user1", "password": "wrong"},
        {"username": "user101", "password": "secret"},
        {"username": "nobody", "password": "secret"},
    ],
)
def test_login_with_bad_credentials_is_401(target: DemoTarget, credentials: dict[str, str]) -> None:
    assert call(target, "POST", "/login", credentials).status == 401


def test_login_with_a_bad_body_is_400(target: DemoTarget) -> None:
    assert call(target, "POST", "/login", {"username": "user1"}).status == 400
    assert call(target, "POST", "/login", {"username": 1, "password": "secret"}).status == 400
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
    try:
        conn.request("POST", "/login", body=b"{not json", headers={"Content-Type": "text/json"})
        assert conn.getresponse().status == 400
    finally:
        conn.close()


def test_items_pages_through_the_catalogue(target: DemoTarget) -> None:
    first = call(target, "GET", "/items").json()
    assert first["page"] == 1
    assert first["total"] == 200
    assert [item["id"] for item in first["items"]] == list(range(1, 21))
    third = call(target, "GET", "/items?page=3&per_page=7").json()
    assert [item["id"] for item in third["items"]] == list(range(15, 22))
    assert set(third["items"][0]) == {"id", "name", "price", "stock"}
    assert call(target, "GET", "/items?page=20&per_page=100").json()["items"] == []


@pytest.mark.parametrize("query", ["page=0", "page=-1", "per_page=0", "per_page=101", "page=x"])
def test_items_out_of_bounds_is_400(target: DemoTarget, query: str) -> None:
    assert call(target, "GET", f"/items?{query}").status == 400


def test_item_by_id_and_unknown_item(target: DemoTarget) -> None:
    item = call(target, "GET", "/items/42").json()
    assert item["id"] == 42
    assert item["price"] > 0
    assert call(target, "GET", "/items/201").status == 404
    assert call(target, "GET", "/items/99999999999999999999999").status == 404


def test_cart_needs_a_valid_token(target: DemoTarget) -> None:
    no_token = call(target, "POST", "/cart", {"item_id": 1, "qty": 1})
    assert no_token.status == 401
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    assert call(target, "GET", "/cart", token="not-a-token").status == 401
    assert call(target, "POST", "/checkout", token="not-a-token").status == 401


def test_shopping_journey_buys_and_decrements_stock(target: DemoTarget) -> None:
    token = login(target, "user3")
    before = call(target, "GET", "/items/7").json()
    added = call(target, "POST", "/cart", {"item_id": 7, "qty": 3}, token=token)
    assert added.status == 201
    call(target, "POST", "/cart", {"item_id": 9, "qty": "1"}, token=token, form=True)

    cart = call(target, "GET", "/cart", token=token).json()
    assert [(line["item_id"], line["qty"]) for line in cart["items"]] == [(7, 3), (9, 1)]
    item9 = call(target, "GET", "/items/9").json()
    assert cart["total"] == pytest.approx(3 * before["price"] + item9["price"])

    order = call(target, "POST", "/checkout", token=token)
    assert order.status == 201
    assert order.json()["total"] == cart["total"]
    assert isinstance(order.json()["order_id"], int)
    assert call(target, "GET", "/items/7").json()["stock"] == before["stock"] - 3
    assert call(target, "GET", "/cart", token=token).json() == {"items": [], "total": 0.0}


def test_carts_belong_to_the_session_not_the_user(target: DemoTarget) -> None:
    first, second = login(target, "user4"), login(target, "user4")
    call(target, "POST", "/cart", {"item_id": 2, "qty": 1}, token=first)
    assert call(target, "GET", "/cart", token=second).json()["items"] == []


def test_checkout_of_an_empty_cart_is_409(target: DemoTarget) -> None:
    reply = call(target, "POST", "/checkout", token=login(target))
    assert reply.status == 409


def test_cart_refuses_unknown_items_and_more_than_the_stock(target: DemoTarget) -> None:
    token = login(target, "user5")
    stock = call(target, "GET", "/items/11").json()["stock"]
    assert call(target, "POST", "/cart", {"item_id": 999, "qty": 1}, token=token).status == 404
    too_many = call(target, "POST", "/cart", {"item_id": 11, "qty": stock + 1}, token=token)
    assert too_many.status == 409
    assert call(target, "POST", "/cart", {"item_id": 11, "qty": 0}, token=token).status == 400


def test_search_latency_has_a_long_tail(target: DemoTarget) -> None:
    def timed(_: int) -> float:
        started = time.perf_counter()
        reply = call(target, "GET", "/search?q=mug")
        assert reply.status == 200
        assert reply.json()["count"] == 10
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=8) as pool:
        latencies = sorted(pool.map(timed, range(200)))
    p50, p99 = latencies[99], latencies[197]
    assert 0.003 < p50 < 0.05
    assert p99 > 3 * p50
    assert latencies[-1] < 1.5


def test_search_needs_a_query(target: DemoTarget) -> None:
    assert call(target, "GET", "/search").status == 400


def test_recommendations_fail_a_small_fraction(target: DemoTarget) -> None:
    statuses = []
    for _ in range(500):
        reply = call(target, "GET", "/recommendations")
        statuses.append(reply.status)
        if reply.status == 200:
            assert len(reply.json()["items"]) == 4
    assert set(statuses) == {200, 503}
    assert 0.005 <= statuses.count(503) / len(statuses) <= 0.05


def test_module_prints_one_ready_line_and_exits_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab.demo.target", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+\n", line)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == ""
    assert err == ""


def test_non_loopback_hosts_are_refused() -> None:
    with pytest.raises(UsageError, match="loopback"):
        DemoTarget(host="0.0.0.0")
    with pytest.raises(UsageError, match="loopback"):
        serve("example.com", 0)
    done = subprocess.run(
        [sys.executable, "-m", "perflab.demo.target", "--host", "192.168.1.10"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "loopback" in done.stderr


def test_stop_ends_the_process() -> None:
    demo = DemoTarget(port=0)
    with pytest.raises(RuntimeError):
        _ = demo.url
    with demo:
        pid = demo.pid
        os.kill(pid, 0)  # alive
    assert demo.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_target_that_cannot_start_raises_with_its_stderr() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(TargetError, match=r"cannot listen on 127\.0\.0\.1"),
            DemoTarget(port=port),
        ):
            pass
