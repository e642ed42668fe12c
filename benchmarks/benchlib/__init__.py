"""Helpers of ``benchmarks/run.py``: processes, load generation, data, profiling, reporting."""
