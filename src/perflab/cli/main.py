"""``perflab`` entry point: dispatch, and the one place errors become exit codes.

Exit codes: 0 success, 1 a check failed, 2 usage or input error, 3 target unreachable,
130 interrupted (results so far are saved). Errors print as one line, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from perflab.cli import bench as bench_cmd
from perflab.cli import capacity as capacity_cmd
from perflab.cli import compare as compare_cmd
from perflab.cli import demo as demo_cmd
from perflab.cli import detect as detect_cmd
from perflab.cli import history as history_cmd
from perflab.cli import profile as profile_cmd
from perflab.cli import replay as replay_cmd
from perflab.cli import report as report_cmd
from perflab.cli import run as run_cmd
from perflab.cli import show as show_cmd
from perflab.cli import ui as ui_cmd
from perflab.errors import PerflabError

app = typer.Typer(
    name="perflab",
    help="The performance-engineering workbench: load tests with exact percentiles and no "
    "coordinated omission.\n\nExit codes: 0 ok, 1 a check failed, 2 bad input, "
    "3 target unreachable, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("run", no_args_is_help=True, epilog=run_cmd.EXAMPLES)(run_cmd.run)
app.command("show", no_args_is_help=True, epilog=show_cmd.EXAMPLES)(show_cmd.show)
app.command("compare", no_args_is_help=True, epilog=compare_cmd.EXAMPLES)(compare_cmd.compare)
app.command("history", epilog=history_cmd.EXAMPLES)(history_cmd.history)
app.add_typer(bench_cmd.bench_app, name="bench")
app.command("demo", epilog=demo_cmd.EXAMPLES)(demo_cmd.demo)
app.command("replay", no_args_is_help=True, epilog=replay_cmd.EXAMPLES)(replay_cmd.replay)
app.command("report", no_args_is_help=True, epilog=report_cmd.EXAMPLES)(report_cmd.report)
app.command("ui", epilog=ui_cmd.EXAMPLES)(ui_cmd.ui)
app.add_typer(capacity_cmd.capacity_app, name="capacity")
app.command("detect", no_args_is_help=True, epilog=detect_cmd.EXAMPLES)(detect_cmd.detect)
app.add_typer(profile_cmd.profile_app, name="profile")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``sys.exit`` is left to the console script)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="perflab", standalone_mode=False)
    except PerflabError as exc:
        print(f"perflab: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("perflab: interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.TyperException as exc:  # usage errors from the command-line parser
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"perflab: error: {' '.join(message.split())}", file=sys.stderr)
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            print(f"try '{ctx.command_path} --help'", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
