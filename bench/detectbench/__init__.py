"""The change-point evaluation harness of ``bench/bench_detect.py``: scoring and series."""
