"""Flame graphs in a real browser: the pages perflab writes, drawn by headless Chromium, offline.

Each page is checked three ways: the DOM after its script ran (``<body>`` says it rendered,
how many frames it drew and how many match the search in the URL fragment; the matching
frames are highlighted elements), the console (no JavaScript errors), and a screenshot (a
real image, not a blank page). The matched share the page computes in JavaScript is compared
with the same share computed here from the stacks.
"""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.browser import chromium, console_errors, needs_chromium, png_size_and_variety

from perflab.profile.diff import render_diff_flamegraph
from perflab.profile.flamegraph import render_flamegraph

pytestmark = [pytest.mark.slow, needs_chromium]
Stacks = dict[tuple[str, ...], int]


def profile(seed: int, hot: float, distinct: int = 2000) -> Stacks:
    """A web app's profile as py-spy folds it: a hot loop, request handling, I/O, a long tail."""
    rng = random.Random(seed)
    root = ("<module> (app.py:80)", "serve_forever (socketserver.py:233)", "main (app.py:70)")
    stacks: Stacks = {}
    while len(stacks) < distinct:
        kind = rng.random()
        if kind < hot:
            stack = (*root, "compute (app.py:30)", f"hot_loop (app.py:{rng.choice([12, 13, 14])})")
        elif kind < 0.55:
            stack = (*root, "handle (server.py:22)", f"parse (parser.py:{rng.randint(10, 40)})")
            if rng.random() < 0.5:
                stack += ("tokenize (lexer.py:5)", "re._compile (re/__init__.py:280)")
        elif kind < 0.8:
            stack = (*root, "handle (server.py:22)", "render (tmpl.py:60)", "escape (m.py:9)")
        elif kind < 0.92:
            stack = (*root, "flush (io.py:3)", "write", "__libc_write")
        else:
            stack = (*root, f"helper_{rng.randint(0, 3000)} (misc.py:{rng.randint(1, 99)})")
        stacks[stack] = stacks.get(stack, 0) + rng.randint(1, 20)
    return stacks


class Page(HTMLParser):
    """``<body>``'s attributes and every drawn frame: its classes, style and label."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.frames: list[dict[str, str]] = []
        self.table_rows = 0
        self._open: dict[str, str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "body":
            self.body = dict(attrs)
        elif tag == "div" and "f" in a.get("class", "").split():
            self._open = {"class": a["class"], "style": a["style"], "i": a["data-i"], "text": ""}
            self.frames.append(self._open)
        elif tag == "tr":
            self.table_rows += 1

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._open = None


def drawn(page: Path, tmp_path: Path, fragment: str = "") -> Page:
    dumped = chromium(page.as_uri() + fragment, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    parsed = Page(dumped.stdout)
    assert parsed.body.get("data-failed") == "0", parsed.body
    assert parsed.body.get("data-rendered") == "1", parsed.body
    assert int(parsed.body["data-frames"] or 0) == len(parsed.frames) > 0
    return parsed


def shot(page: Path, tmp_path: Path, fragment: str = "") -> int:
    png = tmp_path / f"{page.stem}.png"
    taken = chromium(
        page.as_uri() + fragment, tmp_path, f"--screenshot={png}", "--window-size=1200,800"
    )
    assert taken.returncode == 0 and png.exists(), taken.stderr[-2000:]
    assert console_errors(taken.stderr) == []
    width, height, variety = png_size_and_variety(png)
    assert (width, height) == (1200, 800)
    return variety


@pytest.fixture(scope="module")
def stacks() -> Stacks:
    return profile(seed=1, hot=0.12)


def test_flame_graph_searches_highlights_and_draws(stacks: Stacks, tmp_path: Path) -> None:
    page = tmp_path / "flame.html"
    page.write_text(
        render_flamegraph(stacks, title="app.py", meta={"command": "python app.py"}), "utf-8"
    )
    parsed = drawn(page, tmp_path, "#search=hot_loop")
    hits = [f for f in parsed.frames if "match" in f["class"].split()]
    assert len(hits) == int(parsed.body["data-matched"] or 0) >= 1
    assert all("background:#e600e6" in f["style"] for f in hits)
    assert any(f["text"].startswith("hot") for f in hits)
    assert not any("hot_loop" in f["text"] for f in parsed.frames if f not in hits)
    total = sum(stacks.values())
    matched = sum(c for s, c in stacks.items() if any("hot_loop" in f for f in s))
    assert float(parsed.body["data-matched-share"] or -1) == pytest.approx(
        matched / total, abs=2e-6
    )
    assert parsed.body["data-matched-share-max"] == parsed.body["data-matched-share"]

    variety = shot(page, tmp_path, "#search=hot_loop")
    assert variety > 60, "the screenshot is (nearly) blank"


def test_regex_search_over_frames_too_narrow_to_draw(stacks: Stacks, tmp_path: Path) -> None:
    """helper_N frames are each far below 0.1 %: none is drawn, yet the share is exact for one."""
    page = tmp_path / "tail.html"
    page.write_text(render_flamegraph(stacks, title="tail"), "utf-8")
    one = min((c, s[-1]) for s, c in stacks.items() if s[-1].startswith("helper_"))[1]
    parsed = drawn(page, tmp_path, "#search=" + quote(f"^{re.escape(one)}$", safe=""))
    assert parsed.body["data-matched"] == "0"
    expected = sum(c for s, c in stacks.items() if one in s)
    share = float(parsed.body["data-matched-share"] or -1)
    assert share == pytest.approx(expected / sum(stacks.values()), abs=2e-6) and share > 0
    every = drawn(page, tmp_path, "#search=helper_%5B0-9%5D%2B")  # helper_[0-9]+
    low = float(every.body["data-matched-share"] or -1)
    high = float(every.body["data-matched-share-max"] or -1)
    expected = sum(c for s, c in stacks.items() if any(f.startswith("helper_") for f in s))
    assert low - 1e-6 <= expected / sum(stacks.values()) <= high + 1e-6  # 6 digits in the DOM


def test_icicle_puts_the_root_on_top(stacks: Stacks, tmp_path: Path) -> None:
    page = tmp_path / "icicle.html"
    page.write_text(render_flamegraph(stacks, title="t", orientation="icicle"), "utf-8")
    root_top = [
        re.search(r"top:(\d+)px", f["style"]).group(1)  # type: ignore[union-attr]
        for f in drawn(page, tmp_path).frames
        if f["i"] == "0"
    ]
    assert root_top == ["0"]
    flame = drawn(page, tmp_path, "#orientation=flame")
    assert flame.body["data-orientation"] == "flame"
    tops = {f["i"]: int(re.search(r"top:(\d+)px", f["style"]).group(1)) for f in flame.frames}  # type: ignore[union-attr]
    assert tops["0"] == max(tops.values()) > 0


def test_differential_flame_graph_in_the_browser(stacks: Stacks, tmp_path: Path) -> None:
    cand = profile(seed=2, hot=0.3)
    page = tmp_path / "diff.html"
    page.write_text(render_diff_flamegraph(stacks, cand, title="before → after"), "utf-8")
    parsed = drawn(page, tmp_path, "#search=hot_loop")
    assert parsed.body["data-mode"] == "diff"
    hits = [f for f in parsed.frames if "match" in f["class"].split()]
    assert len(hits) == int(parsed.body["data-matched"] or 0) == 1  # lines merged: one frame
    plain = drawn(page, tmp_path)
    compute = [f for f in plain.frames if f["text"].startswith("compute")]
    assert compute and "background:#ff" in compute[0]["style"]  # grew: red
    assert plain.table_rows > 5
    variety = shot(page, tmp_path)
    assert variety > 60, "the screenshot is (nearly) blank"


INTERACT = """<script>
(function () {
  var body = document.body, chart = document.getElementById("fg-chart");
  var hot = Array.prototype.find.call(chart.querySelectorAll(".f"), function (el) {
    return el.textContent.indexOf("compute") === 0;
  });
  var box = hot.getBoundingClientRect();
  var at = {bubbles: true, clientX: box.left + 2, clientY: box.top + 2};
  hot.dispatchEvent(new MouseEvent("mousemove", at));
  var tip = document.getElementById("fg-tip");
  body.setAttribute("data-test-tip", tip.hidden ? "hidden" : tip.textContent);
  hot.click();
  body.setAttribute("data-test-crumbs", document.getElementById("fg-crumbs").textContent);
  var search = document.getElementById("fg-search");
  search.value = "parse|tokenize";
  search.dispatchEvent(new Event("input"));
  setTimeout(function () { body.setAttribute("data-test-hash", location.hash); }, 400);
})();
</script>
</body>"""


def test_hover_zoom_and_typing_a_search(stacks: Stacks, tmp_path: Path) -> None:
    page = tmp_path / "interact.html"
    html = render_flamegraph(stacks, title="t").replace("</body>", INTERACT)
    page.write_text(html, "utf-8")
    parsed = drawn(page, tmp_path)
    tip = parsed.body["data-test-tip"] or ""
    assert tip.startswith("computeapp.py:30") and "total: " in tip and "self: 0 samples" in tip
    assert (parsed.body["data-test-crumbs"] or "").endswith("main\u203acompute")
    zoom = parsed.body["data-zoom"]
    assert zoom not in (None, "0")
    widths = [f["style"] for f in parsed.frames if f["i"] == zoom]
    assert widths and "width:100.0000%" in widths[0]
    assert parsed.body["data-test-hash"] == "#search=parse%7Ctokenize"
    assert parsed.body["data-matched"] == "0"  # zoomed into compute: no parse below it
    assert float(parsed.body["data-matched-share"] or 0) > 0.2


def test_a_broken_page_says_so(stacks: Stacks, tmp_path: Path) -> None:
    html = render_flamegraph(stacks, title="t")
    page = tmp_path / "broken.html"
    page.write_text(re.sub(r'(id="fg-data">)\{', r"\1{broken", html, count=1), "utf-8")
    dumped = chromium(page, tmp_path, "--dump-dom")
    assert any("perflab:" in line for line in console_errors(dumped.stderr))
    parsed = Page(dumped.stdout)
    assert parsed.body["data-failed"] == "1" and parsed.body["data-rendered"] == "0"
    assert "could not be drawn" in dumped.stdout
