"""``perflab capacity``: the command group (fit, test, plan, little); each lives in its module."""

from __future__ import annotations

import typer

from perflab.cli import capacity_fit, capacity_plan, capacity_test

capacity_app = typer.Typer(
    help="Capacity planning: USL fits, live capacity and breaking-point tests, queueing "
    "sizing, growth and cost.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
capacity_app.command("fit", no_args_is_help=True, epilog=capacity_fit.EXAMPLES)(capacity_fit.fit)
capacity_app.command("test", no_args_is_help=True, epilog=capacity_test.EXAMPLES)(
    capacity_test.capacity_test
)
capacity_app.command("plan", epilog=capacity_plan.EXAMPLES)(capacity_plan.plan)
capacity_app.command("little", epilog=capacity_plan.LITTLE_EXAMPLES)(capacity_plan.little)
