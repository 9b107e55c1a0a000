from perflab.model.redact import REDACTED, redact_headers, redact_text, redact_url


def test_headers() -> None:
    out = dict(
        redact_headers(
            [
                ("Authorization", "Bearer abc"),
                ("Cookie", "s=1"),
                ("X-Session-Id", "zzz"),
                ("Accept", "*/*"),
            ]
        )
    )
    assert out == {
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "X-Session-Id": REDACTED,
        "Accept": "*/*",
    }


def test_urls() -> None:
    assert redact_url("http://bob:hunter2@h:1/x") == f"http://bob:{REDACTED}@h:1/x"
    red = redact_url("http://h/x?access_token=abc&page=2")
    assert "abc" not in red and "page=2" in red
    assert redact_url("http://h/x?page=2") == "http://h/x?page=2"


def test_text() -> None:
    assert redact_text("header Bearer s3cr3t rejected", ["Bearer s3cr3t"]) == (
        f"header {REDACTED} rejected"
    )
