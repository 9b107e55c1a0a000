"""Scenario files end to end: the examples against the demo target, and the failure paths.

Every run here is real: spawned workers, the engine's HTTP client, a server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perflab.demo import DemoTarget

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PERFLAB = [sys.executable, "-m", "perflab.cli.main"]


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoTarget]:
    with DemoTarget(port=0) as running:
        yield running


def _run(
    args: list[str], tmp_path: Path, *, base_url: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if base_url is not None:
        env["PERFLAB_BASE_URL"] = base_url
    return subprocess.run(
        [*PERFLAB, "run", *args, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
    )


def _doc(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "run" / "run.json").read_text())


@pytest.mark.parametrize(
    ("example", "expect_requests", "expect_transaction"),
    [
        ("checkout_journey.py", "POST /checkout", "checkout"),
        ("feeder_journey.py", "GET /search", None),
        ("mixed_scenarios.py", "POST /checkout", "checkout journey"),
    ],
)
def test_examples_pass_their_own_thresholds(
    example: str,
    expect_requests: str,
    expect_transaction: str | None,
    demo: DemoTarget,
    tmp_path: Path,
) -> None:
    done = _run(
        [str(EXAMPLES / example), "--duration", "4s", "--json"], tmp_path, base_url=demo.url
    )
    assert done.returncode == 0, done.stderr + done.stdout[-3000:]
    doc = json.loads(done.stdout)
    assert doc["status"] == "passed"
    assert all(t["passed"] for t in doc["thresholds"]) and doc["thresholds"]
    assert doc["by_name"][expect_requests]["requests"] > 0
    assert doc["totals"]["checks"] >= 0.95
    assert doc["checks"] and doc["exceptions"] == []
    if expect_transaction:
        assert doc["transactions"][expect_transaction]["count"] > 0
    assert doc["config"]["script"]["path"].endswith(example)


def test_base_url_flag_and_secrets_not_stored(demo: DemoTarget, tmp_path: Path) -> None:
    done = _run(
        [str(EXAMPLES / "checkout_journey.py"), "--base-url", demo.url, "--duration", "2s"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    stored = (tmp_path / "run" / "run.json").read_text()
    assert "Bearer" not in stored and "secret" not in stored
    assert "checkout" in done.stderr  # the transactions table


def _script(tmp_path: Path, text: str, name: str = "journey.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_cookies_correlation_and_the_open_model(hello_url: str, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        from perflab.scenario import Scenario, User, checks

        class Visitor(User):
            async def on_start(self, s):
                await s.get(f"/cookie/visitor/v{self.number}")

            async def flow(self, s):
                r = await s.get(
                    "/echo", params={"q": "a b"}, headers={"X-Trace": "1"},
                    checks=[checks.status(200), checks.body_contains("visitor=v")],
                )
                cookie = dict(r.json()["headers"])["Cookie"]
                assert cookie == f"visitor=v{self.number}", cookie
                assert r.json()["path"] == "/echo?q=a+b"
                await s.post("/echo", data={"k": "v"}, name="POST form",
                             checks=[checks.json_path("$.body", equals="k=v")])

        scenarios = [Scenario("visit", users=Visitor, rate="40/s", duration="2s")]
        options = {"thresholds": ["checks>=100%", "visit (iteration): p99<1s"]}
        """,
    )
    done = _run([str(path), "--base-url", hello_url, "--json", "--workers", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exceptions"] == []
    iterations = doc["transactions"]["visit (iteration)"]
    assert 70 <= iterations["count"] <= 81 and iterations["failed"] == 0
    assert doc["by_name"]["POST form"]["checks"] == 1.0


def test_task_exceptions_are_counted_and_shown_once(hello_url: str, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        from perflab.scenario import User, task

        options = {"vus": 2, "duration": "2s"}

        class Flaky(User):
            think_time = 0.01

            @task
            async def boom(self, s):
                r = await s.get("/")
                raise KeyError("no such thing: " + r.text)
        """,
    )
    done = _run([str(path), "--base-url", hello_url], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Flaky.boom raised KeyError (shown once") == 1
    assert 'journey.py", line 12, in boom' in done.stderr
    doc = _doc(tmp_path)
    (exc,) = doc["exceptions"]
    assert exc["where"] == "Flaky.boom" and exc["type"] == "KeyError" and exc["count"] > 20
    assert doc["totals"]["requests"] >= exc["count"]


def test_unique_feeder_running_out_ends_the_run_cleanly(hello_url: str, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(30)))
    path = _script(
        tmp_path,
        """
        from perflab.scenario import User, csv_feeder

        rows = csv_feeder("rows.csv", mode="unique")
        options = {"vus": 3, "duration": "30s"}

        class Once(User):
            async def flow(self, s):
                await s.get("/", params={"n": rows.next()["n"]})
        """,
    )
    done = _run([str(path), "--base-url", hello_url, "--json"], tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "ran out of unique rows" in doc["stop_reason"]
    assert doc["totals"]["requests"] == 30
    assert doc["duration_s"] < 10


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("def broken(:\n", "journey.py:1: syntax error"),
        ("import not_a_module_anywhere\n", "journey.py:1: ModuleNotFoundError"),
        (
            "from perflab.scenario import csv_feeder\nrows = csv_feeder('missing.csv')\n",
            "journey.py:2: feeder file 'missing.csv' not found",
        ),
    ],
)
def test_bad_scenario_files_exit_2_naming_file_and_line(
    source: str, needle: str, hello_url: str, tmp_path: Path
) -> None:
    path = _script(tmp_path, source)
    done = _run([str(path), "--base-url", hello_url], tmp_path, timeout=30)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr


def test_nothing_listening_is_exit_3(tmp_path: Path) -> None:
    done = _run(
        [str(EXAMPLES / "checkout_journey.py"), "--base-url", "http://127.0.0.1:1"],
        tmp_path,
        timeout=30,
    )
    assert done.returncode == 3, done.stderr


def test_the_readme_example_runs(demo: DemoTarget, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Scenario files") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    path = _script(tmp_path, code, "readme_journey.py")
    done = _run([str(path), "--duration", "3s", "--json"], tmp_path, base_url=demo.url)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "passed" and doc["exceptions"] == []
    assert doc["transactions"]["checkout"]["count"] > 0


def test_weights_pacing_think_time_and_timeouts(hello_url: str, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        from perflab.scenario import User, constant, task

        options = {"vus": 8, "duration": "2s"}

        class Paced(User):
            weight = 3
            pacing = "0.5s"

            @task
            async def one(self, s):
                await s.get("/", name="paced")

        class Slow(User):
            think_time = constant(0.2)

            @task
            async def late(self, s):
                r = await s.get("/slow/400", timeout=0.1, name="too slow")
                assert r.error is not None and r.error.value == "timeout", r
        """,
    )
    done = _run([str(path), "--base-url", hello_url, "--json", "--workers", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exceptions"] == []
    # 6 paced users x one iteration per 0.5 s x 2 s, and 2 slow users
    assert 22 <= doc["by_name"]["paced"]["requests"] <= 26
    slow = doc["by_name"]["too slow"]
    assert slow["errors_by_kind"] == {"timeout": slow["requests"]}
    # each slow iteration: ~0.1 s timeout (+ sweep granularity) + 0.2 s think time
    assert 8 <= slow["requests"] <= 14


def test_required_checks_end_the_iteration(hello_url: str, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        from perflab.scenario import User, checks

        options = {"vus": 1, "iterations": 5}

        class Strict(User):
            async def flow(self, s):
                await s.get("/status/500", name="first", checks=[checks.status(200)], required=True)
                await s.get("/", name="never reached")
        """,
    )
    done = _run([str(path), "--base-url", hello_url, "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "never reached" not in doc["by_name"]
    (exc,) = doc["exceptions"]
    assert (exc["where"], exc["type"], exc["count"]) == ("Strict.flow", "CheckError", 5)
    assert doc["checks"]["status 200"] == {"passes": 0, "fails": 5, "rate": 0.0}
