"""Helpers of ``bench/bench_gate.py``: simulated benchmark samples for the gate and its peer."""
