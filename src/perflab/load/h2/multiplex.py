"""The streams of one HTTP/2 connection on h2's state machine: bytes in, exchanges out.

No I/O and no clock: the connection passes each read's arrival time, takes the bytes to
write, and collects what the handlers leave in ``done`` (completed streams), ``retry``
(streams the server never processed) and the ``freed``/``draining`` flags. That keeps the
protocol logic testable on scripted bytes and the asyncio side small.

Flow control: received data is acknowledged as soon as it is counted (nothing is buffered
that needs protecting), and the windows are opened wide in the preface, so a 1 MB body flows
without waiting for WINDOW_UPDATE round trips. Request bodies are cut to the peer's send
window; the rest waits in ``_blocked`` for a WINDOW_UPDATE.

Invariants: ``streams`` holds exactly the streams open in h2 that have not completed;
``_blocked`` is a subset of it; a stream leaves ``streams`` before it enters ``done`` or
``retry``, and enters one of them exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from h2.events import Event
from h2.settings import SettingCodes
from hyperframe.frame import Frame, GoAwayFrame

from perflab.load.h2.stream import Stream
from perflab.load.http.exchange import ErrorKind

_STREAM_WINDOW = 1 << 20
_CONNECTION_WINDOW = 1 << 24
_DEFAULT_WINDOW = 65535  # every window's size before SETTINGS (RFC 9113, 6.9.2)
_LAST_STREAM_ID = 2**31 - 1  # a long soak test reaches it: ~5 days at 5,000 requests/s
_ASSUMED_MAX_STREAMS = 100
"""The concurrency assumed until the server's SETTINGS arrive (the RFC's recommended minimum);
a server with a lower limit refuses the excess with REFUSED_STREAM, and those are retried."""


class _H2State(h2.connection.H2Connection):
    """h2's connection, except that a GOAWAY leaves it open for the streams still running.

    Stock h2 closes its state machine on GOAWAY and then rejects every frame, so responses
    the server still sends for streams up to ``last_stream_id`` (as nginx does after
    ``keepalive_requests``) would be lost, and it could not send the WINDOW_UPDATEs they
    need. The pool already stops opening streams on a connection that got a GOAWAY.
    """

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[Event]]:
        event = h2.events.ConnectionTerminated()
        event.error_code = _error_code(frame.error_code)
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class Multiplexer:
    """Request streams on one HTTP/2 connection; see the module for what it leaves where."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,  # done once per distinct request: see request.py
            normalize_outbound_headers=False,
        )
        self.h2 = _H2State(config)
        self.streams: dict[int, Stream] = {}
        self.done: list[Stream] = []
        self.retry: list[Stream] = []
        self.unsent: list[Stream] = []
        """Streams whose END_STREAM is queued in h2 but not yet taken by ``data_to_send``."""
        self.freed = False
        """A stream slot freed up (or the limit changed) since the connection last looked."""
        self.draining = False
        """The server sent GOAWAY, or the stream ids ran out: no new streams."""
        self.ids_exhausted = False
        self.goaway_detail = ""
        self._blocked: dict[int, Stream] = {}
        self._settings_known = False
        self._now = 0

    def initiate(self) -> None:
        """Queue the preface, with push off and wide receive windows."""
        h2c = self.h2
        h2c.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                SettingCodes.ENABLE_PUSH: 0,
                SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
                SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
            },
        )
        # Not in RFC 7540: some servers reject the connection when it is present, although
        # unknown settings must be ignored (httpcore drops it for the same reason).
        del h2c.local_settings[SettingCodes.ENABLE_CONNECT_PROTOCOL]
        h2c.initiate_connection()
        h2c.increment_flow_control_window(_CONNECTION_WINDOW - _DEFAULT_WINDOW)

    @property
    def limit(self) -> int:
        """The server's MAX_CONCURRENT_STREAMS, or the assumed one until it is known."""
        if self.draining or self.ids_exhausted:
            return 0
        limit = self.h2.remote_settings.max_concurrent_streams
        if not self._settings_known and limit > _ASSUMED_MAX_STREAMS:
            return _ASSUMED_MAX_STREAMS
        return limit

    def data_to_send(self) -> bytes:
        return self.h2.data_to_send()

    # ----------------------------------------------------------------- sending

    def open(self, stream: Stream, now: int) -> None:
        """Queue a request's HEADERS and as much of its body as the windows allow."""
        h2c = self.h2
        stream_id = h2c.get_next_available_stream_id()
        if stream_id >= _LAST_STREAM_ID - 1:
            self.ids_exhausted = True  # no id is left after this one
        body = stream.body
        try:
            h2c.send_headers(stream_id, stream.headers, end_stream=not body)
        except h2.exceptions.H2Error as exc:
            self.fail(stream, ErrorKind.OTHER, f"request not sendable over HTTP/2: {exc}", now)
            return
        stream.stream_id = stream_id
        self.streams[stream_id] = stream
        if body:
            self._send_body(stream)
        else:
            self.unsent.append(stream)

    def _send_body(self, stream: Stream) -> None:
        h2c = self.h2
        stream_id = stream.stream_id
        body = stream.body
        view = memoryview(body)
        offset = stream.sent
        while True:
            room = min(h2c.local_flow_control_window(stream_id), h2c.max_outbound_frame_size)
            if room <= 0:
                stream.sent = offset
                self._blocked[stream_id] = stream
                return
            size = min(room, len(body) - offset)
            end = offset + size == len(body)
            h2c.send_data(stream_id, view[offset : offset + size], end_stream=end)
            offset += size
            if end:
                stream.sent = offset
                self._blocked.pop(stream_id, None)
                self.unsent.append(stream)
                return

    def _resume_blocked(self) -> None:
        for stream in list(self._blocked.values()):
            self._send_body(stream)

    def expire(self, now: int) -> bool:
        """Fail and reset (CANCEL) the streams past their deadline; True when there were any."""
        late = [s for s in self.streams.values() if s.deadline_ns <= now]
        for stream in late:
            del self.streams[stream.stream_id]
            self._blocked.pop(stream.stream_id, None)
            try:
                self.h2.reset_stream(stream.stream_id, ErrorCodes.CANCEL)
            except h2.exceptions.H2Error:
                pass  # already closed in h2: nothing to cancel
            detail = f"no response within {stream.timeout_ns / 1e9:g}s"
            self.fail(stream, ErrorKind.TIMEOUT, detail, now)
        return bool(late)

    def fail_all(self, kind: ErrorKind, detail: str, now: int) -> None:
        for stream in self.streams.values():
            self.fail(stream, kind, detail, now)
        self.streams.clear()
        self._blocked.clear()
        self.unsent.clear()

    def close(self) -> None:
        """Queue our GOAWAY; nothing when the state machine is past sending one."""
        try:
            self.h2.close_connection()
        except h2.exceptions.H2Error:
            pass

    # ----------------------------------------------------------------- receiving

    def receive(self, data: bytes, now: int) -> None:
        """Handle one read.

        Raises:
            h2.exceptions.H2Error: the server broke the protocol; the connection is unusable.
        """
        self._now = now
        handlers = _HANDLERS
        for event in self.h2.receive_data(data):
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event)

    def _on_response(self, event: h2.events.ResponseReceived) -> None:
        stream = self.streams.get(event.stream_id or 0)
        if stream is None:
            return
        ex = stream.exchange
        if not ex.first_byte_ns:
            ex.first_byte_ns = self._now
        headers = event.headers
        for name, value in headers:  # pseudo-headers come first (h2 checks it)
            if name == b":status":
                ex.status = int(value)
                break
        ex.bytes_in += _header_list_size(headers)
        if stream.keep_body:
            stream.response_headers = [(n, v) for n, v in headers if n[:1] != b":"]

    def _on_informational(self, event: h2.events.InformationalResponseReceived) -> None:
        stream = self.streams.get(event.stream_id or 0)
        if stream is not None:
            ex = stream.exchange
            if not ex.first_byte_ns:
                ex.first_byte_ns = self._now
            ex.bytes_in += _header_list_size(event.headers)

    def _on_trailers(self, event: h2.events.TrailersReceived) -> None:
        stream = self.streams.get(event.stream_id or 0)
        if stream is not None:
            stream.exchange.bytes_in += _header_list_size(event.headers)
            if stream.keep_body:
                stream.response_headers.extend(event.headers)

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id or 0
        self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        stream = self.streams.get(stream_id)
        if stream is not None:
            data = event.data
            stream.exchange.bytes_in += len(data)
            if stream.keep_body:
                stream.chunks.append(data)

    def _on_ended(self, event: h2.events.StreamEnded) -> None:
        stream_id = event.stream_id or 0
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        self.freed = True
        ex = stream.exchange
        if self._blocked.pop(stream_id, None) is not None:
            # The server answered before the whole body was sent: stop sending it.
            try:
                self.h2.reset_stream(stream_id, ErrorCodes.CANCEL)
            except h2.exceptions.H2Error:
                pass  # the server closed it first
        if not ex.sent_ns:  # answered early, or END_STREAM still unwritten
            ex.sent_ns = ex.first_byte_ns
        ex.done_ns = self._now
        if stream.keep_body:
            ex.headers = stream.response_headers
            ex.body = b"".join(stream.chunks)
        self.done.append(stream)

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        stream_id = event.stream_id or 0
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        self.freed = True
        self._blocked.pop(stream_id, None)
        code = event.error_code
        if not event.remote_reset:  # h2 reset it: the server broke the protocol on it
            self.fail(stream, ErrorKind.PROTOCOL, f"stream error {_code_name(code)}", self._now)
        elif code == ErrorCodes.REFUSED_STREAM and not stream.exchange.retried:
            self.retry.append(stream)  # refused streams were not processed (RFC 9113, 8.7)
        else:
            self.fail(stream, ErrorKind.RESET, f"RST_STREAM {_code_name(code)}", self._now)

    def _on_window_updated(self, event: h2.events.WindowUpdated) -> None:
        if self._blocked:
            self._resume_blocked()

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        self._settings_known = True
        self.freed = True  # MAX_CONCURRENT_STREAMS may have grown
        if self._blocked and SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._resume_blocked()

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """Retry the streams the server never processed; let the others finish.

        Streams up to ``last_stream_id`` may still be answered (RFC 9113, 6.8); if the server
        closes first they fail as on any lost connection. A server may send two GOAWAYs (the
        first with the highest id, as a warning), so this can run twice.
        """
        last = event.last_stream_id or 0
        name = _code_name(event.error_code)
        for stream_id, stream in list(self.streams.items()):
            if stream_id <= last:
                continue
            del self.streams[stream_id]
            self._blocked.pop(stream_id, None)
            if stream.exchange.retried:
                detail = f"GOAWAY ({name}): not processed, and already retried once"
                self.fail(stream, ErrorKind.CLOSED, detail, self._now)
            else:
                self.retry.append(stream)
        self.draining = True
        self.goaway_detail = f"closed after GOAWAY ({name})"

    def fail(self, stream: Stream, kind: ErrorKind, detail: str, now: int) -> None:
        """Complete ``stream`` with an error (it must not be in ``streams``)."""
        ex = stream.exchange
        ex.status = 0
        ex.error = kind
        ex.error_detail = detail
        ex.done_ns = now
        self.done.append(stream)


_HANDLERS: dict[type[h2.events.Event], Callable[[Multiplexer, Any], None]] = {
    h2.events.ResponseReceived: Multiplexer._on_response,
    h2.events.DataReceived: Multiplexer._on_data,
    h2.events.StreamEnded: Multiplexer._on_ended,
    h2.events.StreamReset: Multiplexer._on_reset,
    h2.events.WindowUpdated: Multiplexer._on_window_updated,
    h2.events.RemoteSettingsChanged: Multiplexer._on_settings,
    h2.events.ConnectionTerminated: Multiplexer._on_goaway,
    h2.events.InformationalResponseReceived: Multiplexer._on_informational,
    h2.events.TrailersReceived: Multiplexer._on_trailers,
}


def _header_list_size(headers: list[tuple[bytes, bytes]]) -> int:
    """Header bytes as SETTINGS_MAX_HEADER_LIST_SIZE counts them (RFC 9113, 6.5.2).

    HPACK compresses across streams, so the wire bytes of one response's headers cannot be
    told apart; ``Exchange.bytes_in`` counts this size plus the DATA payload instead.
    """
    return sum(len(name) + len(value) for name, value in headers) + 32 * len(headers)


def _code_name(code: ErrorCodes | int | None) -> str:
    return code.name if isinstance(code, ErrorCodes) else f"error code {code}"


def _error_code(code: int) -> ErrorCodes | int:
    try:
        return ErrorCodes(code)
    except ValueError:  # an extension's code: kept as a number
        return code
