"""Traffic replay: access logs (common, combined) and HAR files into a replay plan.

``load_replay(path, speed=..., rate=..., limit=...)`` parses and times the requests; the
engine then replays the :class:`~perflab.model.ReplayPlan` set on ``RunSpec.replay``.

Modules: :mod:`.parse` (entry points, format detection, gzip), :mod:`.accesslog`,
:mod:`.har`, :mod:`.names` (metric names with ids collapsed), :mod:`.timing` (spreading,
speed and rate re-timing).
"""

from __future__ import annotations

from perflab.load.replay.names import group_path
from perflab.load.replay.parse import ParsedReplay, load_replay, read_replay
from perflab.load.replay.timing import parse_speed, rates

__all__ = ["ParsedReplay", "group_path", "load_replay", "parse_speed", "rates", "read_replay"]
