"""Benchmark: how fast can N chunks be fetched, sequentially and with C requests in flight?

Compares the course's fetch helpers (:mod:`helpers.fetch`) with the libraries a user would pick
instead (zarr over default or tuned s3fs, zarr over obstore, s3fs ``cat``), against the latency
model ``ceil(N / C) x latency``. From a shell::

    python -m helpers.bench                    # private local cloud, 64 chunks of 512 KiB, 100 ms
    python -m helpers.bench --help

From Python::

    from helpers.bench import bench_target, run_benchmark, format_table, plot_benchmark
    with bench_target(n_chunks=64) as target:
        records = run_benchmark(target, concurrencies=[1, 16, 64])
    print(format_table(records)); plot_benchmark(records)
"""

from .data import CHUNK_BYTES, bench_array_path, bench_target, write_bench_array
from .model import ideal_speedup, model_time_s
from .plot import plot_benchmark, plot_scaling
from .run import (
    DEFAULT_CONCURRENCIES,
    BenchRecord,
    TargetCheck,
    check_targets,
    format_checks,
    format_table,
    run_benchmark,
)
from .strategies import RECOMMENDED, STRATEGIES, BenchTarget, Strategy, target_for_array

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_CONCURRENCIES",
    "RECOMMENDED",
    "STRATEGIES",
    "BenchRecord",
    "BenchTarget",
    "Strategy",
    "TargetCheck",
    "bench_array_path",
    "bench_target",
    "check_targets",
    "format_checks",
    "format_table",
    "ideal_speedup",
    "model_time_s",
    "plot_benchmark",
    "plot_scaling",
    "run_benchmark",
    "target_for_array",
    "write_bench_array",
]
