"""Pure statistics: arrays in, values out. No I/O, no clocks, no asyncio."""

from perflab.stats.histogram import MAX_VALUE_US, SIGNIFICANT_DIGITS, LatencyHistogram

__all__ = ["MAX_VALUE_US", "SIGNIFICANT_DIGITS", "LatencyHistogram"]
