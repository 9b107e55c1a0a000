"""The scenario-file API: everything a ``perflab run journey.py`` file imports.

    from perflab.scenario import User, task, checks, uniform

See the README ("Scenario files") for a complete example. The implementation lives in
:mod:`perflab.load.script`; this module is the stable public surface.
"""

from perflab.load.script import checks
from perflab.load.script.api import Scenario, User, constant, exponential, task, uniform
from perflab.load.script.checks import Check, check
from perflab.load.script.feeders import FeederExhausted, csv_feeder, feeder, jsonl_feeder
from perflab.load.script.response import Response
from perflab.load.script.session import CheckError, Session

__all__ = [
    "Check",
    "CheckError",
    "FeederExhausted",
    "Response",
    "Scenario",
    "Session",
    "User",
    "check",
    "checks",
    "constant",
    "csv_feeder",
    "exponential",
    "feeder",
    "jsonl_feeder",
    "task",
    "uniform",
]
