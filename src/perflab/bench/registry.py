"""``@perflab.benchmark``: mark functions of a benchmark file, and find them again.

There is no global registry (no import side effects): the decorator only attaches a
:class:`Benchmark` to the function, and :func:`discover` reads the marked functions of a
loaded module in definition order. A parametrized benchmark expands into one
:class:`BenchCase` per combination of its parameter values.

Call convention: ``setup(**params)`` runs once per worker process, untimed; when it returns
something other than None the benchmark is called as ``fn(state, **params)``, else as
``fn(**params)``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, overload

from perflab.errors import UsageError

__all__ = ["BenchCase", "Benchmark", "benchmark", "discover", "load_file", "params_key"]

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__perflab_benchmark__"


@dataclass(frozen=True)
class Benchmark:
    """What the decorator recorded about one function."""

    name: str
    fn: Callable[..., Any]
    params: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    setup: Callable[..., Any] | None = None

    def cases(self) -> Iterator[BenchCase]:
        keys = list(self.params)
        for combo in itertools.product(*(self.params[k] for k in keys)):
            yield BenchCase(self, dict(zip(keys, combo, strict=True)))


@dataclass(frozen=True)
class BenchCase:
    """One benchmark with one set of parameter values: the unit that is measured."""

    bench: Benchmark
    params: dict[str, Any]

    @property
    def label(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.bench.name}[{inner}]" if inner else self.bench.name

    def prepare(self) -> Callable[[], Any]:
        """Run setup and return a zero-argument callable that runs the benchmark once."""
        fn, params = self.bench.fn, self.params
        state = self.bench.setup(**params) if self.bench.setup is not None else None
        if state is None:
            return lambda: fn(**params)
        return lambda: fn(state, **params)


def params_key(params: Mapping[str, Any]) -> str:
    """The canonical JSON of a parameter set: the series key in files and the catalog."""
    return json.dumps(dict(params), sort_keys=True, default=repr)


@overload
def benchmark(fn: F, /) -> F: ...
@overload
def benchmark(
    *,
    name: str | None = None,
    params: Mapping[str, Sequence[Any]] | None = None,
    setup: Callable[..., Any] | None = None,
) -> Callable[[F], F]: ...
def benchmark(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    params: Mapping[str, Sequence[Any]] | None = None,
    setup: Callable[..., Any] | None = None,
) -> F | Callable[[F], F]:
    """Mark ``fn`` as a benchmark; usable bare (``@benchmark``) or with options.

    ``params={"n": [10, 100]}`` measures ``fn(n=10)`` and ``fn(n=100)`` as separate series.
    """

    def mark(func: F) -> F:
        for key, values in (params or {}).items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise UsageError(f"benchmark {func.__name__}: params[{key!r}] must be a list")
        setattr(
            func,
            MARK,
            Benchmark(name or func.__name__, func, dict(params or {}), setup),
        )
        return func

    return mark(fn) if fn is not None else mark


def load_file(path: Path) -> ModuleType:
    """Import a benchmark file as a module; errors name the file and become UsageError."""
    if not path.is_file():
        raise UsageError(f"no benchmark file {path}")
    spec = importlib.util.spec_from_file_location(f"perflab_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look their module up
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # as `python file.py` would: helpers next to it import
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(spec.name, None)
        raise UsageError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from exc
    return module


def discover(module: ModuleType) -> list[Benchmark]:
    """The module's marked functions, in definition order; duplicate names are an error."""
    found: dict[str, Benchmark] = {}
    for value in vars(module).values():
        mark = getattr(value, MARK, None)
        if isinstance(mark, Benchmark):
            if mark.name in found and found[mark.name].fn is not mark.fn:
                raise UsageError(f"two benchmarks are named {mark.name!r}")
            found[mark.name] = mark
    return list(found.values())
