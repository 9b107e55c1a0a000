"""Metrics export during a run: a Prometheus endpoint and an OTLP/HTTP push.

Both are :class:`~perflab.load.sink.RunSink` implementations the CLI adds next to the run
directory; they never raise into the engine. The names load lazily: ``prometheus_client``
and OpenTelemetry are imported only when an exporter is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.export.metrics import BOUNDS_S, RunMetrics
    from perflab.export.otlp import OtlpSink, parse_otlp_endpoint
    from perflab.export.prometheus import PrometheusSink, parse_listen

__all__ = [
    "BOUNDS_S",
    "OtlpSink",
    "PrometheusSink",
    "RunMetrics",
    "parse_listen",
    "parse_otlp_endpoint",
]
_HOMES = {
    "BOUNDS_S": "perflab.export.metrics",
    "RunMetrics": "perflab.export.metrics",
    "OtlpSink": "perflab.export.otlp",
    "parse_otlp_endpoint": "perflab.export.otlp",
    "PrometheusSink": "perflab.export.prometheus",
    "parse_listen": "perflab.export.prometheus",
}

__getattr__ = lazy_exports(__name__, _HOMES)
