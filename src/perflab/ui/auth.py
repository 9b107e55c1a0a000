"""Who may see the dashboard: loopback by default, a shared token for anything else.

The dashboard shows targets, timings and configurations; on a shared host or a network that is
worth a password. Rules:

- Binding an address other than loopback needs a token (:func:`check_bind`); a dashboard
  open to the network without one is refused before anything listens.
- With a token, every request must carry it: ``Authorization: Bearer T``, a ``?token=T``
  query (the browser link printed at start) or the cookie that query sets. A query token is
  swapped for an HttpOnly cookie and a redirect to the same URL without it, so the secret
  does not linger in the address bar, the history or a ``Referer``. No page ever contains it.
- Without a token (loopback only), the ``Host`` header must name a loopback host, so a web
  page elsewhere cannot read the dashboard by DNS rebinding.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from perflab.errors import UsageError

COOKIE = "perflab_ui_token"
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,}")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, *, flag: str = "--host") -> None:
    """Refuse to serve the dashboard beyond this machine without a token.

    Raises:
        UsageError: ``host`` is not loopback and there is no token, or the token is blank.
    """
    if token is not None and not _TOKEN.fullmatch(token):
        raise UsageError(
            "bad dashboard token: use 8 or more letters, digits or ._~+/=- (it goes in a cookie)",
            hint='e.g. --token "$(openssl rand -hex 16)"',
        )
    if token is None and not is_loopback(host):
        raise UsageError(
            f"{flag} {host} would open the dashboard to the network without a password",
            hint="add --token T (or set PERFLAB_UI_TOKEN), or bind 127.0.0.1",
        )


def _host_of(header: str) -> str:
    """The host name of a ``Host`` header value (port and IPv6 brackets removed)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class TokenMiddleware:
    """ASGI middleware enforcing the rules of the module docstring (HTTP only)."""

    def __init__(self, app: ASGIApp, token: str | None, *, extra_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        self.hosts = _LOOPBACK_NAMES | {h.strip("[]").lower() for h in extra_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token is None:
            host = _host_of(headers.get("host", "127.0.0.1")).lower()
            if host in self.hosts or is_loopback(host):
                await self.app(scope, receive, send)
            else:
                await _plain(send, 403, "forbidden: this dashboard answers to localhost only\n")
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        offered = [v for k, v in query if k == "token"]
        if offered:
            if not self._matches(offered[0]):
                await _unauthorized(send)
                return
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
            await _redirect_with_cookie(send, location, self.token, scope.get("scheme") == "https")
            return
        if self._matches(_bearer(headers.get("authorization", ""))) or self._matches(
            _cookie(headers.get("cookie", ""))
        ):
            await self.app(scope, receive, send)
            return
        await _unauthorized(send)

    def _matches(self, offered: str | None) -> bool:
        if not offered or self.token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())


def _bearer(value: str) -> str | None:
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


def _cookie(value: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(value)
    except Exception:  # a malformed Cookie header is just no cookie
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


async def _plain(
    send: Send, status: int, text: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send) -> None:
    text = (
        "401 unauthorized: this perflab dashboard needs its token. Open the link perflab ui "
        "printed (?token=...), or send 'Authorization: Bearer <token>'.\n"
    )
    await _plain(send, 401, text, ((b"www-authenticate", b'Bearer realm="perflab"'),))


async def _redirect_with_cookie(send: Send, location: str, token: str, secure: bool) -> None:
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    if secure:
        cookie += "; Secure"
    headers = (
        (b"location", location.encode("latin-1")),
        (b"set-cookie", cookie.encode("latin-1")),
        (b"referrer-policy", b"no-referrer"),
    )
    await _plain(send, 303, "see other\n", headers)
