"""``perflab compare``: is the candidate run faster or slower than the base run, and how sure?"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from perflab.cli.live import human_console
from perflab.errors import UsageError
from perflab.report.changes import format_change, format_value

OVERALL = "*"  # perflab.compare.OVERALL; that module is imported on use (numpy, scipy)

EXAMPLES = """
Examples:

  perflab compare 3f9c 7a1e                       (two runs by id prefix)

  perflab compare nightly-base nightly --min-effect 10%

  perflab compare perflab-runs/A perflab-runs/B --json > compare.json

Exit codes: 0 no regression, 1 something regressed, 2 bad input.
"""

_STYLE = {"regressed": "bold red", "improved": "bold green", "no_change": "dim"}
_WORDS = {"regressed": "regressed", "improved": "improved", "no_change": "no significant change"}


def _fraction(text: str, option: str, low: float, high: float) -> float:
    """``5%`` or ``0.05`` as a fraction in [low, high)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"bad {option} {text!r}: expected a percentage like 5%") from None
    if not low <= value < high:
        raise UsageError(
            f"bad {option} {text!r}: must lie in [{low:.0%}, {high:.0%})",
            hint="write a percentage with its % sign, e.g. 5%",
        )
    return value


def _interval(low: Any, high: Any, unit: str) -> str:
    if low is None and high is None:
        return "-"
    ends = [
        "-inf" if low is None else format_change(low, unit),
        "+inf" if high is None else format_change(high, unit),
    ]
    return f"[{ends[0]}, {ends[1]}]"


def _shown(doc: dict[str, Any]) -> dict[str, Any]:
    """The figures to show: without "*" when it only repeats the one request name."""
    by_name: dict[str, Any] = doc["by_name"]
    if (
        len(by_name) == 2
        and OVERALL in by_name
        and len({json.dumps(f) for f in by_name.values()}) == 1
    ):
        return {name: figures for name, figures in by_name.items() if name != OVERALL}
    return by_name


def _table(doc: dict[str, Any]) -> Table:
    confidence = doc.get("confidence", 0.95)
    runs = [
        f"{r.get('name')} ({str(r.get('id') or '?')[:8]})" for r in (doc["base"], doc["candidate"])
    ]
    title = f"{runs[0]} -> {runs[1]}, minimum effect {doc['min_effect_pct']:g}%"
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("request", "left"),
        ("metric", "left"),
        ("base", "right"),
        ("candidate", "right"),
        ("change", "right"),
        (f"{confidence:.0%} CI (simultaneous)", "right"),
        ("verdict", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, metrics in _shown(doc).items():
        for metric, m in metrics.items():
            unit = m.get("unit", "%")
            table.add_row(
                "all requests" if name == OVERALL else name,
                metric,
                format_value(metric, m["base"]),
                format_value(metric, m["candidate"]),
                format_change(m["change_pct"], unit),
                _interval(m["ci_low_pct"], m["ci_high_pct"], unit),
                Text(_WORDS[m["verdict"]], style=_STYLE[m["verdict"]]),
            )
        table.add_section()
    return table


def _summary(doc: dict[str, Any]) -> Text:
    verdict = doc["verdict"]
    changed = [
        f"{'all' if name == OVERALL else name} {metric} {format_change(m['change_pct'], m['unit'])}"
        for name, metrics in _shown(doc).items()
        for metric, m in metrics.items()
        if m["verdict"] == verdict and verdict != "no_change"
    ]
    line = Text("verdict: ", style="bold")
    line.append(_WORDS[verdict], style=_STYLE[verdict] if verdict != "no_change" else "bold")
    if changed:
        shown = ", ".join(changed[:4]) + (
            f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        )
        line.append(f" ({shown})")
    return line


def compare(
    base: Annotated[str, typer.Argument(help="Base run: directory, run.json, id prefix or name.")],
    candidate: Annotated[str, typer.Argument(help="Candidate run, found the same ways.")],
    min_effect: Annotated[
        str, typer.Option("--min-effect", help="Smallest change that counts, e.g. 5%.")
    ] = "5%",
    confidence: Annotated[
        str, typer.Option("--confidence", help="Confidence of the intervals, e.g. 95%.")
    ] = "95%",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document only.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.")] = 0,
    resamples: Annotated[
        int, typer.Option("--resamples", help="Bootstrap resamples per run.")
    ] = 2000,
) -> int:
    """Compare two runs: p50-p99.9, error rate and throughput per request, with confidence
    intervals from a block bootstrap over the per-second intervals; exit 1 on a regression."""
    from perflab.compare import compare_runs

    doc = compare_runs(
        base,
        candidate,
        min_effect=_fraction(min_effect, "--min-effect", 0.0, 1.0),
        confidence=_fraction(confidence, "--confidence", 0.5, 1.0),
        seed=seed,
        resamples=resamples,
    )
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        console = human_console(stderr=False)
        console.print(_table(doc))
        for note in (
            doc["notes"]
            + [f"only in the candidate: {n}" for n in doc["added"]]
            + [f"only in the base: {n}" for n in doc["removed"]]
        ):
            console.print(Text(f"note: {note}", style="yellow"))
        console.print(_summary(doc))
    return 1 if doc["verdict"] == "regressed" else 0
