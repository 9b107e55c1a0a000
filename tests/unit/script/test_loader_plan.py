from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from perflab.errors import UsageError
from perflab.load.script.loader import ScriptError, import_script
from perflab.load.script.plan import Overrides, script_spec
from perflab.model import LoadModel

GOOD = """
from perflab.scenario import Scenario, User, task

options = {"vus": 3, "duration": "7s", "thresholds": ["checks>99%"], "base_url": "http://127.0.0.1:9"}

class Base(User):
    abstract = True

class Reader(Base):
    weight = 3
    @task(2)
    async def read(self, s):
        await s.get("/a")
    @task
    async def list(self, s):
        await s.get("/b")

class Writer(User):
    async def flow(self, s):
        await s.post("/c", json={})
"""


def _file(tmp_path: Path, text: str, name: str = "journey.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_users_tasks_weights_and_options(tmp_path: Path) -> None:
    loaded = import_script(_file(tmp_path, GOOD))
    assert set(loaded.users) == {"Reader", "Writer"}  # the abstract base is skipped
    assert loaded.users["Reader"].tasks == (("list", 1), ("read", 2))
    assert loaded.users["Writer"].flow
    assert loaded.options["vus"] == 3


def test_default_scenario_from_options_and_command_line(tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD)
    spec = script_spec(path)
    assert spec.script is not None
    (sc,) = spec.script.scenarios
    assert sc.load.model is LoadModel.CLOSED and sc.load.start == 3 and sc.load.duration_s == 7
    assert dict(sc.users) == {"Reader": 3, "Writer": 1}
    assert [t.source for t in spec.thresholds] == ["checks>99%"]
    assert spec.name == "journey"
    over = script_spec(
        path,
        Overrides(
            rate="50/s",
            duration="2s",
            thresholds=["p99<1s"],
            base_url="http://127.0.0.1:8",
        ),
    )
    assert over.script is not None
    (sc,) = over.script.scenarios
    assert sc.load.model is LoadModel.OPEN and sc.load.start == 50 and sc.load.duration_s == 2
    assert [t.source for t in over.thresholds] == ["p99<1s"]
    assert over.script.base_url == "http://127.0.0.1:8"


def test_base_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, GOOD.replace(', "base_url": "http://127.0.0.1:9"', ""))
    monkeypatch.delenv("PERFLAB_BASE_URL", raising=False)
    with pytest.raises(UsageError, match="no base URL"):
        script_spec(path)
    monkeypatch.setenv("PERFLAB_BASE_URL", "http://127.0.0.1:7")
    spec = script_spec(path)
    assert spec.script is not None and spec.script.base_url == "http://127.0.0.1:7"


SCENARIOS = (
    GOOD
    + """
scenarios = [
    Scenario("read", users=Reader, vus=5, duration="10s"),
    Scenario("write", users=[Writer], rate="20/s", stages="10s:40/s", start="5s"),
]
"""
)


def test_several_scenarios_and_the_duration_cap(tmp_path: Path) -> None:
    path = _file(tmp_path, SCENARIOS)
    spec = script_spec(path)
    assert spec.script is not None
    read, write = spec.script.scenarios
    assert (read.start_s, read.load.duration_s, read.load.model) == (0, 10, LoadModel.CLOSED)
    assert (write.start_s, write.end_s, write.load.model) == (5, 15, LoadModel.OPEN)
    assert spec.duration_s == 15
    assert spec.target_at(6) == pytest.approx(5 + 22)
    capped = script_spec(path, Overrides(duration="7s"))
    assert capped.script is not None
    read, write = capped.script.scenarios
    assert read.load.duration_s == 7 and write.load.duration_s == 2
    assert write.load.stages[-1].target == pytest.approx(24)  # the ramp cut where it was
    with pytest.raises(UsageError, match="cannot override"):
        script_spec(path, Overrides(vus=3))
    late = _file(tmp_path, SCENARIOS.replace('duration="10s")', 'duration="10s", start="9s")'))
    with pytest.raises(UsageError, match="before any scenario"):
        script_spec(late, Overrides(duration="4s"))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("class A(:\n    pass\n", r"journey.py:1: syntax error"),
        ("import no_such_module_here\n", r"journey.py:1: ModuleNotFoundError: No module named"),
        (
            "from perflab.scenario import csv_feeder\n\nrows = csv_feeder('nope.csv')\n",
            r"journey.py:3: feeder file 'nope.csv' not found",
        ),
        ("x = 1\n\ny = 1 / 0\n", r"journey.py:3: ZeroDivisionError"),
        (
            "from perflab.scenario import User\n\nclass U(User):\n    pass\n",
            r"journey.py:3: user U has nothing to do",
        ),
        ("options = {'vu': 3}\n", r"unknown option\(s\) vu"),
        ("options = {}\n", r"no User subclass"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, source: str, message: str) -> None:
    path = _file(tmp_path, source)
    with pytest.raises(ScriptError, match=message):
        script_spec(path, Overrides(base_url="http://127.0.0.1:9"))


def test_missing_and_non_python_files(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="not found"):
        import_script(tmp_path / "nope.py")
    with pytest.raises(ScriptError, match=r"\.py"):
        import_script(_file(tmp_path, "x", "journey.txt"))


def test_think_time_distributions() -> None:
    import random

    from perflab.scenario import constant, exponential, uniform

    rng = random.Random(1)
    assert constant("250ms")(rng) == 0.25
    draws = [uniform(1, 2)(rng) for _ in range(1000)]
    assert 1 <= min(draws) and max(draws) <= 2
    mean = sum(exponential(0.5)(rng) for _ in range(5000)) / 5000
    assert mean == pytest.approx(0.5, rel=0.08)
    with pytest.raises(UsageError):
        uniform(2, 1)
