"""``--prometheus``, ``--otlp`` and ``--prometheus-linger``: the options ``perflab run`` and
``perflab replay`` share, and the exporters they start around a run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from perflab.load.sink import RunSink
from perflab.model import parse_duration
from perflab.model.redact import redact_url

PrometheusOption = Annotated[
    str | None,
    typer.Option(
        "--prometheus",
        metavar="[HOST]:PORT",
        help="Serve live metrics for Prometheus at http://HOST:PORT/metrics while the run "
        "goes (:9464 listens on 127.0.0.1; 0.0.0.0:9464 on every interface; port 0 = any).",
    ),
]
LingerOption = Annotated[
    str,
    typer.Option(
        "--prometheus-linger",
        metavar="DURATION",
        help="Keep the endpoint up this long after the run, for a last scrape (e.g. 15s). "
        "Default: it stops once the last second is counted.",
    ),
]
OtlpOption = Annotated[
    str | None,
    typer.Option(
        "--otlp",
        metavar="URL",
        help="Push metrics every second over OTLP/HTTP, e.g. http://127.0.0.1:4318 "
        "(needs perflab[otlp]).",
    ),
]


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """The exporters asked for, validated before anything listens or the run starts."""

    prometheus: tuple[str, int] | None = None
    linger_s: float = 0.0
    otlp_endpoint: str | None = None

    @classmethod
    def parse(cls, prometheus: str | None, linger: str, otlp: str | None) -> ExportPlan:
        """Check the flags (``UsageError``, exit 2, on a bad one) without importing much."""
        linger_s = parse_duration(linger, what="--prometheus-linger") if linger else 0.0
        listen = None
        if prometheus is not None:
            from perflab.export.prometheus import parse_listen

            listen = parse_listen(prometheus)
        endpoint = None
        if otlp is not None:
            from perflab.export.otlp import parse_otlp_endpoint, require_otlp

            endpoint = parse_otlp_endpoint(otlp)
            require_otlp()
        return cls(listen, linger_s, endpoint)

    @contextmanager
    def start(self) -> Iterator[list[RunSink]]:
        """The exporters as sinks (OTLP first: the Prometheus one may linger at the end).

        Says where metrics go on stderr (stdout belongs to ``--json``). Whatever happens in
        the run, the endpoint is closed and its port freed on the way out.
        """
        sinks: list[RunSink] = []
        with ExitStack() as stack:
            if self.otlp_endpoint is not None:
                from perflab.export.otlp import OtlpSink

                otlp = OtlpSink(self.otlp_endpoint)
                stack.callback(otlp.close)
                sinks.append(otlp)
                _say(f"otlp: pushing metrics to {redact_url(self.otlp_endpoint)} every second")
            if self.prometheus is not None:
                from perflab.export.prometheus import PrometheusSink

                host, port = self.prometheus
                prom = PrometheusSink.serve(host, port, linger_s=self.linger_s)
                stack.callback(prom.close)
                sinks.append(prom)
                linger = f", kept {self.linger_s:g}s after the run" if self.linger_s else ""
                _say(f"prometheus: serving metrics at {prom.url}{linger}")
            yield sinks


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
