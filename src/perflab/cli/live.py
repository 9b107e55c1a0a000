"""The live view of a running test: a rich panel on a terminal, a plain line every 5 s in logs."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from perflab.load import Progress

_PLAIN_EVERY_S = 5


def _line(p: Progress, open_model: bool) -> str:
    target = f"{p.target:,.0f}/s" if open_model else f"{p.vus or 0} VUs"
    remaining = max(0.0, p.duration_s - p.elapsed_s)
    return (
        f"{p.elapsed_s:5.0f}s (-{remaining:.0f}s)  target {target}  achieved "
        f"{p.achieved_rps:,.0f}/s  in-flight {p.inflight}  p50 {p.p50_ms:.2f}ms  "
        f"p99 {p.p99_ms:.2f}ms  errors {p.errors} (total {p.errors_total:,})"
        + (f"  dropped {p.dropped_total:,}" if p.dropped_total else "")
    )


def human_console(*, stderr: bool = True) -> Console:
    """Human output: stderr by default (stdout is for --json); wide enough in CI logs."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=160)
    return console


class LiveView:
    def __init__(self, console: Console, *, open_model: bool, enabled: bool) -> None:
        self.console = console
        self.open_model = open_model
        self.enabled = enabled
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.enabled and self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
            self._live.update("starting workers…")
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(et, ev, tb)

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        for message in p.messages:
            self.console.print(message, style="red", highlight=False, markup=False)
        if self._live is None:
            if p.second % _PLAIN_EVERY_S == _PLAIN_EVERY_S - 1:
                self.console.print(_line(p, self.open_model), highlight=False)
            return
        table = Table.grid(padding=(0, 2))
        frac = min(1.0, p.elapsed_s / p.duration_s) if p.duration_s > 0 else 0.0
        bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
        target = f"{p.target:,.0f}/s" if self.open_model else f"{p.vus or 0} VUs"
        table.add_row("progress", f"{bar} {p.elapsed_s:.0f}s / {p.duration_s:.0f}s")
        table.add_row("target / achieved", f"{target} / {p.achieved_rps:,.0f} req/s")
        table.add_row("in flight", f"{p.inflight:,}")
        table.add_row("last second", f"p50 {p.p50_ms:.2f} ms   p99 {p.p99_ms:.2f} ms")
        table.add_row(
            "requests / errors",
            f"{p.requests_total:,} / {p.errors_total:,} ({p.errors} in the last second)",
        )
        if p.dropped_total:
            table.add_row("dropped", f"{p.dropped_total:,} (over --max-inflight)")
        self._live.update(table)
