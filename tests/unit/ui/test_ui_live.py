"""The live feed: what a running run's page receives each second, from a sink or a directory."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

from tests.synthetic_run import synthetic_run

from perflab.store import RunWriter
from perflab.ui.live import LiveFeed, LiveHub, RunFollower, newest_running, sse_events


def _seconds(n: int) -> tuple[dict[str, Any], list[tuple[int, list[dict[str, Any]], Any]]]:
    doc, intervals, generator = synthetic_run(n, 2, 50, seed=3, errors=False)
    grouped = [
        (second, list(rows), generator[second])
        for second, rows in itertools.groupby(intervals, key=lambda r: r["second"])
    ]
    return doc, grouped


def test_hub_counts_requests_and_sends_only_new_points() -> None:
    doc, seconds = _seconds(4)
    hub = LiveHub()
    assert hub.event(0)[0]["run"] is None
    hub.begin({**doc, "status": "running"})
    for second, rows, gen in seconds[:3]:
        hub.interval(second, rows, gen)
    event, cursor = hub.event(0)
    assert event["active"] and event["run"]["name"] == "synthetic"
    assert event["totals"]["requests"] == 3 * 100
    assert [p["t"] for p in event["points"]] == [0, 1, 2]
    assert all(p["rps"] == 100 and p["p99"] >= p["p50"] > 0 for p in event["points"])
    assert event["generator"]["connections"] == 50
    assert "hunter2" not in json.dumps(event)  # the target is shown redacted
    second, rows, gen = seconds[3]
    hub.interval(second, rows, gen)
    later, _ = hub.event(cursor)
    assert [p["t"] for p in later["points"]] == [3] and later["totals"]["requests"] == 400
    hub.end({**doc, "status": "passed"})
    final, _ = hub.event(cursor)
    assert not final["active"] and final["run"]["status"] == "passed"


def test_hub_never_raises_into_the_engine() -> None:
    hub = LiveHub()
    hub.interval(0, [{"name": "x", "requests": "many"}], {})  # garbage: logged once, swallowed
    assert hub.event(0)[0]["run"] is None


def test_follower_reads_a_run_directory_as_it_is_written(tmp_path: Path) -> None:
    doc, seconds = _seconds(3)
    writer = RunWriter(tmp_path / "run")
    writer.begin({**doc, "status": "running"})
    follower = RunFollower(writer.path, min_interval_s=0.0)
    for second, rows, gen in seconds:
        writer.interval(second, rows, gen)
    writer.update({**doc, "status": "running"})
    event, _ = follower.event(0)
    assert event["active"]
    assert [p["t"] for p in event["points"]] == [0, 1]  # the last second may still grow
    assert event["points"][0]["inflight"] == gen_inflight(seconds[0][2])
    writer.end({**doc, "status": "passed"})
    final, _ = follower.event(0)
    assert not final["active"] and [p["t"] for p in final["points"]] == [0, 1, 2]
    assert final["totals"]["requests"] == 300


def gen_inflight(generator: dict[str, Any]) -> int:
    return int(generator["inflight"])


def test_only_a_recently_written_journal_counts_as_running(tmp_path: Path) -> None:
    run = tmp_path / "a"
    run.mkdir()
    journal = run / "intervals.journal"
    journal.write_text("")
    mtime = journal.stat().st_mtime
    assert newest_running(tmp_path, now=lambda: mtime + 1) == run
    assert newest_running(tmp_path, now=lambda: mtime + 60) is None
    assert newest_running(tmp_path / "missing") is None


def test_stream_sends_one_event_per_tick_then_ends() -> None:
    doc, seconds = _seconds(2)
    feed = LiveFeed()
    feed.begin({**doc, "status": "running"})
    ticks = iter(range(10))

    class Source:
        active = True

        def event(self, since: int = 0) -> tuple[dict[str, Any], int]:
            n = next(ticks)
            if n < len(seconds):
                feed.add_second(*seconds[n])
            else:
                feed.update({**doc, "status": "passed"}, final=True)
            return feed.event(since)

    async def never() -> bool:
        return False

    async def collect() -> list[str]:
        source = Source()
        return [c async for c in sse_events(lambda: source, disconnected=never, tick_s=0.0)]

    chunks = asyncio.run(collect())
    assert chunks[0].startswith("retry:") and chunks[-1].startswith("event: end")
    events = [json.loads(c[len("data: ") :]) for c in chunks[1:-1]]
    assert [e["active"] for e in events] == [True, True, False]
    assert [[p["t"] for p in e["points"]] for e in events] == [[0], [1], []]
