"""The open-model scheduler on a fake clock: when requests are released, dropped, counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perflab.load.executors import EARLY_NS, OpenExecutor, Work
from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.recorder import Recorder, hist_from_state

MS = 1_000_000


class FakeLoop:
    def __init__(self) -> None:
        self.soon: list[Callable[[], None]] = []

    def call_soon(self, cb: Callable[..., None], *args: Any) -> None:
        self.soon.append(lambda: cb(*args))


class FakeTimer:
    def __init__(self, loop: Any, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.deadline: int | None = None
        self.precise = True
        self.closed = False

    def arm(self, deadline_ns: int) -> None:
        self.deadline = deadline_ns

    def close(self) -> None:
        self.closed = True


class FakePool:
    def __init__(self) -> None:
        self.submitted: list[tuple[int, Callable[[Exchange], None], Exchange]] = []
        self.grow: list[bool] = []
        self.clock = 0

    def submit(
        self,
        wire: bytes,
        on_done: Callable[[Exchange], None],
        *,
        keep_body: bool = False,
        exchange: Exchange | None = None,
        grow: bool = True,
    ) -> None:
        """Like ``ConnectionPool.submit``: fills the caller's exchange when it gives one."""
        self.submitted.append((self.clock, on_done, exchange or Exchange()))
        self.grow.append(grow)


class Harness:
    def __init__(self, offsets_ms: list[float], max_inflight: int = 100) -> None:
        self.now = 0
        self.loop = FakeLoop()
        self.pool = FakePool()
        self.rec = Recorder(corrected=True)
        self.finished = False
        self.timers: list[FakeTimer] = []

        def make_timer(loop: Any, cb: Callable[[], None]) -> FakeTimer:
            timer = FakeTimer(loop, cb)
            self.timers.append(timer)
            return timer

        self.ex = OpenExecutor(
            self.loop,  # type: ignore[arg-type]
            self.pool,  # type: ignore[arg-type]
            Work([("GET /", b"GET / HTTP/1.1\r\n\r\n")]),
            self.rec,
            iter([int(o * MS) for o in offsets_ms]),
            t0_ns=1000 * MS,
            max_inflight=max_inflight,
            on_finished=self._finished,
            clock=lambda: self.now,
            timer=make_timer,
        )

    def _finished(self) -> None:
        self.finished = True

    def advance_to(self, t_ms: float) -> None:
        """Move the clock, firing the timer and draining call_soon spins like a loop would."""
        target = 1000 * MS + int(t_ms * MS)
        timer = self.timers[0]
        while True:
            if self.loop.soon:  # a spin turn: each costs the loop ~10 µs of time
                if self.now >= target:
                    break
                self.now = min(self.now + 10_000, target)
                self.pool.clock = self.now
                self.loop.soon.pop(0)()
                continue
            if timer.closed or timer.deadline is None or timer.deadline > target:
                break
            self.now = max(self.now, timer.deadline)
            timer.deadline = None
            self.pool.clock = self.now
            timer.callback()
        self.now = target


def test_sleeps_until_just_before_due_then_releases_on_time() -> None:
    h = Harness([0.0, 5.0, 10.0])
    h.now = 999 * MS
    h.ex.start()
    assert h.timers[0].deadline == 1000 * MS - EARLY_NS
    h.advance_to(20.0)
    released_at = [t for t, _, _ in h.pool.submitted]
    # woken EARLY_NS before each due time, then spun in 10 µs turns: released within a turn
    for got, due in zip(released_at, [1000 * MS, 1005 * MS, 1010 * MS], strict=True):
        assert 0 <= got - due < 10_000
    assert all(lag < 10 for lag in h.rec.sched_lag)
    assert h.finished


def test_late_generator_releases_everything_due_and_records_lag() -> None:
    h = Harness([0.0, 1.0, 2.0, 3.0])
    h.now = 1002 * MS + 200_000  # the loop was blocked: three arrivals are overdue
    h.ex.start()
    h.timers[0].callback()
    assert len(h.pool.submitted) == 3
    assert h.rec.sched_lag == [2200, 1200, 200]
    # Over 250 µs late, the generator is behind: those wait for a connection to free up.
    assert h.pool.grow == [False, False, True]


def test_max_inflight_drops_instead_of_queueing() -> None:
    h = Harness([0.0, 1.0, 2.0, 3.0, 4.0], max_inflight=2)
    h.now = 999 * MS
    h.ex.start()
    h.advance_to(2.5)
    assert len(h.pool.submitted) == 2 and h.rec.names["GET /"].dropped == 1
    _t, on_done, ex = h.pool.submitted[0]
    ex.status, ex.start_ns, ex.sent_ns = 200, 1002 * MS, 1002 * MS
    ex.first_byte_ns, ex.done_ns = 1003 * MS, 1004 * MS
    on_done(ex)  # a slot frees up: the next arrival goes out
    h.advance_to(4.5)
    assert len(h.pool.submitted) == 3 and h.rec.names["GET /"].dropped == 2
    interval = h.rec.names["GET /"]
    interval.spill()
    # timed from the arrival's intended start (t0 = 1 s), not from when it was sent
    assert interval.h_latency.max == 4000 and interval.h_service.max == 2000


def test_stop_at_the_end_counts_overdue_arrivals_as_dropped() -> None:
    h = Harness([0.0, 1.0, 2.0, 3.0, 50.0])
    h.now = 999 * MS
    h.ex.start()
    h.advance_to(0.5)
    h.ex.stop(drop_due_before_ns=1010 * MS)
    assert len(h.pool.submitted) == 1
    assert h.rec.names["GET /"].dropped == 3  # due at 1, 2, 3 ms; the one at 50 ms was not due
    assert h.timers[0].closed


def _complete(h: Harness, index: int) -> None:
    """Finish the index-th submitted request now, as the connection would."""
    _t, on_done, ex = h.pool.submitted[index]
    ex.status, ex.start_ns, ex.sent_ns = 200, h.now - 50_000, h.now - 50_000
    ex.first_byte_ns = ex.done_ns = h.now
    on_done(ex)


def test_a_response_releases_the_arrival_that_fell_due_while_it_was_handled() -> None:
    h = Harness([0.0, 1.0, 2.0, 3.0])
    h.now = 999 * MS
    h.ex.start()
    h.advance_to(0.5)
    assert len(h.pool.submitted) == 1
    # The loop is busy with a burst of responses: the spin turn has not come back, but the
    # arrivals at 1 and 2 ms are due. Each response hands over one of them, on time-ish.
    h.now = 1002 * MS + 100_000
    _complete(h, 0)
    assert len(h.pool.submitted) == 2 and h.rec.sched_lag[-1] == 1100
    _complete(h, 1)
    assert len(h.pool.submitted) == 3 and h.rec.sched_lag[-1] == 100
    _complete(h, 2)  # nothing else is due: nothing more goes out from a response
    assert len(h.pool.submitted) == 3
    h.advance_to(3.5)  # the scheduler's own turn still releases the rest
    assert len(h.pool.submitted) == 4 and h.finished


def test_plain_successes_are_batched_and_their_records_reused_others_are_not() -> None:
    """A plain success goes to the batch (seven integers) and its record serves a later
    arrival; a failed exchange or one on a new connection is recorded one by one and never
    reused (its error and connection figures must not leak into the next request)."""
    h = Harness([0.0, 1.0, 2.0, 3.0, 4.0])
    h.now = 999 * MS
    h.ex.start()
    h.advance_to(0.5)
    _complete(h, 0)  # plain: batched, record handed back
    first = h.pool.submitted[0][2]
    h.advance_to(1.5)
    assert h.pool.submitted[1][2] is first
    assert first.first_byte_ns == 0 and first.bytes_in == 0  # cleared for its next use
    _t, on_done, failed = h.pool.submitted[1]
    failed.error, failed.done_ns = ErrorKind.RESET, h.now
    on_done(failed)
    h.advance_to(2.5)
    assert h.pool.submitted[2][2] is not failed
    _t, on_done, fresh = h.pool.submitted[2]
    fresh.new_connection, fresh.connect_ns = True, 20_000
    fresh.status, fresh.start_ns, fresh.sent_ns = 200, h.now - 50_000, h.now - 30_000
    fresh.first_byte_ns = fresh.done_ns = h.now
    on_done(fresh)
    h.advance_to(3.5)
    assert h.pool.submitted[3][2] is not fresh

    iv = h.rec.names["GET /"]
    assert len(iv.raw_open) == 7  # only the plain success waits in the batch
    assert iv.requests == 2 and iv.errors == {"reset": 1} and iv.new_connections == 1
    payload = h.rec.flush()[0]["GET /"]
    assert payload["requests"] == 3 and payload["ok"] == 2
    # Both timed responses are timed from their intended starts (0 and 2 ms): 500 µs each.
    latency = hist_from_state(payload["latency"])
    assert latency.count == 2 and latency.max == latency.min == 500
