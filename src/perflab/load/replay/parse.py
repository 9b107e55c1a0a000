"""``load_replay(path)``: a log or HAR file in, a :class:`~perflab.model.ReplayPlan` out.

The format is detected from the content, not the name: a file whose first character is
``{`` is a HAR file, anything else is read as an access log (common or combined format, per
line). Gzip-compressed files (by their magic bytes, whatever their name) are decompressed
while reading. Access logs are streamed line by line; a HAR file is one JSON document and is
parsed whole.
"""

from __future__ import annotations

import gc
import gzip
import itertools
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from perflab.errors import UsageError
from perflab.load.replay.accesslog import AccessLogReader, is_log_line
from perflab.load.replay.har import HarReader
from perflab.load.replay.names import MAX_NAMES, OTHER, fold_rare
from perflab.load.replay.timing import Raw, build_plan, check_timing
from perflab.model.replay import ReplayPlan

SNIFF_LINES = 100  # an access log has a log line among its first this many non-blank lines
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class ParsedReplay:
    """A plan and what a user should know about how it was read."""

    plan: ReplayPlan
    format: str  # "combined", "common" or "har"
    notes: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """What ``plan.skipped`` numbers: lines of a log, entries of a HAR file."""
        return "entry" if self.format == "har" else "line"


def load_replay(
    path: str | Path,
    *,
    speed: float = 1.0,
    rate: float | None = None,
    limit: int | None = None,
) -> ReplayPlan:
    """Parse an access log or HAR file into a replay plan.

    Offsets are the recorded times relative to the first request. Access logs stamp requests
    to the second, so the ``k`` requests of one second are spread evenly over it (at
    ``i/k``); a HAR file's millisecond times are used as they are.

    Args:
        path: the log (``.gz`` or not) or HAR file.
        speed: divide the original offsets by this (2.0 replays twice as fast).
        rate: instead of the original timing, send at this constant rate (requests/s) in the
            original order. Not together with ``speed``.
        limit: keep only the first this many requests.

    Raises:
        UsageError: a missing or unreadable file, an unknown format, a file where no request
            could be parsed (with the first reasons), or bad ``speed``/``rate``/``limit``.
    """
    return read_replay(path, speed=speed, rate=rate, limit=limit).plan


def read_replay(
    path: str | Path,
    *,
    speed: float = 1.0,
    rate: float | None = None,
    limit: int | None = None,
) -> ParsedReplay:
    """:func:`load_replay`, plus the detected format and notes for the user."""
    check_timing(speed, rate, limit)
    source = str(path)
    with _gc_paused(), _open_text(Path(path)) as stream:
        first = _first_char(stream)
        if first == "{":
            har = HarReader()
            har.read(stream, source)
            raws, skipped, lines, fmt, notes = har.raws, har.skipped, har.lines, "har", har.notes
        else:
            log = AccessLogReader(limit)
            notes = _read_log(log, stream, source)
            raws, skipped, lines, fmt = log.raws, log.skipped, log.lines, log.format
    if not raws:
        unit = "entry" if fmt == "har" else "line"
        reasons = "; ".join(f"{unit} {n}: {r}" for n, r in skipped[:3])
        what = f"{len(skipped)} skipped: {reasons}" if skipped else "it is empty"
        raise UsageError(f"{source}: no request could be parsed ({what})")
    notes.extend(_fold_names(raws))
    with _gc_paused():
        plan = build_plan(
            source, raws, skipped=skipped, lines=lines, speed=speed, rate=rate, limit=limit
        )
    return ParsedReplay(plan, fmt, tuple(notes))


def _fold_names(raws: list[Raw]) -> list[str]:
    """Bound the number of request names (see :func:`~.names.fold_rare`); a note if folded."""
    counts = Counter(map(itemgetter(4), raws))
    renames = fold_rare(counts)
    if not renames:
        return []
    for i, raw in enumerate(raws):
        new = renames.get(raw[4])
        if new is not None:
            raws[i] = (raw[0], raw[1], raw[2], raw[3], new, raw[5], raw[6])
    folded = sum(counts[name] for name in renames)
    return [
        f"{len(counts):,} distinct request names: the {MAX_NAMES} most frequent are kept, "
        f"{len(renames):,} rarer ones ({folded:,} requests) are reported as 'METHOD {OTHER}'"
    ]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of acyclic records are made.

    Every few hundred allocations the collector would otherwise walk the ever-growing list of
    live records; that doubled the cost of building a plan from a 1M-line log.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    """The file as text (UTF-8; undecodable bytes kept as surrogates), gunzipped if needed."""
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == _GZIP_MAGIC:
            stream: IO[str] = gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape")
        else:
            stream = path.open(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise UsageError(f"replay file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"replay file {str(path)!r} is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read replay file {str(path)!r}: {exc.strerror}") from None
    with stream:
        try:
            yield stream
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise UsageError(f"{path}: corrupt gzip data: {exc}") from None
        except EOFError:
            raise UsageError(f"{path}: the gzip data ends early (truncated file?)") from None


def _first_char(stream: IO[str]) -> str:
    """The first non-blank character (a BOM skipped), leaving the stream at the start."""
    head = stream.read(4096).lstrip("\ufeff \t\r\n")
    stream.seek(0)
    return head[:1]


def _read_log(log: AccessLogReader, stream: IO[str], source: str) -> list[str]:
    """Stream the log into ``log``; refuse early when its start is not an access log at all."""
    notes: list[str] = []
    head = list(itertools.islice(stream, SNIFF_LINES))
    if "\x00" in "".join(head[:5]):
        raise UsageError(f"{source}: unknown format: a binary file, not an access log or HAR")
    if head and not any(is_log_line(line) for line in head):
        raise UsageError(
            f"{source}: unknown format: none of the first {len(head)} lines is an access-log "
            "line in the common or combined format, and it is not a HAR (JSON) file"
        )
    log.feed(head)
    if not log.full:
        try:
            log.feed(stream, first=len(head) + 1)
        except EOFError:
            notes.append(f"the gzip data ends early after line {log.lines} (truncated file?)")
    return notes
