"""Shared timing helper of the benchmark scripts (run them as `python benchmarks/NAME.py`)."""

import time


def best_seconds(fn, repeats):
    """Min wall time of `repeats` calls of `fn` after one warm-up call (jit compile, allocators).
    The minimum is the figure least disturbed by other processes on a shared machine."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
