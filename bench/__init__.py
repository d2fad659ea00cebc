"""Benchmarks of the op ladders and lessons (pytest-benchmark), calibration of this machine, and the CLI."""
