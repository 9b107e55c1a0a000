"""The dashboard's pages and JSON API over a seeded catalog, through a real server."""

from __future__ import annotations

import json
import re

from tests.unit.ui.conftest import fetch
from tests.unit.ui.ui_seed import SECRETS, Seeded


def _run_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f]+)"', html)


def test_run_list_shows_the_stored_runs_newest_first(base_url: str, seeded: Seeded) -> None:
    page = fetch(base_url + "/")
    assert page.status == 200
    assert _run_ids(page.text) == list(reversed(seeded.ids))
    assert 'src="/static/plotly.min.js"' in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_run_list_filters_by_name_tag_and_date(base_url: str, seeded: Seeded) -> None:
    assert _run_ids(fetch(base_url + "/?name=search").text) == [seeded.ids[2]]
    assert _run_ids(fetch(base_url + "/?tag=env%3Dci").text) == [seeded.ids[1], seeded.ids[0]]
    assert _run_ids(fetch(base_url + "/?tag=env%3Dnope").text) == []
    assert _run_ids(fetch(base_url + "/?since=2026-01-02&until=2026-01-31").text) == [seeded.ids[1]]
    assert _run_ids(fetch(base_url + "/?until=2026-01-01").text) == [seeded.ids[0]]
    bad = fetch(base_url + "/?since=yesterday")
    assert bad.status == 400 and "expected YYYY-MM-DD" in bad.text


def test_api_lists_runs_as_json_without_local_paths(base_url: str, seeded: Seeded) -> None:
    reply = fetch(base_url + "/api/runs?name=checkout&limit=1")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    runs = json.loads(reply.text)["runs"]
    assert [r["id"] for r in runs] == [seeded.ids[1]]
    assert runs[0]["tags"] == {"env": "ci"} and "path" not in runs[0]
    assert fetch(base_url + "/api/runs?tag=broken").status == 400


def test_run_page_has_the_report_charts_and_loads_plotly_once(
    base_url: str, seeded: Seeded
) -> None:
    page = fetch(base_url + f"/runs/{seeded.ids[0][:6]}")
    assert page.status == 200
    figures = re.search(r'id="perflab-figures">(.*?)</script>', page.text, re.S)
    assert figures is not None
    drawn = json.loads(figures.group(1))
    assert {"throughput", "latency", "spectrum", "p99_by_name"} <= drawn.keys()
    assert len(drawn["throughput"]["data"][0]["x"]) == 12  # one point per stored second
    for name in drawn:
        assert f'data-figure="{name}"' in page.text
    assert len(page.text) < 400_000  # plotly.js is served, not inlined
    assert "Download report" in page.text


def test_no_secret_reaches_any_page(base_url: str, seeded: Seeded) -> None:
    a, b = seeded.ids[0], seeded.ids[1]
    paths = ["/", f"/runs/{a}", f"/api/runs/{a}", f"/compare?base={a}&candidate={b}"]
    paths += ["/api/runs", "/trends?name=checkout", f"/runs/{a}/report.html"]
    for path in paths:
        reply = fetch(base_url + path)
        assert reply.status == 200, (path, reply.text[:300])
        for secret in SECRETS:
            assert secret not in reply.text, (path, secret)
    assert "[redacted]" in fetch(base_url + f"/runs/{a}").text


def test_compare_page_shows_verdicts_with_intervals(base_url: str, seeded: Seeded) -> None:
    a, b = seeded.ids[0], seeded.ids[1]
    page = fetch(base_url + f"/compare?base={a}&candidate={b}")
    assert page.status == 200
    assert 'data-figure="forest"' in page.text and "95% CI" in page.text
    assert re.search(r"NO SIGNIFICANT CHANGE|REGRESSED|IMPROVED", page.text)
    assert page.text.count('<td class="name">all requests</td>') == 6  # p50..rps


def test_picking_two_runs_makes_the_older_the_base(base_url: str, seeded: Seeded) -> None:
    a, b = seeded.ids[0], seeded.ids[1]
    reply = fetch(base_url + f"/compare?run={b}&run={a}")
    assert reply.status == 303
    assert reply.headers["location"] == f"/compare?base={a}&candidate={b}"
    one = fetch(base_url + f"/compare?run={a}")
    assert one.status == 400 and "pick two runs" in one.text


def test_trends_plot_p99_and_throughput_per_run(base_url: str, seeded: Seeded) -> None:
    page = fetch(base_url + "/trends?name=checkout")
    figures = json.loads(re.search(r'id="perflab-figures">(.*?)</script>', page.text, re.S)[1])
    p99 = figures["trend_latency"]["data"][0]
    assert p99["name"] == "p99" and p99["customdata"] == [seeded.ids[0], seeded.ids[1]]
    assert all(isinstance(v, float) and v > 0 for v in p99["y"])
    rps = figures["trend_throughput"]["data"][0]["y"]
    assert rps == [80.0, 80.0]  # 2 names x 40/s in every seeded run


def test_unknown_run_is_a_404_page(base_url: str) -> None:
    reply = fetch(base_url + "/runs/ffffff")
    assert reply.status == 404 and "no run &#39;ffffff&#39;" in reply.text
    assert fetch(base_url + "/api/runs/ffffff").status == 404


def test_plotly_is_served_from_the_installed_package(base_url: str) -> None:
    reply = fetch(base_url + "/static/plotly.min.js")
    assert reply.status == 200 and len(reply.text) > 1_000_000
    assert "javascript" in reply.headers["content-type"]
    assert fetch(base_url + "/static/live.js").status == 200
