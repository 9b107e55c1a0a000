"""A CPU-bound Python process whose profile is known in advance.

Each round spends about 80 % of its time in ``hot_loop`` and about 15 % in ``warm``, so a
working sampler must rank ``hot_loop`` first by self time and ``warm`` second. The split is
fixed by the amount of work per round (not by timers), so it holds at any CPU speed.

Run: ``python -m tests.servers.cpu_hot --seconds 3`` (or ``python tests/servers/cpu_hot.py``)
prints ``READY <pid>`` once started, works for the given seconds and prints ``DONE <rounds>``.
``--rounds N`` does a fixed amount of work instead (for timing it);
``--forever`` runs until killed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HOT_ITERATIONS = 80_000
WARM_ITERATIONS = 15_000


def hot_loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def warm(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def one_round(warm_iterations: int = WARM_ITERATIONS) -> int:
    return hot_loop(HOT_ITERATIONS) + warm(warm_iterations)


def run(seconds: float | None, rounds: int | None, warm_iterations: int = WARM_ITERATIONS) -> int:
    """Rounds done: ``rounds`` of them if given, else as many as fit in ``seconds``
    (None: forever)."""
    done = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        if rounds is not None and done >= rounds:
            return done
        if rounds is None and deadline is not None and time.monotonic() >= deadline:
            return done
        one_round(warm_iterations)
        done += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seconds", type=float, default=3.0)
    group.add_argument("--rounds", type=int, default=None)
    group.add_argument("--forever", action="store_true")
    parser.add_argument(
        "--warm-iterations",
        type=int,
        default=WARM_ITERATIONS,
        help="work of warm() per round (a different split, for a known profile change)",
    )
    args = parser.parse_args(argv)
    print(f"READY {os.getpid()}", flush=True)
    seconds = None if args.forever or args.rounds is not None else args.seconds
    done = run(seconds, args.rounds, args.warm_iterations)
    print(f"DONE {done}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
