"""``perflab show``: the summary of a stored run."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from perflab.cli.capacity_plan import print_little_flag
from perflab.cli.live import human_console
from perflab.report.terminal import render_summary
from perflab.store import find_run, load_run

EXAMPLES = """Examples:  perflab show 3f9c  ·  perflab show demo --json  ·
perflab show perflab-runs/20261128T151100Z-demo"""


def show(
    run: Annotated[str, typer.Argument(help="Run directory, run.json, id prefix or name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print run.json.")] = False,
) -> int:
    """Show a stored run's summary (latency table, thresholds, generator health)."""
    doc = load_run(find_run(run))
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        render_summary(doc, human_console(stderr=False), path=doc.get("path"))
        print_little_flag(doc, human_console(stderr=False))
    return 0
