"""parse_url, RequestSpec.wire and parse_header: what goes on the wire, and every refusal."""

from __future__ import annotations

import pytest

from perflab import __version__
from perflab.errors import UsageError
from perflab.load.http.request import RequestSpec, parse_header
from perflab.load.http.url import Origin, Target, parse_url


@pytest.mark.parametrize(
    ("url", "origin", "path"),
    [
        ("http://example.com", Origin("http", "example.com", 80), "/"),
        ("https://example.com/", Origin("https", "example.com", 443), "/"),
        (
            "HTTP://Example.COM:8080/a/b?x=1&y=2#frag",
            Origin("http", "example.com", 8080),
            "/a/b?x=1&y=2",
        ),
        ("http://127.0.0.1:65535/", Origin("http", "127.0.0.1", 65535), "/"),
        ("http://[::1]:8080/p", Origin("http", "::1", 8080), "/p"),
        ("http://h/caf\u00e9?q=\u00e9", Origin("http", "h", 80), "/caf%C3%A9?q=%C3%A9"),
        ("http://h/already%20encoded", Origin("http", "h", 80), "/already%20encoded"),
        ("http://b\u00fccher.example/", Origin("http", "xn--bcher-kva.example", 80), "/"),
        ("http://h?only=query", Origin("http", "h", 80), "/?only=query"),
    ],
)
def test_parse_url_accepts(url: str, origin: Origin, path: str) -> None:
    target = parse_url(url)
    assert target == Target(origin, path)


@pytest.mark.parametrize(
    ("origin", "header", "text"),
    [
        (Origin("http", "h", 80), "h", "http://h"),
        (Origin("https", "h", 443), "h", "https://h"),
        (Origin("https", "h", 80), "h:80", "https://h:80"),
        (Origin("http", "::1", 8080), "[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origin_host_header_omits_default_port(origin: Origin, header: str, text: str) -> None:
    assert origin.netloc_header == header
    assert str(origin) == text
    assert Target(origin, "/x").url == f"{text}/x"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("example.com/path", "URL 'example.com/path' has no scheme; expected http:// or https://"),
        ("localhost:8080", "URL 'localhost:8080' has no scheme"),
        ("ftp://example.com/", "URL 'ftp://example.com/' has scheme 'ftp'; expected http or https"),
        ("http:///path", "URL 'http:///path' has no host"),
        ("http://:8080/", "URL 'http://:8080/' has no host"),
        ("http://h:abc/", "URL 'http://h:abc/' has bad port 'abc'; expected an integer 1-65535"),
        ("http://h:0/", "has bad port '0'; expected an integer 1-65535"),
        ("http://h:65536/", "has bad port '65536'"),
        ("http://h:/", "has an empty port after ':'"),
        ("http://exa mple.com/", "URL 'http://exa mple.com/' contains a space; percent-encode it"),
        ("http://h/a b", "contains a space; percent-encode it (a space is %20)"),
        (" http://h/", "contains a space"),
        ("http://h/\tx", "contains control character '\\t'"),
        ("http://user:pw@h/", "contains credentials; pass them as a header instead"),
        ("http://[::1/", "is not a valid URL"),
        ("http://[zz::1]/", "URL 'http://[zz::1]/' is not a valid URL: 'zz::1' does not appear"),
        ("http://[::1]x/", "has text after the IPv6 address: 'x'"),
        ("http://" + "\u00e4" * 70 + "/", "has a host that is not a valid name"),
        ("http://a$b/", "has a host with characters not allowed in a name: 'a$b'"),
    ],
)
def test_parse_url_refuses_with_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_url(url)
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_wire_get_has_host_and_user_agent_and_nothing_else() -> None:
    spec = RequestSpec(target=parse_url("http://h:8080/p?q=1"))
    assert spec.method == "GET"
    assert (
        spec.wire()
        == (
            f"GET /p?q=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: perflab/{__version__}\r\n\r\n"
        ).encode()
    )


def test_wire_post_with_body_headers_and_positional_fields() -> None:
    target = parse_url("https://api.example/items")
    spec = RequestSpec("POST", target, (("Content-Type", "application/json"),), b'{"a":1}', "add")
    assert spec.label == "add"
    assert spec.wire() == (
        b"POST /items HTTP/1.1\r\nHost: api.example\r\n"
        b"User-Agent: perflab/" + __version__.encode() + b"\r\nContent-Length: 7\r\n"
        b'Content-Type: application/json\r\n\r\n{"a":1}'
    )


def test_wire_keeps_caller_host_user_agent_and_matching_length() -> None:
    spec = RequestSpec(
        "PUT",
        parse_url("http://h/"),
        (("host", "other"), ("User-Agent", "me"), ("Content-Length", "2")),
        b"hi",
    )
    wire = spec.wire()
    assert wire.count(b"Host") + wire.count(b"host") == 1
    assert b"host: other\r\n" in wire and b"User-Agent: me\r\n" in wire
    assert wire.count(b"perflab/") == 0 and wire.count(b"Content-Length") == 1
    assert wire.endswith(b"\r\n\r\nhi")


def test_wire_empty_post_sends_zero_length_but_get_does_not() -> None:
    target = parse_url("http://h/")
    assert b"Content-Length: 0\r\n" in RequestSpec("POST", target).wire()
    assert b"Content-Length" not in RequestSpec("DELETE", target).wire()
    assert RequestSpec("HEAD", target).label == "HEAD /"


def test_request_spec_needs_a_target() -> None:
    with pytest.raises(TypeError, match="target"):
        RequestSpec()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "GE T"}, "HTTP method 'GE T' is not valid; expected a token"),
        ({"method": ""}, "HTTP method '' is not valid"),
        ({"headers": (("Bad Name", "v"),)}, "header name 'Bad Name' has characters not allowed"),
        ({"headers": (("", "v"),)}, "header with value 'v' has an empty name"),
        ({"headers": (("X", "a\r\nInjected: 1"),)}, "header 'X' has a value with a line break"),
        (
            {"headers": (("Transfer-Encoding", "chunked"),)},
            "header 'Transfer-Encoding' cannot be set",
        ),
        (
            {"headers": (("Content-Length", "5"),), "body": b"hi"},
            "header 'Content-Length: 5' does not match the body (2 bytes)",
        ),
    ],
)
def test_request_spec_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        RequestSpec(target=parse_url("http://h/"), **kwargs)  # type: ignore[arg-type]
    assert message in info.value.message


def test_wire_refuses_non_latin1_header() -> None:
    spec = RequestSpec(target=parse_url("http://h/"), headers=(("X-Name", "\u4e2d"),))
    with pytest.raises(UsageError, match="not Latin-1"):
        spec.wire()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Accept: */*", ("Accept", "*/*")),
        ("X-Trace:abc", ("X-Trace", "abc")),
        ("  Authorization :  Bearer t:o:k  ", ("Authorization", "Bearer t:o:k")),
        ("X-Empty;", ("X-Empty", "")),
        ("X-Empty:", ("X-Empty", "")),
    ],
)
def test_parse_header_accepts(text: str, expected: tuple[str, str]) -> None:
    assert parse_header(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no colon here", "header 'no colon here' is not in the form 'Name: value'"),
        (": value", "header ': value' has an empty name"),
        ("Bad Name: v", "header name 'Bad Name' has characters not allowed in a header name"),
        ("X: a\nb", "header 'X' has a value with a line break or NUL"),
        ("X: a\x00b", "has a value with a line break or NUL"),
    ],
)
def test_parse_header_refuses(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_header(text)
    assert message in info.value.message
