"""Importing a scenario file, with errors that name the file and line.

The file is executed as a fresh module (its directory on ``sys.path`` so it can import its
own helpers). Every failure while importing it (syntax error, import error, a missing
feeder file, an exception at top level) becomes one :class:`ScriptError` line,
``journey.py:12: ...``, exit code 2, never a traceback. The coordinator imports the file
once to validate it and read its options; each worker imports it again to run it.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from perflab.errors import UsageError
from perflab.load.script import feeders
from perflab.load.script.api import Scenario, User, UserType


class ScriptError(UsageError):
    """A scenario file that cannot be loaded or is not a valid scenario file."""


@dataclass(slots=True)
class LoadedScript:
    path: Path
    module: ModuleType
    users: dict[str, UserType]
    options: dict[str, Any]
    scenarios: list[Scenario] | None


def import_script(path: str | Path, *, worker: int = 0, workers: int = 1) -> LoadedScript:
    file = Path(path).resolve()
    if not file.is_file():
        raise ScriptError(f"scenario file {str(path)!r} not found")
    if file.suffix != ".py":
        raise ScriptError(f"scenario file {str(path)!r} must be a Python file (.py)")
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"cannot read scenario file {file.name}: {exc}") from None
    try:
        code = compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise ScriptError(
            f"{file.name}:{exc.lineno}: syntax error: {exc.msg}"
            + (f"\n    {exc.text.strip()}" if exc.text else "")
        ) from None
    feeders.CONTEXT.base_dir = file.parent
    feeders.CONTEXT.worker, feeders.CONTEXT.workers = worker, workers
    module_name = f"perflab_scenario_{abs(hash(str(file)))}"
    module = ModuleType(module_name)
    module.__file__ = str(file)
    sys.modules[module_name] = module
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    try:
        exec(code, module.__dict__)
    except UsageError as exc:
        raise ScriptError(f"{_where(file, exc)}: {exc}") from None
    except Exception as exc:
        raise ScriptError(f"{_where(file, exc)}: {type(exc).__name__}: {exc}") from None
    return LoadedScript(
        path=file,
        module=module,
        users=_user_types(file, module),
        options=_options(file, module),
        scenarios=_scenarios(file, module),
    )


def _where(file: Path, exc: BaseException) -> str:
    """``name.py:LINE`` of the deepest frame of the traceback that is in the scenario file."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename) == file:
            line = lineno
    return f"{file.name}:{line}" if line is not None else file.name


def _line_of(obj: Any) -> str:
    try:
        return str(inspect.getsourcelines(obj)[1])
    except (OSError, TypeError):
        return "?"


def _user_types(file: Path, module: ModuleType) -> dict[str, UserType]:
    users: dict[str, UserType] = {}
    for value in list(module.__dict__.values()):
        if not (isinstance(value, type) and issubclass(value, User)) or value is User:
            continue
        if value.__dict__.get("abstract", False):
            continue  # a base class other user types share
        try:
            users[value.__name__] = UserType.of(value)
        except UsageError as exc:
            raise ScriptError(f"{file.name}:{_line_of(value)}: {exc}") from None
    return users


OPTION_KEYS = (
    "base_url",
    "vus",
    "rate",
    "duration",
    "stages",
    "iterations",
    "thresholds",
    "max_vus",
    "connections",
    "timeout",
    "name",
    "tags",
    "http2",
)


def _options(file: Path, module: ModuleType) -> dict[str, Any]:
    options = module.__dict__.get("options", {})
    if not isinstance(options, dict):
        raise ScriptError(f"{file.name}: 'options' must be a dict, not {type(options).__name__}")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ScriptError(
            f"{file.name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}"
        )
    return dict(options)


def _scenarios(file: Path, module: ModuleType) -> list[Scenario] | None:
    scenarios = module.__dict__.get("scenarios")
    if scenarios is None:
        return None
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    if not isinstance(scenarios, list | tuple) or not all(
        isinstance(s, Scenario) for s in scenarios
    ):
        raise ScriptError(f"{file.name}: 'scenarios' must be a list of Scenario(...)")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ScriptError(f"{file.name}: scenario names must be unique, got {names}")
    return list(scenarios)
