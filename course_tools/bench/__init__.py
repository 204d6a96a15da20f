"""Every speed figure of the course, behind one command: ``python -m course_tools bench [COMMAND]``.

- ``download`` (the default) -- how fast can N chunks be fetched, sequentially and with C requests
  in flight? The course's fetch helpers (:mod:`helpers.fetch`) against the libraries a user would
  pick instead (zarr over default or tuned s3fs, zarr over obstore, s3fs ``cat``) and the latency
  model ``ceil(N / C) x latency`` (:mod:`helpers.model`). Modules: :mod:`.array` (the benchmark's
  own array), :mod:`.strategies`, :mod:`.download`, :mod:`.plot`.
- ``browse`` -- a scripted tour of views in the viewer (:mod:`course_tools.bench.browse`, the tour
  itself in :mod:`course_tools.bench.tour`).
- ``segment`` -- distributed segmentation on a Dask cluster (:mod:`course_tools.bench.segment`).
- ``cloud`` -- what the local cloud really does (:mod:`course_tools.bench.cloud`; also
  ``python -m course_tools bench cloud``).
- ``formats`` -- OME-Zarr against tiled TIFF and HDF5, one random tile per read, the OME-NGFF
  paper's benchmark (:mod:`course_tools.bench.formats`, the machinery in :mod:`course_tools.formats`).

Every speed target lives in :mod:`course_tools.bench.targets`. From a shell::

    python -m course_tools bench                    # private local cloud, 64 chunks of 512 KiB, 100 ms
    python -m course_tools bench --help             # the download flags and the sub-commands
    python -m course_tools bench browse --help

Examples
--------
>>> from course_tools.bench import bench_target, run_benchmark, format_table, plot_benchmark
>>> with bench_target(n_chunks=64) as target:  # doctest: +SKIP
...     records = run_benchmark(target, concurrencies=[1, 16, 64])
>>> print(format_table(records)); plot_benchmark(records)  # doctest: +SKIP
"""

from course_tools.bench.array import CHUNK_BYTES, bench_array_path, bench_target, write_bench_array
from course_tools.bench.download import (
    DEFAULT_CONCURRENCIES,
    BenchRecord,
    TargetCheck,
    check_targets,
    format_checks,
    format_table,
    run_benchmark,
)
from course_tools.bench.plot import plot_benchmark
from course_tools.bench.strategies import (
    RECOMMENDED,
    STRATEGIES,
    BenchTarget,
    Strategy,
    target_for_array,
)

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
    "plot_benchmark",
    "run_benchmark",
    "target_for_array",
    "write_bench_array",
]
