"""``perflab bench`` argument handling in process: one-line errors and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "missing.py"], "no benchmark file missing.py"),
        (["bench", "b.py", "--cmd", "true"], "give a benchmark FILE or --cmd COMMAND"),
        (["bench", "--cmd", "true", "--processes", "0"], "--processes must be at least 1"),
        (["bench", "--cmd", "true", "--min-time", "0"], "--min-time must be positive"),
        (["bench", "b.py", "--fast", "--rigorous"], "--fast and --rigorous contradict"),
        (["bench", "b.py", "-k", "nothing"], "no benchmark in b.py matches nothing"),
        (["bench", "empty.py"], "empty.py has no @perflab.benchmark functions"),
        (["bench", "b.py", "--precision", "abc"], "bad --precision 'abc'"),
        (["bench", "compare", "nope", "b.py"], "no benchmark results 'nope'"),
        (["bench", "compare", "b.py", "b.py", "--format", "xml"], "bad --format 'xml'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.py").write_text("import perflab\n\n@perflab.benchmark\ndef f():\n    pass\n")
    (tmp_path / "empty.py").write_text("X = 1\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"perflab: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "perflab-runs").exists()  # nothing written for bad input
