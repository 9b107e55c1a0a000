"""``perflab report``: a run (or a comparison of two) as HTML, Markdown or JUnit XML."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from perflab.errors import UsageError
from perflab.store import find_run, load_run, read_generator, read_intervals
from perflab.store.atomic import write_bytes_atomic
from perflab.store.process import read_process

EXAMPLES = """
Examples:

  perflab report 3f9c                      (writes <run dir>/report.html)

  perflab report demo -o demo.html

  perflab report nightly-base nightly      (comparison, in the candidate's report-compare.html)

  perflab report demo --format markdown >> "$GITHUB_STEP_SUMMARY"

  perflab report demo --format junit -o perflab-junit.xml

  perflab report base cand --format junit --min-effect 10%
"""

FORMATS = ("html", "markdown", "junit")


def _min_effect(text: str) -> float:
    """``5%`` or ``0.05`` as a fraction."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"bad --min-effect {text!r}: expected a percentage like 5%") from None
    if not 0.0 <= value < 1.0:
        raise UsageError(f"bad --min-effect {text!r}: must be between 0% and 100%")
    return value


def _load(ref: str) -> tuple[Path, dict[str, Any]]:
    path = find_run(ref)
    return path, load_run(path)


def _compare(base: Path, candidate: Path, min_effect: float) -> dict[str, Any]:
    try:  # imported here: the bootstrap's numerics are for comparisons only
        compare = importlib.import_module("perflab.compare")
    except ImportError as exc:
        raise UsageError(f"comparison is not available in this perflab ({exc})") from None
    result: dict[str, Any] = compare.compare_runs(base, candidate, min_effect=min_effect)
    return result


def _write(text: str, output: Path) -> None:
    if not output.parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {output.parent} does not exist")
    try:
        write_bytes_atomic(output, text.encode())
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


def report(
    run: Annotated[
        str,
        typer.Argument(
            help="Run directory, run.json, id prefix or name (the base when comparing)."
        ),
    ],
    candidate: Annotated[
        str | None, typer.Argument(help="A second run: report the comparison RUN -> CANDIDATE.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write, - for stdout. HTML default: report.html in the run's "
            "directory (report-compare.html in the candidate's); Markdown and JUnit default "
            "to stdout.",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="html (self-contained, offline), markdown or junit.")
    ] = "html",
    min_effect: Annotated[
        str, typer.Option(help="Comparison: smallest change that counts, e.g. 5%.")
    ] = "5%",
) -> int:
    """Render a stored run, or a comparison of two, for people (HTML) or for CI."""
    if fmt not in FORMATS:
        raise UsageError(f"bad --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    effect = _min_effect(min_effect)
    base_path, base_doc = _load(run)
    if candidate is None:
        text, default = _render_run(fmt, base_path, base_doc), base_path / "report.html"
    else:
        cand_path, cand_doc = _load(candidate)
        comparison = _compare(base_path, cand_path, effect)
        text = _render_comparison(fmt, comparison, base_path, base_doc, cand_path, cand_doc)
        default = cand_path / "report-compare.html"
    if (output is None and fmt != "html") or output == Path("-"):
        sys.stdout.write(text)
        return 0
    target = output if output is not None else default
    _write(text, target)
    print(f"perflab: report written to {target}", file=sys.stderr)
    return 0


def _render_run(fmt: str, path: Path, doc: dict[str, Any]) -> str:
    if fmt == "markdown":
        from perflab.report.markdown import run_markdown

        return run_markdown(doc)
    if fmt == "junit":
        from perflab.report.junit import run_junit

        return run_junit(doc)
    from perflab.report.html import render_run

    return render_run(doc, read_intervals(path), read_generator(path), read_process(path))


def _render_comparison(
    fmt: str,
    comparison: dict[str, Any],
    base_path: Path,
    base_doc: dict[str, Any],
    cand_path: Path,
    cand_doc: dict[str, Any],
) -> str:
    if fmt == "markdown":
        from perflab.report.markdown import comparison_markdown

        return comparison_markdown(comparison, base_doc, cand_doc)
    if fmt == "junit":
        from perflab.report.junit import comparison_junit

        return comparison_junit(comparison, base_doc, cand_doc)
    from perflab.report.html import render_comparison

    return render_comparison(
        comparison, base_doc, read_intervals(base_path), cand_doc, read_intervals(cand_path)
    )
