"""``perflab profile``: sample a process or a command, and ``perflab profile diff``.

``perflab profile -- CMD ...`` needs everything after ``--`` to reach the command untouched,
while ``perflab profile diff A B`` is a subcommand; a click group would read ``python`` in
``-- python app.py`` as a subcommand's name. :class:`_ProfileGroup` takes the part after
``--`` away before the group parses, so both spellings work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from perflab.cli import profile_memory
from perflab.cli.live import human_console
from perflab.errors import PerflabError, UsageError
from perflab.model import parse_duration

EXAMPLES = """
Examples:

  perflab profile --pid 4242 --duration 30s          (a running Python process)

  perflab profile -- python app.py --workers 2        (run it under the sampler until it exits)

  perflab profile --pid 4242 --duration 20s --native  (C extensions; perf for non-Python)

  perflab profile --pid 4242 --json                   (samples, top functions, file paths)

  perflab profile diff before/ after/                 (what grew, what shrank; an HTML diff)

Each profile is a directory (stacks.folded, profile.json, flamegraph.html, speedscope.json)
under ./perflab-runs/ and a row in the catalog, so `perflab profile diff` takes ids too.
Exit codes: 0 done, 2 bad input or not a Python process (use --native), 3 no such process
or not allowed to attach, 130 interrupted (the samples so far are saved).
"""

DIFF_EXAMPLES = """
Examples:

  perflab profile diff perflab-runs/profile-A perflab-runs/profile-B

  perflab profile diff 3f9c 7a1e --json        (ids from the catalog, as printed by profile)

  perflab profile diff base.folded cand.folded -o diff.html --min-effect 2

A function is called grown or shrunk only when its share of samples moved by more than
--min-effect percentage points AND beyond sampling noise (two-proportion tests, Holm/BH
corrected). Exit codes: 0 done, 2 bad input.
"""

_COMMAND = "perflab.profile.command"


class _ProfileGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_COMMAND] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


profile_app = typer.Typer(
    cls=_ProfileGroup,
    help="Sample where a process spends its CPU time (py-spy; perf for native code).",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXAMPLES,
)


@profile_app.callback(invoke_without_command=True)
def profile(
    ctx: typer.Context,
    pid: Annotated[int | None, typer.Option("--pid", help="Profile this running process.")] = None,
    duration: Annotated[
        str | None,
        typer.Option(help="How long (default: 30s for --pid; a command runs until it exits)."),
    ] = None,
    rate: Annotated[int, typer.Option(help="Samples per second.")] = 100,
    native: Annotated[
        bool, typer.Option(help="Native frames too (py-spy --native); perf for non-Python.")
    ] = False,
    subprocesses: Annotated[bool, typer.Option(help="Also sample child processes.")] = False,
    nonblocking: Annotated[
        bool, typer.Option(help="Do not pause the target to sample (less overhead, less exact).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Profile directory (default ./perflab-runs/profile-…).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the profile.")] = None,
    top: Annotated[int, typer.Option(help="Functions in the table and the JSON.")] = 15,
    icicle: Annotated[bool, typer.Option(help="Flame graph root at the top.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the summary JSON.")] = False,
) -> int:
    """Profile --pid PID, or the command after `--`; keep the folded stacks, write a flame
    graph (offline HTML) and speedscope JSON, print the top functions."""
    if ctx.invoked_subcommand is not None:
        return 0
    from perflab.profile.sampler import ProfileInterrupted, profile_command, profile_pid

    command: list[str] = ctx.meta.get(_COMMAND) or []
    if (pid is None) == (not command):
        if pid is None:
            typer.echo(ctx.get_help())
            raise UsageError("give --pid PID or a command after --, e.g. -- python app.py")
        raise UsageError("give either --pid or a command after --, not both")
    seconds = None if duration is None else parse_duration(duration, what="--duration")
    if seconds is None and pid is not None:
        seconds = 30.0
    options: dict[str, Any] = {
        "rate_hz": rate, "native": native, "subprocesses": subprocesses,
        "nonblocking": nonblocking, "out_dir": out, "name": name,
    }  # fmt: skip
    console = human_console()
    if pid is not None:
        from perflab.profile.tooling import require_process

        require_process(pid)  # before the "profiling ..." line: an error is one line
    if not as_json:
        what = f"PID {pid}" if pid is not None else " ".join(command)
        until = f"for {seconds:g} s" if seconds is not None else "until it exits"
        console.print(f"profiling {what} {until} at {rate} Hz (Ctrl-C stops and keeps it)")
    try:
        if pid is not None:
            result = profile_pid(pid, seconds, **options)
        else:
            result = profile_command(command, seconds, **options)
    except ProfileInterrupted as exc:
        finish(exc.result, top=top, icicle=icicle, as_json=as_json)
        raise
    finish(result, top=top, icicle=icicle, as_json=as_json)
    return 0


def finish(result: Any, *, top: int, icicle: bool, as_json: bool) -> dict[str, Any]:
    """Write the views of a saved profile, index it, print it; returns the summary JSON."""
    from perflab.profile.views import write_views

    write_views(result, orientation="icicle" if icicle else "flame")
    _index(result)
    summary: dict[str, Any] = result.to_json_summary(top)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return summary
    from perflab.profile.top import format_top_table, top_functions

    console = human_console(stderr=False)
    title = (
        f"{result.samples:,} samples over {result.duration_s:.1f} s — top functions by self time"
    )
    console.print(format_top_table(top_functions(result.stacks, top), title=title), markup=False)
    for warning in result.warnings:
        print(f"perflab: warning: {warning}", file=sys.stderr)
    console.print(f"flame graph: {result.flamegraph}", markup=False)
    console.print(f"profile:     {result.path}  (id {result.id[:8]})", markup=False)
    return summary


def _index(result: Any) -> None:
    """A profile the catalog cannot take is still saved: one warning, never a failure."""
    if result.path is None:
        return
    try:
        from perflab.store.catalog import Catalog

        with Catalog.open() as catalog:
            catalog.index_profile(result.to_document(), result.path)
    except PerflabError as exc:
        print(f"perflab: warning: profile not indexed: {exc.one_line()}", file=sys.stderr)
    except Exception as exc:  # the directory is saved; the catalog can catch up later
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"perflab: warning: profile not indexed: {reason}", file=sys.stderr)


@profile_app.command("diff", no_args_is_help=True, epilog=DIFF_EXAMPLES)
def diff(
    base: Annotated[str, typer.Argument(help="Base profile: directory, .folded file or id.")],
    candidate: Annotated[str, typer.Argument(help="Candidate profile, the same ways.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Differential flame graph HTML.")
    ] = None,
    min_effect: Annotated[
        float, typer.Option(help="Smallest change of share called real, in points.")
    ] = 1.0,
    top: Annotated[int, typer.Option(help="Rows of the table.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the diff JSON.")] = False,
) -> int:
    """Which functions grew or shrank between two profiles, beyond sampling noise."""
    from perflab.profile.diff import diff_profiles, render_diff_flamegraph
    from perflab.profile.views import format_diff_table, resolve_profile
    from perflab.store.atomic import write_bytes_atomic

    if not min_effect > 0:
        raise UsageError("--min-effect must be a positive number of percentage points")
    (a_name, a), (b_name, b) = resolve_profile(base), resolve_profile(candidate)
    result = diff_profiles(a, b, min_effect_pct=min_effect)
    page = output or Path(f"profile-diff-{_slug(a_name)}-vs-{_slug(b_name)}.html")
    title = f"{a_name} → {b_name}"
    write_bytes_atomic(
        page, render_diff_flamegraph(a, b, title=title, min_effect_pct=min_effect).encode()
    )
    if as_json:
        doc = {**result.to_json(), "flamegraph": str(page)}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    console = human_console(stderr=False)
    console.print(format_diff_table(result, top), markup=False)
    console.print(f"differential flame graph: {page}", markup=False)
    return 0


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40].strip("-") or "p"


profile_app.command("memory", epilog=profile_memory.EXAMPLES)(profile_memory.memory)
