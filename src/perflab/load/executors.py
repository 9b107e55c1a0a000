"""The two ways load is applied inside one worker, both callback-driven on the worker's loop.

:class:`OpenExecutor` releases requests on the arrival schedule, whatever the server does,
and times each from its *intended* start (no coordinated omission). A request that would
exceed ``max_inflight`` is not started and is counted as dropped. It sleeps on a
:class:`~perflab.load.clock.PreciseTimer` armed slightly early and spins the remaining few
tens of microseconds on ``call_soon`` (so I/O keeps flowing); the spin time is accounted so
the self-check can tell busy from spinning.

:class:`ClosedExecutor` runs virtual users: each owns one connection (or, with a connection
cap, they share the capped pool and are timed from before waiting for one) and starts its
next request as soon as the previous one ends; their number follows the stages. When every
user sends the same one request on its own connection, each connection repeats it by itself
(a :class:`~perflab.load.http.connection.Lane`) until the user must decide again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from perflab.load.clock import PreciseTimer
from perflab.load.h2.adapter import H2PoolAdapter
from perflab.load.http.connection import Lane
from perflab.load.http.exchange import Exchange
from perflab.load.http.pool import ConnectionPool, PinnedConnection
from perflab.load.http.request import RequestSpec
from perflab.load.http.url import Origin, Target
from perflab.load.recorder import LAG_SPILL_AT, NameInterval, Recorder
from perflab.model.replay import ReplayEntry

EARLY_NS = 150_000  # wake this early, then spin; idle-loop test here: p99 lag ~25 µs at 20k/s
BEHIND_NS = 250_000
"""An arrival released this late means the generator itself is behind, not the target: it
waits for a connection to free up instead of opening one (so do arrivals released by a
response, see ``_catch_up``), and so does the pool's queue until an arrival leaves on time.
A saturated generator used to open ~930 connections at 100k/s here, each making every
request dearer: 64-68k/s achieved, against 77-81k/s with ~240 connections now (a healthy
20k/s or 50k/s run has its p99 lag near 100 µs: this changes nothing there)."""
OPEN_SPILL = 7 * 160
"""Stage the open model's plain responses after this many integers (160 requests); see
``NameInterval.stage_raw``."""


async def calibrate_spin(loop: asyncio.AbstractEventLoop, rounds: int = 2000) -> float:
    """CPU seconds one empty loop turn costs: spin turns x this = CPU spent spinning."""
    done: asyncio.Future[None] = loop.create_future()
    state = [rounds]

    def turn() -> None:
        state[0] -= 1
        if state[0] > 0:
            loop.call_soon(turn)
        elif not done.done():
            done.set_result(None)

    start = time.process_time()
    loop.call_soon(turn)
    await done
    return (time.process_time() - start) / rounds


Pool = ConnectionPool | H2PoolAdapter


class Work:
    """The request (or rotation of requests) every iteration sends: (name, what the pool
    submits), i.e. HTTP/1.1 wire bytes or an HTTP/2 request's parts."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items
        self._next = 0

    def pick(self) -> tuple[str, Any]:
        if len(self.items) == 1:
            return self.items[0]
        item = self.items[self._next]
        self._next = (self._next + 1) % len(self.items)
        return item


class ReplayWork(Work):
    """Replayed requests in their original order: the executor asks once per arrival.

    Wire bytes are built on demand, one per arrival, so a long log costs no memory up front.
    """

    def __init__(self, entries: tuple[ReplayEntry, ...], origin: Origin) -> None:
        super().__init__([])
        self._entries = entries
        self._origin = origin

    def pick(self) -> tuple[str, Any]:
        entry = self._entries[self._next]
        self._next += 1
        target = Target(self._origin, entry.path)
        return entry.name, RequestSpec(
            entry.method, target, entry.headers, entry.body, entry.name
        ).wire()

    @staticmethod
    def offsets(entries: tuple[ReplayEntry, ...]) -> Iterator[int]:
        return (int(e.offset_s * 1e9) for e in entries)


class _Arrival(Exchange):
    """An exchange that carries its intended start, so completion needs no closure.

    A plain success hands its arrival back for the next one, its timestamps and byte count
    cleared: the pools read zero as "not yet" (HTTP/2 streams for ``start_ns``, ``sent_ns``
    and ``done_ns``; HTTP/1.1 for ``first_byte_ns``); what else a plain success touched is
    overwritten on the way. With the batched recording this took the completion's
    bookkeeping from ~1.0 to ~0.65 µs per request.
    """

    __slots__ = ("due",)
    due: int


class OpenExecutor:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: Pool,
        work: Work,
        recorder: Recorder,
        due_offsets: Iterator[int],
        *,
        t0_ns: int,
        max_inflight: int,
        on_finished: Callable[[], None],
        clock: Callable[[], int] = time.monotonic_ns,
        timer: Callable[[asyncio.AbstractEventLoop, Callable[[], None]], Any] = PreciseTimer,
    ) -> None:
        """``clock`` (ns) and ``timer`` (a PreciseTimer-like factory) are seams for tests."""
        self._loop = loop
        self._pool = pool
        self._work = work
        self._rec = recorder
        self._clock = clock
        self._offsets = due_offsets
        self._t0 = t0_ns
        self._max_inflight = max_inflight
        self._on_finished = on_finished
        self._timer = timer(loop, self._check)
        self.precise = self._timer.precise
        self._due = 0
        self.inflight = 0
        self.stopped = False
        # One request (URL mode): no rotation to pick from, one interval to record into.
        self._single = work.items[0] if type(work) is Work and len(work.items) == 1 else None
        self._interval = recorder.name(self._single[0]) if self._single is not None else None
        self._spare: list[_Arrival] = []
        self._done_cb = self._done_single

    def start(self) -> None:
        if not self._advance():
            self._finish()
            return
        self._timer.arm(self._due - EARLY_NS)

    def stop(self, *, drop_due_before_ns: int | None = None) -> None:
        """Release nothing more; in-flight requests still complete and are recorded.

        With ``drop_due_before_ns`` (the scheduled end of the run), arrivals that were due
        before it but never released, because the generator fell behind, are counted as
        dropped: they were part of the asked-for load and must not vanish silently.
        """
        if self.stopped:
            return
        self.stopped = True
        self._timer.close()
        if drop_due_before_ns is None or not self._due:
            return
        due = self._due
        while due < drop_due_before_ns:
            self._drop()
            if not self._advance():
                break
            due = self._due

    def _advance(self) -> bool:
        offset = next(self._offsets, None)
        if offset is None:
            return False
        self._due = self._t0 + offset
        return True

    def _check(self) -> None:
        if self.stopped:
            return
        now = self._clock()
        if self._due > now:
            self._rec.spin_iters += 1
        elif not self._release_due(now):
            return
        due = self._due
        if due - now <= EARLY_NS:
            self._loop.call_soon(self._check)
        else:
            self._timer.arm(due - EARLY_NS)

    def _release(self, due: int, now: int, grow: bool) -> None:
        if self.inflight >= self._max_inflight:
            self._drop()
            return
        self.inflight += 1
        lags = self._rec.sched_lag
        lags.append((now - due) // 1000)
        if len(lags) >= LAG_SPILL_AT:
            self._rec.spill_lags()
        self._launch(due, grow)

    def _launch(self, due: int, grow: bool) -> None:
        """Start the arrival due at ``due``; it must end with ``inflight -= 1``."""
        if self._single is not None:
            spare = self._spare
            arrival = spare.pop() if spare else _Arrival()
            arrival.due = due
            self._pool.submit(self._single[1], self._done_cb, exchange=arrival, grow=grow)
            return
        name, wire = self._work.pick()
        self._pool.submit(wire, partial(self._done, name, due), grow=grow)

    def _drop(self) -> None:
        """An arrival that could not start (over ``max_inflight``, or left at the end)."""
        name, _wire = self._work.pick()
        self._rec.name(name).dropped += 1

    def _catch_up(self) -> None:
        """Release what fell due while responses were being handled.

        The loop runs every ready socket's callbacks before the next scheduler turn, so after
        a stall of the target (or of our vCPU) the burst of responses that arrives at once
        would hold every due arrival back for the whole burst: ~10 µs per response, 2 ms for
        200. One due arrival is released per response, on the connection that response just
        freed: releasing the whole backlog at the first response would open a new connection
        for each (~100 µs apiece). Nor does that one open a connection (see ``BEHIND_NS``):
        the keep-alive connection just freed takes it, or, when the pool is short of
        connections, it queues behind the others. Measured trade-off: against a target that
        closes every connection it waits for the next connection event instead (2000/s
        here: latency p99 0.49-0.53 -> 0.53-0.67 ms); letting it open one when on time
        instead cost keep-alive runs at 100k/s 10-20 % of their rate (~500 connections).
        Scheduling is left to the pending turn or timer, which releases whatever is left.
        """
        if not self.stopped:
            self._release_due(self._clock(), most=1, grow=False)

    def _release_due(self, now: int, *, most: int = -1, grow: bool = True) -> bool:
        """Release the arrivals due by ``now`` (at most ``most`` when positive); False when
        that ended the schedule. Those over ``BEHIND_NS`` late, or all when ``grow`` is
        False, wait for a connection rather than open one."""
        while self._due <= now and most:
            most -= 1
            due = self._due
            self._release(due, now, grow and now - due < BEHIND_NS)
            if not self._advance():
                self._finish()
                return False
        return True

    def _done(self, name: str, due: int, ex: Exchange) -> None:
        self.inflight -= 1
        self._rec.name(name).add(ex, due, corrected=True)
        if ex.done_ns >= self._due:
            self._catch_up()

    def _done_single(self, ex: Exchange) -> None:
        """Plain successes are kept as seven integers and folded in batches (see
        ``NameInterval.fold_raw``); anything else is recorded one by one."""
        self.inflight -= 1
        arrival: _Arrival = ex  # type: ignore[assignment]  # _launch made it
        done = ex.done_ns
        interval: NameInterval = self._interval  # type: ignore[assignment]  # single: set
        if ex.error is None and not ex.new_connection and not ex.retried:
            raw = interval.raw_open
            raw += (arrival.due, ex.start_ns, ex.sent_ns, ex.first_byte_ns, done, ex.bytes_in,
                    ex.status)  # fmt: skip
            ex.start_ns = ex.sent_ns = ex.first_byte_ns = ex.done_ns = ex.bytes_in = 0
            self._spare.append(arrival)
            if len(raw) >= OPEN_SPILL:
                interval.stage_raw()
            elif interval.staged:
                interval.fold_staged()
        else:
            interval.add(ex, arrival.due, corrected=True)
        if done >= self._due:
            self._catch_up()

    def _finish(self) -> None:
        self.stop()
        self._on_finished()


class _VirtualUser:
    """One closed-model user: the next request goes out from the previous one's callback.

    The hot path avoids per-request work it can: the completion callback is a bound method
    made once, and the interval record is looked up only when the request name changes
    (interval records live for the whole run; the recorder resets them in place).
    """

    __slots__ = ("_conn", "_done_cb", "_exec", "_interval", "_name", "lane", "retired")

    def __init__(
        self, executor: ClosedExecutor, conn: PinnedConnection | Pool, lane: Lane | None = None
    ) -> None:
        self._exec = executor
        self._conn = conn
        self._name = ""
        self._interval: NameInterval | None = None
        self._done_cb = self._done
        self.lane = lane
        self.retired = False

    def go(self) -> None:
        ex = self._exec
        if self.retired or ex.stopped or (ex.budgeted and not ex.take_iteration()):
            ex.vu_exited(self)
            return
        name, wire = ex.work.pick()
        if name != self._name or self._interval is None:
            self._name = name
            self._interval = ex.recorder.name(name)
        ex.inflight += 1
        self._conn.submit(wire, self._done_cb)

    def _done(self, exc: Exchange) -> None:
        ex = self._exec
        ex.inflight -= 1
        # With shared connections a user also waits for one: time that from its submit.
        shared = ex.shared
        self._interval.add(exc, exc.queued_ns, corrected=shared)  # type: ignore[union-attr]
        if exc.error is not None:
            ex.loop.call_soon(self.go)  # never recurse on synchronous failures
        else:
            self.go()

    def retire(self) -> None:
        self.retired = True
        if self.lane is not None:
            self.lane.open = False

    def close(self) -> None:
        if isinstance(self._conn, PinnedConnection):
            self._conn.close()  # a shared pool outlives its users


class ClosedExecutor:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: Pool,
        work: Work,
        recorder: Recorder,
        *,
        iterations: int | None,
        on_finished: Callable[[], None],
        shared_connections: bool = False,
    ) -> None:
        """``shared_connections``: users share the pool's capped connections (``--connections``
        below the number of users) instead of owning one each."""
        self.shared = shared_connections
        self.loop = loop
        self.work = work
        self.recorder = recorder
        self._pool = pool
        self._budget = iterations
        self.budgeted = iterations is not None
        self._on_finished = on_finished
        self._users: list[_VirtualUser] = []
        # One unbudgeted request over pinned connections: each connection may repeat it by
        # itself (a Lane), recording straight into the request's interval.
        self._lanes = (
            not shared_connections
            and iterations is None
            and not recorder.corrected
            and isinstance(pool, ConnectionPool)
            and type(work) is Work
            and len(work.items) == 1
        )
        self.inflight = 0
        self.started = 0
        self.stopped = False

    def start(self) -> None:
        """Users are started by ``scale_to``, which the worker drives from the stages."""

    @property
    def vus(self) -> int:
        return sum(1 for u in self._users if not u.retired)

    def take_iteration(self) -> bool:
        if self._budget is None:
            return True
        if self.started >= self._budget:
            if not self.stopped:
                self.loop.call_soon(self._finish)
            return False
        self.started += 1
        return True

    def scale_to(self, target: int) -> None:
        """Add users now, or retire the newest ones after their current request."""
        live = [u for u in self._users if not u.retired]
        for user in live[target:]:
            user.retire()
        for _ in range(target - len(live)):
            user = self._new_user()
            self._users.append(user)
            self.loop.call_soon(user.go)

    def _new_user(self) -> _VirtualUser:
        if self.shared:
            return _VirtualUser(self, self._pool)
        pool = self._pool
        if not self._lanes or not isinstance(pool, ConnectionPool):
            return _VirtualUser(self, pool.pin())
        interval = self.recorder.name(self.work.items[0][0])
        lane = Lane(interval.raw, interval.spill)
        return _VirtualUser(self, pool.pin(lane), lane)

    def vu_exited(self, user: _VirtualUser) -> None:
        user.close()
        if user in self._users:
            self._users.remove(user)

    def stop(self) -> None:
        self.stopped = True
        for user in self._users:
            if user.lane is not None:
                user.lane.open = False

    @property
    def idle(self) -> bool:
        return self.inflight == 0

    def _finish(self) -> None:
        if not self.stopped:
            self.stop()
            self._on_finished()
