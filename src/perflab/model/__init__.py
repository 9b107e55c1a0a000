"""Typed specs and results shared by every engine (pure: no I/O)."""

from perflab.model.spec import HttpRequest, LoadModel, LoadProfile, RunSpec
from perflab.model.threshold import Threshold, ThresholdResult, evaluate, parse_threshold
from perflab.model.units import Stage, parse_duration, parse_rate, parse_stages

__all__ = [
    "HttpRequest",
    "LoadModel",
    "LoadProfile",
    "RunSpec",
    "Stage",
    "Threshold",
    "ThresholdResult",
    "evaluate",
    "parse_duration",
    "parse_rate",
    "parse_stages",
    "parse_threshold",
]
