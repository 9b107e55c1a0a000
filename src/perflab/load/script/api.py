"""What a scenario file is written with: user types, tasks, think time, scenarios.

A virtual user is an instance of a :class:`User` subclass. Each iteration runs either its
``flow`` method (a sequential journey) or one ``@task`` picked by weight; then the user waits
its think time, or until its pacing interval is up. Tasks are coroutines: a request is
``await s.get(...)`` on the user's :class:`~perflab.load.script.session.Session`, so one
process runs thousands of users on the engine's event loop without threads.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from perflab.errors import UsageError
from perflab.model.units import parse_duration

if TYPE_CHECKING:
    from perflab.load.script.session import Session

TaskFn = Callable[[Any, "Session"], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])


def task(weight: int | F = 1) -> Any:
    """Mark a coroutine method as a task; ``@task`` or ``@task(3)`` (three times as often)."""
    if callable(weight):
        weight.__perflab_task__ = 1  # type: ignore[attr-defined]
        return weight
    if not isinstance(weight, int) or weight < 1:
        raise UsageError(f"@task weight must be a positive integer, got {weight!r}")

    def mark(fn: F) -> F:
        fn.__perflab_task__ = weight  # type: ignore[attr-defined]
        return fn

    return mark


class ThinkTime:
    """Seconds to wait between iterations; drawn per iteration from a per-user RNG."""

    def __init__(self, describe: str, draw: Callable[[random.Random], float]) -> None:
        self.describe = describe
        self._draw = draw

    def __call__(self, rng: random.Random) -> float:
        return max(0.0, self._draw(rng))

    def __repr__(self) -> str:
        return self.describe


def _seconds(value: str | float, what: str) -> float:
    return parse_duration(value, what=what) if isinstance(value, str) else float(value)


def constant(seconds: str | float) -> ThinkTime:
    s = _seconds(seconds, "think time")
    return ThinkTime(f"constant({s:g}s)", lambda _rng: s)


def uniform(low: str | float, high: str | float) -> ThinkTime:
    lo, hi = _seconds(low, "think time"), _seconds(high, "think time")
    if hi < lo:
        raise UsageError(f"uniform think time: high ({hi:g}s) is below low ({lo:g}s)")
    return ThinkTime(f"uniform({lo:g}s, {hi:g}s)", lambda rng: rng.uniform(lo, hi))


def exponential(mean: str | float) -> ThinkTime:
    """Memoryless think time (a Poisson stream of iterations per user)."""
    m = _seconds(mean, "think time")
    if m <= 0:
        raise UsageError("exponential think time needs a positive mean")
    return ThinkTime(f"exponential(mean {m:g}s)", lambda rng: rng.expovariate(1.0 / m))


class User:
    """Subclass per user type. Class attributes configure it:

    - ``weight``: share of the scenario's users (or arrivals) of this type;
    - ``think_time``: a :class:`ThinkTime` (``uniform(1, 3)``) or seconds, after each iteration;
    - ``pacing``: start an iteration every N seconds (``"5s"``) whatever the think time;
    - ``base_url``: overrides the run's base URL for this type;
    - ``headers``: sent with every request of this type.

    Methods: ``async on_start(self, s)`` once per user, ``async on_stop(self, s)`` at the end,
    and either ``async flow(self, s)`` (one iteration = the whole journey, in order) or
    methods marked ``@task(weight)`` (one iteration = one task picked by weight).
    Instance attributes are the user's own state (tokens, ids, feeder rows).
    """

    weight: ClassVar[int] = 1
    think_time: ClassVar[ThinkTime | float | None] = None
    pacing: ClassVar[str | float | None] = None
    base_url: ClassVar[str | None] = None
    headers: ClassVar[dict[str, str]] = {}

    number: int  # this user's number in its worker (0, 1, ...), set by the runtime

    async def on_start(self, s: Session) -> None:
        """Runs once, before the user's first iteration."""

    async def on_stop(self, s: Session) -> None:
        """Runs once, when the user is retired or the run ends."""


@dataclass(frozen=True, slots=True)
class UserType:
    """A user class as the runtime sees it: its tasks and weights resolved once."""

    cls: type[User]
    tasks: tuple[tuple[str, int], ...]  # (method name, weight)
    flow: bool
    think: ThinkTime | None
    pacing_s: float | None

    @property
    def name(self) -> str:
        return self.cls.__name__

    @classmethod
    def of(cls, user: type[User]) -> UserType:
        if not (isinstance(user, type) and issubclass(user, User)):
            raise UsageError(f"{user!r} is not a User subclass")
        tasks = []
        for attr in dir(user):
            weight = getattr(getattr(user, attr, None), "__perflab_task__", None)
            if weight is not None:
                tasks.append((attr, int(weight)))
        has_flow = callable(getattr(user, "flow", None))
        if has_flow and tasks:
            raise UsageError(f"user {user.__name__} has both flow() and @task methods; pick one")
        if not has_flow and not tasks:
            raise UsageError(
                f"user {user.__name__} has nothing to do: define 'async def flow(self, s)' "
                "or methods marked @task"
            )
        if not isinstance(user.weight, int) or user.weight < 1:
            raise UsageError(f"user {user.__name__}: weight must be a positive integer")
        think = user.think_time
        if think is not None and not isinstance(think, ThinkTime):
            think = constant(float(think))
        pacing = None if user.pacing is None else _seconds(user.pacing, "pacing")
        if pacing is not None and pacing <= 0:
            raise UsageError(f"user {user.__name__}: pacing must be positive")
        return cls(user, tuple(sorted(tasks)), has_flow, think, pacing)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One workload of a run, like a k6 scenario: its users and its own executor.

    Give ``vus`` (closed model: that many users loop) or ``rate`` (open model: iterations
    start at that rate, each on a free user), optionally ``stages`` to ramp either,
    ``duration``, ``iterations``, a ``start`` offset into the run, and ``max_vus`` (open
    model: iterations beyond that many concurrent users are dropped and counted).
    """

    name: str
    users: tuple[type[User], ...] | list[type[User]] | type[User]
    vus: int | None = None
    rate: str | float | None = None
    duration: str | float | None = None
    stages: str | None = None
    iterations: int | None = None
    start: str | float = 0.0
    max_vus: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def user_types(self) -> tuple[type[User], ...]:
        users = self.users
        if isinstance(users, type):
            return (users,)
        return tuple(users)
