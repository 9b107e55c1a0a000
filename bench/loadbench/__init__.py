"""The parts of bench/bench_load.py, one concern per module."""
