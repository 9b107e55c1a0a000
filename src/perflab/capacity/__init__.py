"""Capacity planning: USL fits, queueing sizing, growth forecasts and live capacity tests.

``fit_usl(concurrency, throughput)`` fits the Universal Scalability Law (:mod:`.usl`). The
analysis modules are pure (arrays in, values out); names load lazily (scipy is slow to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.capacity.usl import UslError, UslFit, fit_usl, usl_throughput

__all__ = ["UslError", "UslFit", "fit_usl", "usl_throughput"]
_HOMES = {
    "UslError": "perflab.capacity.usl",
    "UslFit": "perflab.capacity.usl",
    "fit_usl": "perflab.capacity.usl",
    "usl_throughput": "perflab.capacity.usl",
}

__getattr__ = lazy_exports(__name__, _HOMES)
