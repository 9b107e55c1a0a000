"""``perflab bench``: benchmark Python functions or shell commands, and gate on regressions.

``bench`` is a command group whose default command is ``run``: ``perflab bench FILE.py`` and
``perflab bench --cmd ...`` mean ``perflab bench run ...``; ``perflab bench compare A B`` is
the gate. (A group whose callback took FILE would read ``compare`` as a file name.) A
benchmark file literally named ``compare`` must be written ``./compare``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from perflab.cli import bench_render as render
from perflab.cli.compare import _fraction
from perflab.cli.live import human_console
from perflab.errors import PerflabError, RunInterrupted, UsageError
from perflab.store.rundir import DEFAULT_ROOT

EXAMPLES = """
Examples:

  perflab bench benchmarks.py          (every @perflab.benchmark in it)

  perflab bench benchmarks.py -k parse --fast --json

  perflab bench --cmd "gzip -k -f big.txt" --cmd "zstd -f big.txt" --runs 20

  perflab bench benchmarks.py --compare-to main --format markdown

  perflab bench compare perflab-runs/bench-A perflab-runs/bench-B

Exit codes: 0 ok, 1 slower than --compare-to, 2 bad input,

3 a benchmark raised or a command failed (the others still ran and are saved),

130 interrupted (the finished benchmarks are saved).
"""

COMPARE_EXAMPLES = """
Examples:

  perflab bench compare perflab-runs/bench-A perflab-runs/bench-B

  perflab bench compare 3f9c 7a1e --min-effect 2% --format markdown

  perflab bench compare base.json cand.json --format json | jq .verdict

Exit codes: 0 nothing slower, 1 something slower, 2 bad input.
"""

HISTORY_EXAMPLES = """
Examples:

  perflab bench history total --params n=100        (this machine's results, oldest first)

  perflab bench history total --all-machines --limit 10 --json

Exit codes: 0 ok, 2 no such benchmark (close names are listed), parameters or machine.
"""

FORMATS = ("table", "markdown", "junit", "json")


class _DefaultRun(TyperGroup):
    """A group that runs ``run`` when the first word is not one of its commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


bench_app = typer.Typer(
    cls=_DefaultRun,
    no_args_is_help=True,
    help="Benchmarks with noise-aware statistics, and the CI gate (perflab bench FILE.py).",
    epilog=EXAMPLES,
)


def _emit(doc: dict[str, Any], fmt: str) -> None:
    """A comparison in the chosen format: machine formats on stdout, the table for people."""
    if fmt == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(render.comparison_markdown(doc))
    elif fmt == "junit":
        sys.stdout.write(render.comparison_junit(doc))
    else:
        console = human_console(stderr=False)
        console.print(render.comparison_table(doc))
        for note in doc["notes"]:
            console.print(f"note: {note}", style="yellow", markup=False)
        console.print(render.summary_line(doc))


def _format(fmt: str | None, as_json: bool) -> str:
    chosen = "json" if as_json else (fmt or "table")
    if chosen not in FORMATS:
        raise UsageError(f"bad --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return chosen


@bench_app.command("compare", no_args_is_help=True, epilog=COMPARE_EXAMPLES)
def compare(
    base: Annotated[str, typer.Argument(help="Base results: bench.json, its dir, id or name.")],
    candidate: Annotated[str, typer.Argument(help="Candidate results, found the same ways.")],
    min_effect: Annotated[
        str | None,
        typer.Option("--min-effect", help="Smallest change that counts, e.g. 2% (default: noise)."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table, markdown, junit or json.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> int:
    """Gate: per benchmark faster / slower / no significant change, with the ratio and its 95%
    CI; exit 1 when anything is slower."""
    from perflab.bench.compare import compare_docs
    from perflab.bench.results import find_bench

    chosen = _format(fmt, as_json)
    effect = None if min_effect is None else _fraction(min_effect, "--min-effect", 0.0, 1.0)
    doc = compare_docs(find_bench(base), find_bench(candidate), min_effect=effect, seed=seed)
    _emit(doc, chosen)
    return 1 if doc["verdict"] == "slower" else 0


@bench_app.command("history", no_args_is_help=True, epilog=HISTORY_EXAMPLES)
def history(
    name: Annotated[str, typer.Argument(help="The benchmark's name.")],
    params: Annotated[
        list[str] | None, typer.Option("--params", help="Its parameters, e.g. n=100; repeatable.")
    ] = None,
    machine: Annotated[
        str | None, typer.Option("--machine", help="Results of this machine key.")
    ] = None,
    all_machines: Annotated[bool, typer.Option("--all-machines", help="Every machine.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="The newest N results.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> int:
    """A benchmark's stored results across commits, oldest first: median, 95% CI, CV, n."""
    from perflab.bench.results import this_machine
    from perflab.store.benchseries import benchmark_series, params_json
    from perflab.store.catalog import Catalog

    if machine is not None and all_machines:
        raise UsageError("--machine and --all-machines contradict each other")
    key = None if all_machines else machine or this_machine()
    with Catalog.open(create=False) as catalog:
        rows = benchmark_series(catalog, name, params_json(params or []), key, limit=limit)
    doc = render.history_doc(name, key, rows)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        human_console(stderr=False).print(render.history_table(doc))
    return 0


def _spec(
    processes: int | None,
    values: int | None,
    warmups: int | None,
    min_time: float | None,
    mode: str,
    **rest: Any,
) -> Any:
    from perflab.bench.runner import BenchSpec

    preset: dict[str, Any] = {
        "fast": {"processes": 3, "values": 3, "warmups": 1, "min_time": 0.01},
        "rigorous": {"processes": 20, "values": 3, "warmups": 1, "min_time": 0.2},
    }.get(mode, {})
    given: dict[str, Any] = {
        "processes": processes,
        "values": values,
        "warmups": warmups,
        "min_time": min_time,
    }
    chosen = {**preset, **{k: v for k, v in given.items() if v is not None}}
    for key, low in (("processes", 1), ("values", 1), ("warmups", 0)):
        if chosen.get(key, low) < low:
            raise UsageError(f"--{key} must be at least {low}")
    if chosen.get("min_time", 1.0) <= 0:
        raise UsageError("--min-time must be positive (seconds per value, e.g. 0.1)")
    return BenchSpec(**chosen, **rest)


def _git_commit(ref: str) -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"--compare-to {ref}: git is not usable ({exc})") from None
    if done.returncode != 0:
        raise UsageError(f"--compare-to {ref}: not a git commit or branch here")
    return done.stdout.strip()


def _index(doc: dict[str, Any], path: Path, warn: Any) -> None:
    """Catalog the results; a catalog failure never fails the benchmarks (the file is truth)."""
    from perflab.store.catalog import Catalog

    try:
        with Catalog.open() as catalog:
            catalog.index_benchmarks(doc, path)
    except PerflabError as exc:
        warn(f"perflab: warning: results not catalogued: {exc.one_line()}")


def _baseline(doc: dict[str, Any], ref: str, commit: str) -> dict[str, Any]:
    """The newest stored results of ``ref``'s commit on this machine, per benchmark (never
    this run's own, which is already catalogued when ``ref`` is HEAD)."""
    from perflab.bench.results import load_bench, series
    from perflab.store.catalog import Catalog

    machine = doc["environment"]["machine"]
    found: list[dict[str, Any]] = []
    env: dict[str, Any] = {}
    with Catalog.open() as catalog:
        for (name, params), _entry in series(doc).items():
            path = catalog.latest_benchmark(
                name, params, machine, commit=commit, exclude_run=doc["id"]
            )
            if path is None:
                continue
            try:
                old = load_bench(Path(path))
            except UsageError:
                continue
            env = old["environment"]
            match = series(old).get((name, params))
            if match is not None:
                found.append(match)
    if not found:
        raise UsageError(
            f"--compare-to {ref}: no stored result of commit {commit[:12]} on this machine "
            "for these benchmarks",
            hint=f"run perflab bench on {ref} first (git checkout {ref} && perflab bench ...)",
        )
    return {"name": ref, "id": commit, "environment": env, "benchmarks": found}


def _show(doc: dict[str, Any], path: Path, fmt: str) -> None:
    """The results table, warnings and failures, then any comparison. With a machine format
    (markdown, junit, json) stdout carries only that document, so the table goes to stderr."""
    console = human_console()
    human_console(stderr=fmt != "table").print(render.results_table(doc))
    for entry in doc["benchmarks"]:
        params = render.params_text(entry.get("params") or {})
        label = f"{entry['name']}[{params}]" if params else entry["name"]
        for warning in entry.get("warnings", []):
            console.print(f"warning: {label}: {warning}", style="yellow", markup=False)
        if entry["status"] != "ok":
            console.print(f"perflab: error: {label}: {entry['error']}", markup=False)
    console.print(f"results: {path}", markup=False)
    if doc.get("comparison") is not None:
        _emit(doc["comparison"], fmt)


@bench_app.command("run", epilog=EXAMPLES)
def run(
    file: Annotated[Path | None, typer.Argument(help="A .py file with @perflab.benchmark.")] = None,
    cmd: Annotated[
        list[str] | None, typer.Option("--cmd", help="A shell command to time; repeatable.")
    ] = None,
    select: Annotated[
        list[str] | None, typer.Option("-k", help="Only benchmarks whose name contains this.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of this set of results.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for bench.json.")] = None,
    processes: Annotated[int | None, typer.Option(help="Worker processes (default 10).")] = None,
    values: Annotated[int | None, typer.Option(help="Values per process (default 3).")] = None,
    warmups: Annotated[int | None, typer.Option(help="Warmup values, discarded (1).")] = None,
    min_time: Annotated[
        float | None, typer.Option("--min-time", help="Seconds per value (0.1).")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="3 processes, 10 ms values.")] = False,
    rigorous: Annotated[bool, typer.Option("--rigorous", help="20 processes, 0.2 s.")] = False,
    no_gc: Annotated[bool, typer.Option("--no-gc", help="GC off in the timed loop.")] = False,
    precision: Annotated[str, typer.Option(help="Warn above this CI half-width.")] = "2%",
    runs: Annotated[
        int | None, typer.Option(min=1, help="--cmd: timed runs (default auto).")
    ] = None,
    warmup: Annotated[int, typer.Option(min=0, help="--cmd: untimed runs first.")] = 1,
    prepare: Annotated[str | None, typer.Option(help="--cmd: run before each run.")] = None,
    cleanup: Annotated[str | None, typer.Option(help="--cmd: run after a command.")] = None,
    ignore_failure: Annotated[bool, typer.Option("--ignore-failure")] = False,
    compare_to: Annotated[
        str | None, typer.Option("--compare-to", help="Gate against a git ref's stored results.")
    ] = None,
    min_effect: Annotated[str | None, typer.Option("--min-effect")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="With --compare-to.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
) -> int:
    """Benchmark the functions of FILE (fresh worker processes) or shell commands (--cmd)."""
    from perflab.bench.commands import CommandSpec, run_commands
    from perflab.bench.results import BenchWriter, new_bench_dir, new_bench_doc
    from perflab.bench.runner import list_cases, run_file
    from perflab.environment import capture

    if (file is None) == (not cmd):
        raise UsageError("give a benchmark FILE or --cmd COMMAND (one of the two)")
    if fast and rigorous:
        raise UsageError("--fast and --rigorous contradict each other")
    mode = "fast" if fast else "rigorous" if rigorous else "default"
    spec = _spec(
        processes, values, warmups, min_time, mode, disable_gc=no_gc,
        precision=_fraction(precision, "--precision", 0.0, 1.0),
    )  # fmt: skip
    effect = None if min_effect is None else _fraction(min_effect, "--min-effect", 0.0, 1.0)
    chosen = _format(fmt, False)
    base_commit = None if compare_to is None else _git_commit(compare_to)  # bad ref: exit 2 now
    if file is not None:
        list_cases(file, select or ())  # bad file or filter: exit 2 before anything is written
    label = name or (file.stem if file is not None else "commands")
    config = {
        "mode": mode,
        "file": str(file) if file else None,
        "commands": cmd or [],
        **spec.to_json(),
    }
    console = human_console()
    doc = new_bench_doc(label, config, capture())
    writer = BenchWriter(out or new_bench_dir(label, DEFAULT_ROOT), doc)
    progress = None if as_json else lambda what: console.print(f"bench {what} ...", markup=False)
    try:
        if file is not None:
            run_file(file, spec, writer.add, select=select or (), progress=progress)
        else:
            command_spec = CommandSpec(
                warmup=warmup, runs=runs, prepare=prepare, cleanup=cleanup,
                ignore_failure=ignore_failure, min_time=1.0 if mode != "fast" else 0.2,
            )  # fmt: skip
            run_commands(cmd or [], command_spec, spec, writer.add, progress=progress)
    except KeyboardInterrupt:
        writer.finish("interrupted")
        _index(doc, writer.path.parent, console.print)
        raise RunInterrupted(f"interrupted; finished benchmarks saved in {writer.path}") from None
    failed = [e for e in doc["benchmarks"] if e["status"] != "ok"]
    writer.finish("failed" if failed else "passed")
    _index(doc, writer.path.parent, console.print)
    comparison = None
    if compare_to is not None and base_commit is not None:
        from perflab.bench.compare import compare_docs

        baseline = _baseline(doc, compare_to, base_commit)
        comparison = compare_docs(baseline, doc, min_effect=effect)
        doc["comparison"] = comparison
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _show(doc, writer.path, chosen)
    if comparison is not None and comparison["verdict"] == "slower":
        return 1
    return 3 if failed else 0
