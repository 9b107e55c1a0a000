"""A per-user cookie jar: what a browser session needs, without ``http.cookiejar``'s weight.

``http.cookiejar`` wants urllib request objects and does policy work per request; a load
test with thousands of users needs a few dict operations. Rules kept (RFC 6265, simplified):
host-only vs domain cookies, path prefix, ``Secure``, expiry by ``Max-Age``/``Expires``,
deletion by an expired or empty-``Max-Age`` cookie. The jar lives as long as its user.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie


class _Cookie:
    __slots__ = ("domain", "expires", "host_only", "path", "secure", "value")

    def __init__(
        self, value: str, domain: str, host_only: bool, path: str, secure: bool, expires: float
    ) -> None:
        self.value = value
        self.domain = domain
        self.host_only = host_only
        self.path = path
        self.secure = secure
        self.expires = expires  # 0 = session cookie


class CookieJar:
    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}  # (domain, path, name)

    def __len__(self) -> int:
        return len(self._cookies)

    def __bool__(self) -> bool:
        return bool(self._cookies)

    def set(self, name: str, value: str, *, host: str, path: str = "/") -> None:
        """Set a cookie by hand (e.g. from test data), host-only."""
        self._cookies[(host, path, name)] = _Cookie(value, host, True, path, False, 0.0)

    def get(self, name: str) -> str | None:
        for (_domain, _path, key), cookie in self._cookies.items():
            if key == name:
                return cookie.value
        return None

    def clear(self) -> None:
        self._cookies.clear()

    def update_from(self, set_cookie_values: list[str], host: str, request_path: str) -> None:
        """Store the cookies of a response's ``Set-Cookie`` headers."""
        now = time.time()
        for raw in set_cookie_values:
            try:
                parsed = SimpleCookie()
                parsed.load(raw)
            except CookieError:
                continue  # a malformed cookie is ignored, as browsers do
            for name, morsel in parsed.items():
                domain = morsel["domain"].lstrip(".").lower()
                if domain and not (host == domain or host.endswith("." + domain)):
                    continue  # a server may not set cookies for another site
                path = morsel["path"] or _default_path(request_path)
                expires = _expiry(morsel["max-age"], morsel["expires"], now)
                key = (domain or host, path, name)
                if expires is not None and expires <= now:
                    self._cookies.pop(key, None)
                    continue
                self._cookies[key] = _Cookie(
                    morsel.value,
                    domain or host,
                    not domain,
                    path,
                    bool(morsel["secure"]),
                    expires or 0.0,
                )

    def header(self, host: str, path: str, *, secure: bool) -> str:
        """The ``Cookie`` header value for a request, or "" when no cookie applies."""
        if not self._cookies:
            return ""
        now = time.time()
        parts = []
        expired = []
        for key, c in self._cookies.items():
            if c.expires and c.expires <= now:
                expired.append(key)
                continue
            if c.host_only:
                if host != c.domain:
                    continue
            elif not (host == c.domain or host.endswith("." + c.domain)):
                continue
            if c.secure and not secure:
                continue
            if not _path_matches(path, c.path):
                continue
            parts.append(f"{key[2]}={c.value}")
        for key in expired:
            del self._cookies[key]
        return "; ".join(parts)


def _default_path(request_path: str) -> str:
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.count("/") <= 1:
        return "/"
    return path[: path.rfind("/")]


def _path_matches(request_path: str, cookie_path: str) -> bool:
    path = request_path.split("?", 1)[0]
    if path == cookie_path or cookie_path == "/":
        return True
    return path.startswith(cookie_path) and (
        cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    )


def _expiry(max_age: str, expires: str, now: float) -> float | None:
    if max_age:
        try:
            return now + int(max_age)
        except ValueError:
            return None
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return None
    return None
