"""``perflab ui`` and ``--ui``: bad binds are usage errors (exit 2, one line) before listening."""

from __future__ import annotations

import socket

import pytest

from perflab.cli.main import main
from perflab.errors import UsageError
from perflab.ui.server import parse_listen


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("perflab: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_ui_refuses_a_network_bind_without_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERFLAB_UI_TOKEN", raising=False)
    assert main(["ui", "--host", "0.0.0.0", "--port", "0"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "--host 0.0.0.0" in line and "--token" in line


def test_run_refuses_ui_on_the_network_without_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, refused_url: str
) -> None:
    monkeypatch.delenv("PERFLAB_UI_TOKEN", raising=False)
    code = main(["run", refused_url, "--duration", "1s", "--ui", "0.0.0.0:0", "--quiet"])
    assert code == 2  # not 3: the bind is refused before the target is tried
    assert "PERFLAB_UI_TOKEN" in _one_line_error(capsys.readouterr().err)


def test_ui_on_a_taken_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    assert "already in use" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8089", ("127.0.0.1", 8089)), (":0", ("127.0.0.1", 0)), ("0.0.0.0:80", ("0.0.0.0", 80))],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected
    assert parse_listen("[::1]:9") == ("::1", 9)


@pytest.mark.parametrize("text", ["", "host:", "x:70000", "::1:80", "eighty"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(UsageError, match="--ui"):
        parse_listen(text)
