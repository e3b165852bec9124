"""Benchmarks (not timed tests): run ``python -m benchmarks``."""
