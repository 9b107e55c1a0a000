"""Headless Chromium for the tests that check pages in a real browser.

Chromium runs offline (every host name resolves to nothing unless ``loopback``), so a page
that needed the network stays empty. Helpers: run it, read the console errors it logged, parse
the plotly charts drawn in the dumped DOM, and check a screenshot is a real image.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


def chromium(
    page: Path | str, tmp: Path, *extra: str, loopback: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a file or URL, offline; ``loopback`` lets 127.0.0.1 through."""
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if loopback else ""),
        "--virtual-time-budget=8000",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *extra, page.as_uri() if isinstance(page, Path) else page],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def console_errors(stderr: str) -> list[str]:
    """Console lines that report an error: uncaught exceptions, console.error, ours."""
    lines = [line for line in stderr.splitlines() if ":CONSOLE" in line]
    return [
        line
        for line in lines
        if "uncaught" in line.lower() or "error" in line.lower() or "perflab:" in line
    ]


class ChartParser(HTMLParser):
    """For each ``[data-figure]`` element: the classes and path data drawn inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []  # (tag, figure it belongs to)
        self.charts: dict[str, dict[str, Any]] = {}
        self.body: dict[str, str | None] = {}
        self.error_classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.body = a
        if any(c == "error" or c.endswith("-error") for c in classes):  # not plotly's "xerror"
            self.error_classes.append(" ".join(classes))
        figure = self.stack[-1][1] if self.stack else None
        if a.get("data-figure"):
            figure = a["data-figure"]
            self.charts[figure] = {"classes": set(), "paths": 0, "traces": 0}
        if figure is not None:
            chart = self.charts[figure]
            chart["classes"].update(classes)
            chart["traces"] += "trace" in classes
            chart["paths"] += tag == "path" and len(a.get("d") or "") > 10
        if tag not in _VOID:
            self.stack.append((tag, figure))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def png_size_and_variety(path: Path) -> tuple[int, int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, len(set(raw))


def check_charts(dom: str) -> ChartParser:
    parsed = ChartParser()
    parsed.feed(dom)
    assert parsed.charts, "no chart containers in the page"
    assert parsed.body.get("data-failed") == "0", parsed.body
    assert parsed.body.get("data-rendered") == str(len(parsed.charts)), parsed.body
    assert parsed.body.get("data-charts") == str(len(parsed.charts))
    for name, chart in parsed.charts.items():
        assert "main-svg" in chart["classes"], f"{name}: plotly drew no SVG"
        assert chart["traces"] and chart["paths"], f"{name}: no plotted traces"
    assert parsed.error_classes == []
    return parsed
