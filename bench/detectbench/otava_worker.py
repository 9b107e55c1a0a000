"""Runs inside Apache Otava's own venv (``bench/.venv-otava``, made by ``bench/setup.sh``):
one JSON series per stdin line in, ``{"indices": [...], "seconds": t}`` per line out.

A long-lived process, so the harness pays Otava's import once, not once per series, and
``seconds`` is Otava's own time for the series (no pipe or start-up cost). Otava's defaults
are used as its CLI uses them (``window_len=50``, ``max_pvalue=0.001``).
"""

import json
import sys
import time

from otava.analysis import compute_change_points


def main() -> None:
    for line in sys.stdin:
        values = json.loads(line)
        started = time.perf_counter()
        points, _weak = compute_change_points(values)
        took = time.perf_counter() - started
        indices = sorted({int(p.index) for p in points})
        print(json.dumps({"indices": indices, "seconds": took}), flush=True)


if __name__ == "__main__":
    main()
