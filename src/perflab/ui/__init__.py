"""The web dashboard over the run catalog (``perflab ui``) and a live run (``--ui``).

``create_app(catalog, token=..., hub=...)`` builds the Starlette app; :class:`LiveHub` is the
run sink that feeds the live page; :func:`check_bind` refuses a network bind without a token.
Pages are the HTML report's own templates and figures (``perflab.report.html``), served with
plotly.js from the installed plotly package, so the dashboard works offline. Names load
lazily: Starlette and uvicorn are imported only when a dashboard is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.ui.app import create_app
    from perflab.ui.auth import check_bind, is_loopback
    from perflab.ui.live import LiveHub, RunFollower
    from perflab.ui.server import BackgroundServer, LiveDashboard, bind, parse_listen, serve

__all__ = [
    "BackgroundServer",
    "LiveDashboard",
    "LiveHub",
    "RunFollower",
    "bind",
    "check_bind",
    "create_app",
    "is_loopback",
    "parse_listen",
    "serve",
]
_HOMES = {
    "create_app": "perflab.ui.app",
    "check_bind": "perflab.ui.auth",
    "is_loopback": "perflab.ui.auth",
    "LiveHub": "perflab.ui.live",
    "RunFollower": "perflab.ui.live",
    "BackgroundServer": "perflab.ui.server",
    "LiveDashboard": "perflab.ui.server",
    "bind": "perflab.ui.server",
    "parse_listen": "perflab.ui.server",
    "serve": "perflab.ui.server",
}

__getattr__ = lazy_exports(__name__, _HOMES)
