"""Where a run's results go as they are produced. The engine knows only this interface."""

from __future__ import annotations

from typing import Any, Protocol


class RunSink(Protocol):
    def begin(self, doc: dict[str, Any]) -> None:
        """The run has started; ``doc`` is the run document so far."""

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        """One complete second: a row per request name, and the generator's row."""

    def update(self, doc: dict[str, Any]) -> None:
        """The running totals after a second."""

    def end(self, doc: dict[str, Any]) -> None:
        """The final document; nothing follows."""


class NullSink:
    def begin(self, doc: dict[str, Any]) -> None:
        pass

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        pass

    def update(self, doc: dict[str, Any]) -> None:
        pass

    def end(self, doc: dict[str, Any]) -> None:
        pass


class TeeSink:
    """Hands every event to several sinks in order (the run directory first, so a failing
    exporter can never cost the stored results)."""

    def __init__(self, *sinks: RunSink) -> None:
        self.sinks = sinks

    def begin(self, doc: dict[str, Any]) -> None:
        for s in self.sinks:
            s.begin(doc)

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        for s in self.sinks:
            s.interval(second, rows, generator)

    def update(self, doc: dict[str, Any]) -> None:
        for s in self.sinks:
            s.update(doc)

    def end(self, doc: dict[str, Any]) -> None:
        for s in self.sinks:
            s.end(doc)
