"""The benchmark matrix, for ``pytest bench -o addopts= --snnbench-precision float32``.

One test per (configuration, phase) case; the test itself lives in the package
(:mod:`snnbench.measure.bench_cases`) so that ``snnbench bench`` works from a wheel.
"""

from snnbench.measure.bench_cases import test_case

__all__ = ["test_case"]
