"""How figures are written for people: one place, so every table agrees."""

from __future__ import annotations


def format_ms(value: float) -> str:
    """Milliseconds with 3 significant digits, seconds from 1 s up."""
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"
