"""Sub-millisecond wake-ups for the open-model scheduler.

libuv and epoll timers are millisecond-grained, so a ``call_at`` scheduler starts requests up
to ~1 ms late; spinning fixes that but burns a core. On Linux a ``timerfd`` armed with an
absolute CLOCK_MONOTONIC deadline wakes epoll within the kernel's timer slack (which we lower
to 1 µs for the worker process), so the loop sleeps until just the right moment. Elsewhere we
fall back to ``call_later`` and say so (``precise`` is False).

``time.monotonic_ns()`` reads the same CLOCK_MONOTONIC on Linux, so deadlines computed from it
can be handed to the kernel unchanged.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os
import sys
import time
from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_PR_SET_TIMERSLACK = 29


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """libc, looked up once: ``find_library`` runs ``ldconfig`` in a subprocess (2-10 ms
    here), and the first call used to come from the timer made 2 ms before a run's start,
    so the first few hundred arrivals left milliseconds late."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def lower_timer_slack(libc: ctypes.CDLL | None = None) -> bool:
    """Ask the kernel for 1 µs timer slack (default 50 µs) in this process."""
    libc = libc or _libc()
    if libc is None:
        return False
    return bool(libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0)


class PreciseTimer:
    """One re-armable deadline that calls ``callback()`` on the loop when it is reached.

    Only one deadline is pending at a time: ``arm`` replaces the previous one. Used from the
    loop thread only.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._fd = -1
        self._handle: asyncio.TimerHandle | None = None
        libc = _libc()
        if libc is not None:
            fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd >= 0:
                self._fd = fd
                self._settime = libc.timerfd_settime
                self._spec = _Itimerspec()
                self._spec_ref = ctypes.byref(self._spec)
                loop.add_reader(fd, self._on_readable)

    @property
    def precise(self) -> bool:
        return self._fd >= 0

    def arm(self, deadline_ns: int) -> None:
        if self._fd >= 0:
            deadline_ns = max(deadline_ns, 1)
            self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = divmod(
                deadline_ns, 1_000_000_000
            )
            self._settime(self._fd, _TFD_TIMER_ABSTIME, self._spec_ref, None)
            return
        if self._handle is not None:
            self._handle.cancel()
        delay = max(0.0, (deadline_ns - time.monotonic_ns()) / 1e9)
        self._handle = self._loop.call_later(delay, self._fire)

    def _on_readable(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return
        self._callback()

    def _fire(self) -> None:
        self._handle = None
        self._callback()

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
