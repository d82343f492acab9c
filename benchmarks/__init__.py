"""Benchmarks of the embedded stack: `python -m benchmarks.pipeline --help`."""
