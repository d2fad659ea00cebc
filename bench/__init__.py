"""Benchmarks of the op ladders and lessons (pytest-benchmark), and what times them: the suite's timers and rounds,
the calibration of this machine, the pytest plugin, shards and budgets. The command line lives in dnnbench/."""
