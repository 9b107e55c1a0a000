"""Running a scenario file inside one worker: virtual users as tasks on the worker's loop.

:class:`ScriptRuntime` drives every scenario of the file with the interface the worker
expects of an executor (``start``, ``stop``, ``inflight``, ``vus``). Closed scenarios keep a
number of looping users that follows their stages; open scenarios start iterations on the
arrival schedule (the engine's :class:`~perflab.load.executors.OpenExecutor`), each on a
free user of the scenario, and time the iteration from its *intended* start.

A task that raises is counted (per ``UserType.task`` and exception type, first traceback
kept) and the user carries on with its next iteration. A unique feeder running out ends the
run cleanly with that reason.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from perflab.load.arrivals import ArrivalSchedule, target_at, vu_share
from perflab.load.executors import OpenExecutor, Work
from perflab.load.h2 import H2Pool
from perflab.load.http.pool import ConnectionPool
from perflab.load.http.url import Origin, Target
from perflab.load.recorder import Recorder
from perflab.load.script.api import User, UserType
from perflab.load.script.feeders import FeederExhausted
from perflab.load.script.loader import import_script
from perflab.load.script.session import Session
from perflab.model.script import ScenarioSpec
from perflab.model.spec import RunSpec

_NS = 1_000_000_000
SCALE_EVERY_S = 0.1


class _VU:
    """One virtual user: its user object, session, and the task that runs it."""

    __slots__ = ("number", "retired", "session", "task", "type", "user", "wake")

    def __init__(self, utype: UserType, user: User, session: Session, number: int) -> None:
        self.type = utype
        self.user = user
        self.session = session
        self.number = number
        self.retired = False
        self.task: asyncio.Task[None] | None = None
        self.wake: asyncio.Future[None] | None = None

    def retire(self) -> None:
        self.retired = True
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)  # cut its think time short


class ScriptRuntime:
    precise = None

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        spec: RunSpec,
        recorder: Recorder,
        *,
        worker: int,
        workers: int,
        t0_ns: int,
        make_pool: Callable[[Origin], ConnectionPool],
        make_h2: Callable[[Origin], H2Pool],
        on_finished: Callable[[], None],
    ) -> None:
        assert spec.script is not None
        self.loop = loop
        self.recorder = recorder
        self.shared_connections = spec.load.connections is not None
        self.wire_cache: dict[tuple[Any, ...], tuple[Target, bytes]] = {}
        self.t0 = t0_ns
        self.worker, self.workers = worker, workers
        self.base_url = spec.script.base_url
        self._make_pool = make_pool
        self._pools: dict[Origin, ConnectionPool] = {}
        self.http2 = spec.script.http2
        self.tls_insecure, self.ca_file = spec.insecure, spec.ca_file
        self._make_h2 = make_h2
        self._h2: dict[Origin, H2Pool] = {}
        self._on_finished = on_finished
        self._numbers = itertools.count()
        loaded = import_script(spec.script.path, worker=worker, workers=workers)
        self.scenarios: list[_Scenario] = [
            (_OpenScenario if sc.open else _ClosedScenario)(self, sc, loaded.users)
            for sc in spec.script.scenarios
        ]
        self.stopped = False
        self._finished = False

    # ---- the executor interface ----------------------------------------------------------
    def start(self) -> None:
        for scenario in self.scenarios:
            scenario.schedule()

    def stop(self, **_: Any) -> None:
        if self.stopped:
            return
        self.stopped = True
        for scenario in self.scenarios:
            scenario.stop()

    @property
    def inflight(self) -> int:
        """Iterations running; after ``stop``, users not yet wound down (incl. on_stop)."""
        if self.stopped:
            return sum(len(s.tasks) for s in self.scenarios)
        return sum(s.inflight for s in self.scenarios)

    @property
    def vus(self) -> int:
        return sum(s.live for s in self.scenarios)

    async def aclose(self) -> None:
        """Cancel users still running after the grace period; close their connections."""
        tasks = [t for s in self.scenarios for t in s.tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for scenario in self.scenarios:
            await scenario.close_sessions()

    # ---- services for scenarios and sessions ---------------------------------------------
    def pool(self, origin: Origin) -> ConnectionPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = self._make_pool(origin)
        return pool

    def h2(self, origin: Origin) -> H2Pool:
        """The worker's HTTP/2 pool for ``origin``: every user's streams share it."""
        pool = self._h2.get(origin)
        if pool is None:
            pool = self._h2[origin] = self._make_h2(origin)
        return pool

    def next_number(self) -> int:
        return next(self._numbers)

    def scenario_done(self) -> None:
        if not self._finished and all(s.done for s in self.scenarios):
            self._finished = True
            self._on_finished()

    def exhausted(self, exc: FeederExhausted) -> None:
        if self.recorder.script.stop_reason is None:
            self.recorder.script.stop_reason = str(exc)
        self.stop()
        if not self._finished:
            self._finished = True
            self._on_finished()


class _Scenario:
    """What open and closed scenarios share: users, their types, and one iteration."""

    def __init__(self, rt: ScriptRuntime, spec: ScenarioSpec, users: dict[str, UserType]) -> None:
        self.rt = rt
        self.spec = spec
        self.types = [users[name] for name, _w in spec.users]
        self._cycle = _smooth_cycle([w for _n, w in spec.users])
        self._picked = itertools.count(rt.worker)  # workers start at different places
        self._rng = random.Random(f"{spec.name}:{rt.worker}")
        self.iter_name = f"{spec.name} (iteration)"
        self.tasks: set[asyncio.Task[None]] = set()
        self.sessions: list[Session] = []
        self.inflight = 0
        self.live = 0
        self.done = False
        self.stopping = False

    @property
    def start_ns(self) -> int:
        return self.rt.t0 + int(self.spec.start_s * _NS)

    def schedule(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def pick_type(self) -> UserType:
        """User types in exact weight proportions, evenly interleaved (3:1 -> A A B A ...),
        so even a handful of users has the mix the weights ask for."""
        if len(self.types) == 1:
            return self.types[0]
        cycle = self._cycle
        return self.types[cycle[next(self._picked) % len(cycle)]]

    def new_user(self, utype: UserType) -> _VU:
        user = utype.cls()
        user.number = self.rt.next_number()
        base = utype.cls.base_url or self.rt.base_url
        session = Session(self.rt, base, utype.cls.headers)
        self.sessions.append(session)
        return _VU(utype, user, session, user.number)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self.rt.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def hook(self, vu: _VU, name: str) -> bool:
        """Run one method of the user (a task, flow, on_start or on_stop); an exception is
        counted under ``UserType.method`` and the user carries on."""
        try:
            await getattr(vu.user, name)(vu.session)
            return True
        except FeederExhausted as exc:
            self.rt.exhausted(exc)
        except Exception as exc:
            self.rt.recorder.exception(f"{vu.type.name}.{name}", exc)
        return False

    async def iteration(self, vu: _VU) -> bool:
        utype = vu.type
        if utype.flow:
            where = "flow"
        elif len(utype.tasks) == 1:
            where = utype.tasks[0][0]
        else:
            where = self._pick_task(utype)
        return await self.hook(vu, where)

    def _pick_task(self, utype: UserType) -> str:
        total = sum(w for _n, w in utype.tasks)
        point = self._rng.random() * total
        for name, weight in utype.tasks:
            point -= weight
            if point < 0:
                return name
        return utype.tasks[-1][0]

    async def close_sessions(self) -> None:
        for session in self.sessions:
            await session.aclose()


class _ClosedScenario(_Scenario):
    def __init__(self, rt: ScriptRuntime, spec: ScenarioSpec, users: dict[str, UserType]) -> None:
        super().__init__(rt, spec, users)
        self.vus: list[_VU] = []
        load = spec.load
        self.budget = (
            None if load.iterations is None else vu_share(load.iterations, rt.worker, rt.workers)
        )
        self.started = 0

    def schedule(self) -> None:
        delay = max(0.0, (self.start_ns - time.monotonic_ns()) / _NS)
        self.rt.loop.call_later(delay, self._scale)

    def _scale(self) -> None:
        if self.stopping:
            return
        load = self.spec.load
        elapsed = (time.monotonic_ns() - self.start_ns) / _NS
        if elapsed >= load.duration_s:
            self.stop()
            return
        total = int(target_at(load.start, load.stages, elapsed) + 1e-9)
        self._scale_to(vu_share(total, self.rt.worker, self.rt.workers))
        # the last tick lands on the deadline itself, so no iteration starts after it
        self.rt.loop.call_later(min(SCALE_EVERY_S, load.duration_s - elapsed), self._scale)

    def _scale_to(self, target: int) -> None:
        live = [vu for vu in self.vus if not vu.retired]
        for vu in live[target:]:
            vu.retire()
        for _ in range(target - len(live)):
            vu = self.new_user(self.pick_type())
            self.vus.append(vu)
            vu.task = self.spawn(self._run(vu))

    async def _run(self, vu: _VU) -> None:
        self.live += 1
        try:
            await self.hook(vu, "on_start")
            think, pacing = vu.type.think, vu.type.pacing_s
            rng = random.Random(f"{self.spec.name}:{self.rt.worker}:{vu.number}")
            end_ns = self.start_ns + int(self.spec.load.duration_s * _NS)
            while not vu.retired and time.monotonic_ns() < end_ns:
                if self.budget is not None:
                    if self.started >= self.budget:
                        self._budget_spent()
                        break
                    self.started += 1
                began = time.monotonic_ns()
                self.inflight += 1
                try:
                    ok = await self.iteration(vu)
                finally:
                    self.inflight -= 1
                ended = time.monotonic_ns()
                self.rt.recorder.group(self.iter_name, "iteration").add(
                    (ended - began) // 1000, failed=not ok
                )
                if pacing is not None:
                    delay = pacing - (ended - began) / _NS
                else:
                    delay = think(rng) if think is not None else 0.0
                if delay > 0 and not vu.retired:
                    await self._sleep(vu, delay)
                elif not ok:
                    await asyncio.sleep(0)  # a failing task must not starve the loop
        finally:
            self.live -= 1
            if vu in self.vus:
                self.vus.remove(vu)
        await self.hook(vu, "on_stop")

    async def _sleep(self, vu: _VU, delay: float) -> None:
        wake = vu.wake = self.rt.loop.create_future()
        handle = self.rt.loop.call_later(delay, _resolve, wake)
        try:
            await wake
        finally:
            handle.cancel()
            vu.wake = None

    def _budget_spent(self) -> None:
        if not self.stopping:
            self.rt.loop.call_soon(self.stop)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for vu in self.vus:
            vu.retire()
        if not self.tasks:
            self._mark_done()
        else:
            for task in list(self.tasks):
                task.add_done_callback(lambda _t: self._mark_done() if not self.tasks else None)

    def _mark_done(self) -> None:
        if not self.done:
            self.done = True
            self.rt.scenario_done()


def _smooth_cycle(weights: list[int]) -> list[int]:
    """Smooth weighted round-robin (as nginx balances upstreams): indices in proportion to
    ``weights``, spread out rather than in runs."""
    current = [0] * len(weights)
    total = sum(weights)
    out = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=current.__getitem__)
        current[best] -= total
        out.append(best)
    return out


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Arrivals(OpenExecutor):
    """The engine's open-model clock, starting a scenario iteration per arrival."""

    def __init__(self, scenario: _OpenScenario, max_inflight: int, offsets: Any) -> None:
        rt = scenario.rt
        super().__init__(
            rt.loop,
            None,  # type: ignore[arg-type]  # no pool: iterations send their own requests
            Work([(scenario.iter_name, b"")]),
            rt.recorder,
            offsets,
            t0_ns=scenario.start_ns,
            max_inflight=max_inflight,
            on_finished=scenario.finished_schedule,
        )
        self._scenario = scenario

    def _launch(self, due: int, grow: bool) -> None:
        """``grow`` is not passed on: an iteration's requests go through the users' pools."""
        self._scenario.launch(due)

    def _drop(self) -> None:
        self._rec.group(self._scenario.iter_name, "iteration").dropped += 1

    def iteration_done(self) -> None:
        self.inflight -= 1


class _OpenScenario(_Scenario):
    def __init__(self, rt: ScriptRuntime, spec: ScenarioSpec, users: dict[str, UserType]) -> None:
        super().__init__(rt, spec, users)
        self.max_vus = max(1, vu_share(spec.load.max_inflight, rt.worker, rt.workers))
        self.arrivals: _Arrivals | None = None  # made at start, when the run's t0 is known
        self.idle: dict[str, list[_VU]] = {t.name: [] for t in self.types}
        self.users: list[_VU] = []

    def schedule(self) -> None:
        load, rt = self.spec.load, self.rt
        offsets = ArrivalSchedule(load.start, load.stages).share(
            rt.worker, rt.workers, limit=load.iterations
        )
        self.arrivals = _Arrivals(self, self.max_vus, offsets)
        self.arrivals.start()
        end_ns = self.start_ns + int(self.spec.load.duration_s * _NS)
        delay = max(0.0, (end_ns - time.monotonic_ns()) / _NS)
        self.rt.loop.call_later(delay, self.stop)

    def launch(self, due: int) -> None:
        utype = self.pick_type()
        idle = self.idle[utype.name]
        fresh = not idle
        vu = idle.pop() if idle else self.new_user(utype)
        if fresh:
            self.users.append(vu)
            self.live += 1
        self.inflight += 1
        self.spawn(self._iterate(vu, due, fresh))

    async def _iterate(self, vu: _VU, due: int, fresh: bool) -> None:
        try:
            if fresh:
                await self.hook(vu, "on_start")
            ok = await self.iteration(vu)
            self.rt.recorder.group(self.iter_name, "iteration").add(
                (time.monotonic_ns() - due) // 1000, failed=not ok
            )
        finally:
            self.inflight -= 1
            if self.arrivals is not None:
                self.arrivals.iteration_done()
            if not self.stopping:
                self.idle[vu.type.name].append(vu)
            elif not self.inflight:
                self.spawn(self._wind_down())

    def finished_schedule(self) -> None:
        if not self.stopping:
            self.rt.loop.call_soon(self.stop)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        end_ns = self.start_ns + int(self.spec.load.duration_s * _NS)
        if self.arrivals is not None:
            self.arrivals.stop(drop_due_before_ns=min(end_ns, time.monotonic_ns()))
        if not self.inflight:
            self.spawn(self._wind_down())

    async def _wind_down(self) -> None:
        """Every user this scenario created gets its on_stop, then the scenario is done."""
        users, self.users = self.users, []
        for vu in users:
            await self.hook(vu, "on_stop")
        self.live = 0
        if not self.done:
            self.done = True
            self.rt.scenario_done()
