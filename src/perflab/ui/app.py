"""The dashboard as a Starlette app: pages and a small JSON API over the run catalog.

Routes (all GET):

- ``/`` runs, filtered (``name``, ``tag=k=v``, ``since``/``until``); ``/api/runs`` the same
- ``/runs/{ref}`` a run's report page; ``/runs/{ref}/report.html`` the offline file;
  ``/api/runs/{ref}`` its run document (redacted)
- ``/compare?base=A&candidate=B`` (or ``run=A&run=B``, the older being the base)
- ``/trends?name=N`` p99 and throughput per run over time
- ``/live``, ``/runs/{ref}/live`` the run going now; ``/api/live/stream`` its SSE feed

Handlers that read the catalog or render are plain functions, which Starlette runs in its
thread pool: rendering a long run takes a second or two and must not stall the event loop
that is streaming live events.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perflab.compare import compare_runs
from perflab.errors import PerflabError, UsageError
from perflab.report.summary import redacted
from perflab.store.catalog import Catalog
from perflab.store.process import read_process
from perflab.store.rundir import DEFAULT_ROOT, load_run, read_generator, read_intervals
from perflab.store.runrow import RunRow
from perflab.ui import pages
from perflab.ui.auth import TokenMiddleware
from perflab.ui.live import LiveHub, LiveSource, RunFollower, newest_running, sse_events
from perflab.ui.runs import (
    RunFilter,
    list_runs,
    live_row,
    row_json,
    row_view,
    run_names,
    trend_figures,
)

_INDEX_EVERY_S = 2.0
_FOLLOWERS = 16
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class Dashboard:
    """The state behind the routes: the catalog, the live run, followers of running runs."""

    def __init__(self, catalog: Catalog, *, hub: LiveHub | None, runs_root: Path) -> None:
        self.catalog = catalog
        self.hub = hub
        self.runs_root = runs_root
        self._followers: dict[Path, RunFollower] = {}
        self._lock = threading.Lock()
        self._indexed = -_INDEX_EVERY_S

    def chrome(self) -> dict[str, Any]:
        source = self.live_source(None)
        live = live_row(source.event(0)[0]) if source is not None else None
        return {"catalog": self.catalog.url, "live": live}

    def index_new_runs(self) -> None:
        """Pick up runs written under ``runs_root`` (at most every few seconds)."""
        now = time.monotonic()
        if now - self._indexed < _INDEX_EVERY_S:
            return
        self._indexed = now
        try:
            self.catalog.index_directory(self.runs_root)
        except PerflabError:
            pass  # a read-only or busy catalog still lists what it has

    def find(self, ref: str) -> RunRow:
        row = self.catalog.lookup(ref)
        if row is None:
            raise LookupError(f"no run {ref!r} in the catalog {self.catalog.url}")
        return row

    def document(self, row: RunRow) -> tuple[dict[str, Any], Path | None]:
        """The run document from its directory, else as the catalog indexed it."""
        if (row.path / "run.json").exists():
            return load_run(row.path), row.path
        doc = self.catalog.summary(row.id)
        if doc is None:
            raise LookupError(f"run {row.id} has no document")
        return doc, None

    def follower(self, path: Path) -> RunFollower:
        with self._lock:
            found = self._followers.get(path)
            if found is None:
                if len(self._followers) >= _FOLLOWERS:
                    self._followers.pop(next(iter(self._followers)))
                found = self._followers[path] = RunFollower(path)
            return found

    def live_source(self, ref: str | None) -> LiveSource | None:
        """The run ``ref`` names, else the one going now (this process's, or under runs_root)."""
        if ref:
            if self.hub is not None and (self.hub.event(0)[0].get("run") or {}).get("id") == ref:
                return self.hub
            row = self.catalog.lookup(ref)
            return self.follower(row.path) if row is not None else None
        if self.hub is not None:
            return self.hub
        path = newest_running(self.runs_root)
        return self.follower(path.resolve()) if path is not None else None


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def _html(handler: Callable[[Dashboard, Request], Response]) -> Callable[[Request], Response]:
    """Errors a reader can act on become a page: 400 bad input, 404 unknown run, 503 catalog."""

    @functools.wraps(handler)
    def wrapped(request: Request) -> Response:
        dash: Dashboard = request.app.state.dashboard
        try:
            return handler(dash, request)
        except LookupError as exc:
            return _error(dash, request, 404, "Not found", str(exc).strip("'\""))
        except UsageError as exc:
            return _error(dash, request, 400, "Cannot show this", exc.one_line())
        except PerflabError as exc:
            return _error(dash, request, 503, "The catalog is not available", exc.one_line())

    return wrapped


def _error(dash: Dashboard, request: Request, status: int, title: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    try:
        chrome = dash.chrome()
    except PerflabError:
        chrome = {"catalog": dash.catalog.url, "live": None}
    body = pages.page(
        "error.html.j2", root=_root(request), chrome=chrome, title=title, message=message
    )
    return HTMLResponse(body, status_code=status)


def _frame(dash: Dashboard, request: Request) -> dict[str, Any]:
    return {"root": _root(request), "chrome": dash.chrome()}


@_html
def run_list(dash: Dashboard, request: Request) -> Response:
    filters = RunFilter.parse(list(request.query_params.multi_items()))
    dash.index_new_runs()
    rows = list_runs(dash.catalog, filters)
    body = pages.page(
        "runs.html.j2",
        section="runs",
        runs=[row_view(r) for r in rows],
        filters=filters,
        names=run_names(dash.catalog),
        **_frame(dash, request),
    )
    return HTMLResponse(body)


@_html
def api_runs(dash: Dashboard, request: Request) -> Response:
    filters = RunFilter.parse(list(request.query_params.multi_items()))
    dash.index_new_runs()
    return JSONResponse({"runs": [row_json(r) for r in list_runs(dash.catalog, filters)]})


@_html
def run_page(dash: Dashboard, request: Request) -> Response:
    ref = request.path_params["ref"]
    if dash.hub is not None and dash.catalog.lookup(ref) is None:
        current = (dash.hub.event(0)[0].get("run") or {}).get("id")
        if current and current.startswith(ref):  # the live run is indexed when it ends
            return RedirectResponse(f"{_root(request)}/live", status_code=303)
    row = dash.find(ref)
    doc, path = dash.document(row)
    intervals = read_intervals(path) if path is not None else []
    generator = read_generator(path) if path is not None else []
    body = pages.run_page(
        doc, intervals, generator, stored=path is not None, **_frame(dash, request)
    )
    return HTMLResponse(body)


@_html
def run_report(dash: Dashboard, request: Request) -> Response:
    from perflab.report.html import render_run

    row = dash.find(request.path_params["ref"])
    doc, path = dash.document(row)
    if path is None:
        raise LookupError(f"the directory of run {row.id[:12]} is not on this machine")
    text = render_run(doc, read_intervals(path), read_generator(path), read_process(path))
    filename = f"perflab-{row.name or 'run'}-{row.id[:8]}.html".replace('"', "")
    disposition = f'attachment; filename="{filename}"'
    return HTMLResponse(text, headers={"content-disposition": disposition})


@_html
def run_flamegraph(dash: Dashboard, request: Request) -> Response:
    """The flame graph a run's report links to (``profile/flamegraph.html`` beside it)."""
    _, path = dash.document(dash.find(request.path_params["ref"]))
    page = None if path is None else path / "profile" / "flamegraph.html"
    if page is None or not page.is_file():
        raise LookupError("this run has no flame graph (run it with --profile-pid)")
    return HTMLResponse(page.read_text())


@_html
def api_run(dash: Dashboard, request: Request) -> Response:
    doc, _ = dash.document(dash.find(request.path_params["ref"]))
    doc.pop("path", None)
    return JSONResponse(redacted(doc))


@_html
def compare_page(dash: Dashboard, request: Request) -> Response:
    params = request.query_params
    picked = [r for r in params.getlist("run") if r]
    base_ref, cand_ref = params.get("base"), params.get("candidate")
    if not (base_ref and cand_ref):
        if len(picked) != 2:
            raise UsageError("pick two runs to compare (tick two rows in the run list)")
        first, second = (dash.find(r) for r in picked)
        older, newer = sorted((first, second), key=lambda r: r.started_at or "")
        base_ref, cand_ref = older.id, newer.id
        url = f"{_root(request)}/compare?base={base_ref}&candidate={cand_ref}"
        return RedirectResponse(url, status_code=303)
    base_row, cand_row = dash.find(base_ref), dash.find(cand_ref)
    paths = []
    for row in (base_row, cand_row):
        if not (row.path / "run.json").exists():
            raise LookupError(f"the directory of run {row.id[:12]} is not on this machine")
        paths.append(row.path)
    comparison = compare_runs(paths[0], paths[1])
    runs = [(load_run(p), read_intervals(p)) for p in paths]
    body = pages.compare_page(comparison, runs[0], runs[1], **_frame(dash, request))
    return HTMLResponse(body)


@_html
def trends_page(dash: Dashboard, request: Request) -> Response:
    name = (request.query_params.get("name") or "").strip()
    names = run_names(dash.catalog)
    if not name and names:
        name = names[0]
    rows = dash.catalog.list_runs(name=name, limit=500) if name else []
    body = pages.page(
        "trends.html.j2",
        section="trends",
        figures=trend_figures(rows) if rows else {},
        name=name,
        names=names,
        runs=[row_view(r) for r in rows],
        **_frame(dash, request),
    )
    return HTMLResponse(body)


@_html
def live_page(dash: Dashboard, request: Request) -> Response:
    ref = request.path_params.get("ref")
    row = dash.find(ref) if ref else None
    body = pages.page(
        "live.html.j2",
        section="live",
        run_ref=row.id if row is not None else "",
        in_process=dash.hub is not None,
        **_frame(dash, request),
    )
    return HTMLResponse(body)


@_html
def api_live(dash: Dashboard, request: Request) -> Response:
    source = dash.live_source(request.query_params.get("run"))
    if source is None:
        return JSONResponse({"run": None, "active": False, "points": [], "cursor": 0})
    from perflab.ui.live import finite

    return JSONResponse(finite(source.event(0)[0]))


async def live_stream(request: Request) -> Response:
    dash: Dashboard = request.app.state.dashboard
    ref = request.query_params.get("run") or None

    followed: list[LiveSource] = []

    def source() -> LiveSource | None:
        """The run found first, kept to its end: its journal goes away when it finishes."""
        if followed:
            return followed[0]
        found = dash.live_source(ref)
        if found is not None and found.event(0)[0]["run"] is not None:
            followed.append(found)
        return found

    stream = sse_events(source, disconnected=request.is_disconnected)
    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def plotly_js(_request: Request) -> Response:
    """plotly.js from the installed plotly package: offline, and cached by the browser."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(
        path, media_type="text/javascript", headers={"cache-control": "max-age=86400"}
    )


class _SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, no Referer to elsewhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, add if scope["type"] == "http" else send)


def create_app(
    catalog: Catalog,
    *,
    token: str | None = None,
    hub: LiveHub | None = None,
    runs_root: Path = DEFAULT_ROOT,
    hosts: tuple[str, ...] = (),
) -> Starlette:
    """The dashboard over an open ``catalog`` (the caller closes it).

    ``token``: required on every request when given (see :mod:`perflab.ui.auth`).
    ``hub``: the live run of this process (``perflab run --ui``). ``runs_root``: where running
    runs are looked for and new runs indexed from. ``hosts``: extra ``Host`` names accepted
    without a token (the bound address).
    """
    routes = [
        Route("/", run_list),
        Route("/api/runs", api_runs),
        Route("/api/runs/{ref}", api_run),
        Route("/runs/{ref}", run_page),
        Route("/runs/{ref}/report.html", run_report),
        Route("/runs/{ref}/profile/flamegraph.html", run_flamegraph),
        Route("/runs/{ref}/live", live_page),
        Route("/compare", compare_page),
        Route("/trends", trends_page),
        Route("/live", live_page),
        Route("/api/live", api_live),
        Route("/api/live/stream", live_stream),
        Route("/static/plotly.min.js", plotly_js),
        Mount("/static", StaticFiles(directory=pages.STATIC), name="static"),
    ]
    middleware = [
        Middleware(_SecurityHeaders),
        Middleware(TokenMiddleware, token=token, extra_hosts=hosts),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.dashboard = Dashboard(catalog, hub=hub, runs_root=runs_root)
    return app
