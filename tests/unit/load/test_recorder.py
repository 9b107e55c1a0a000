"""What one second of a worker carries: counts, error kinds, latencies, phases."""

from __future__ import annotations

import pytest

from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.recorder import SPILL_AT, Recorder, hist_from_state

US = 1000


def _ex(*, status: int = 200, error: ErrorKind | None = None, new: bool = False) -> Exchange:
    ex = Exchange(status=status, error=error)
    ex.queued_ns, ex.start_ns = 0, 100 * US
    if new:
        ex.new_connection, ex.connect_ns, ex.tls_ns = True, 50 * US, 20 * US
    ex.sent_ns, ex.first_byte_ns, ex.done_ns = 200 * US, 900 * US, 1000 * US
    ex.bytes_in = 100
    return ex


def test_transport_errors_are_counted_but_not_timed() -> None:
    rec = Recorder(corrected=True)
    iv = rec.name("GET /")
    iv.add(_ex(), 0, corrected=True)
    iv.add(_ex(status=503), 0, corrected=True)
    iv.add(_ex(error=ErrorKind.RESET), 0, corrected=True)
    names, _gen = rec.flush()
    p = names["GET /"]
    assert (p["requests"], p["ok"]) == (3, 1)
    assert p["errors"] == {"http_503": 1, "reset": 1}
    latency = hist_from_state(p["latency"])
    assert latency.count == 2  # both HTTP responses, whatever their status
    assert latency.max == 1000  # from the intended start (0) to done, in µs
    assert hist_from_state(p["service"]).max == 900  # from the connection's start
    assert hist_from_state(p["wait"]).max == 700  # sent -> first byte


def test_phases_split_connection_setup_from_send() -> None:
    rec = Recorder(corrected=False)
    rec.name("x").add(_ex(new=True), 0, corrected=False)
    rec.name("x").add(_ex(), 0, corrected=False)
    p = rec.flush()[0]["x"]
    assert p["new_connections"] == 1
    assert p["phase_us"] == {
        "connect": 50,
        "tls": 20,
        "send": 30 + 100,
        "wait": 1400,
        "receive": 200,
    }
    assert p["latency"] == p["service"]  # closed model: no intended start to correct from


def test_flush_resets_and_spills_keep_every_value() -> None:
    rec = Recorder(corrected=True)
    for _ in range(SPILL_AT * 2 + 7):
        rec.name("x").add(_ex(), 0, corrected=True)
    first = rec.flush()[0]["x"]
    assert hist_from_state(first["latency"]).count == SPILL_AT * 2 + 7
    second = rec.flush()[0]["x"]
    assert second["requests"] == 0 and second["latency"] is None


@pytest.mark.parametrize("open_model", [False, True], ids=["lane", "open"])
def test_raw_rows_fold_exactly_like_add(open_model: bool) -> None:
    """Requests kept as raw rows (a lane's six integers, or the open model's seven with the
    intended start first) give the same payload as the same exchanges passed through
    ``add``, whenever the batch is folded."""
    import numpy as np

    rng = np.random.default_rng(7)
    rows = []
    for i in range(3 * SPILL_AT + 17):
        due = int(rng.integers(0, 10**9))
        start = due + (int(rng.lognormal(10, 2)) if open_model else 0)
        sent = start + int(rng.integers(0, 50 * US))
        first = sent + int(rng.lognormal(12, 1.5))
        done = first + int(rng.integers(0, 900 * US))
        status = int(rng.choice([200, 200, 200, 404, 503]))
        rows.append((due, start, sent, first, done, 13 + i % 5, status))

    via_add, via_raw = Recorder(corrected=open_model), Recorder(corrected=open_model)
    iv_add, iv_raw = via_add.name("r"), via_raw.name("r")
    buffer, width = (iv_raw.raw_open, 7) if open_model else (iv_raw.raw, 6)
    for due, start, sent, first, done, nbytes, status in rows:
        ex = Exchange(status=status, queued_ns=start, start_ns=start, sent_ns=sent)
        ex.first_byte_ns, ex.done_ns, ex.bytes_in = first, done, nbytes
        iv_add.add(ex, due, corrected=open_model)
        row = (due, start, sent, first, done, nbytes, status)
        buffer += row[7 - width :]
        if len(buffer) >= width * 500:
            iv_raw.fold_raw()
    a, b = via_add.flush()[0]["r"], via_raw.flush()[0]["r"]
    assert iv_raw.raw == [] and iv_raw.raw_open == []
    for key in ("requests", "ok", "errors", "bytes_in", "phase_us", "new_connections"):
        assert a[key] == b[key], key
    for key in ("latency", "service", "wait"):
        ha, hb = hist_from_state(a[key]), hist_from_state(b[key])
        assert (ha.count, ha.min, ha.max, ha.sum) == (hb.count, hb.min, hb.max, hb.sum), key
        assert ha == hb, key
    if open_model:  # the intended start really is what latency counts from
        latency, service = hist_from_state(b["latency"]), hist_from_state(b["service"])
        assert latency.sum > service.sum


def test_full_buffers_fold_one_per_request_so_the_loop_never_stalls_on_all_three() -> None:
    rec = Recorder(corrected=True)
    iv = rec.name("r")
    for _ in range(SPILL_AT - 1):
        iv.add(_ex(), 0, corrected=True)
    assert len(iv.service) == len(iv.latency) == len(iv.wait) == SPILL_AT - 1
    sizes = []
    for _ in range(4):
        iv.add(_ex(), 0, corrected=True)
        sizes.append(sorted((len(iv.service), len(iv.latency), len(iv.wait))))
    # each request folds exactly one full buffer, until none is full
    assert sizes[0] == [0, SPILL_AT, SPILL_AT]
    assert sizes[1] == [0, 1, SPILL_AT + 1]
    assert sizes[2] == [0, 1, 2]
    assert sizes[3] == [1, 2, 3]
    p = rec.flush()[0]["r"]
    assert p["requests"] == SPILL_AT + 3
    for key in ("latency", "service", "wait"):
        assert hist_from_state(p[key]).count == SPILL_AT + 3
