"""The download benchmark's own array: N uncompressed 512 x 512 uint16 chunks of 512 KiB each.

Each chunk is one object of exactly 512 KiB (~0.5 MB), so every strategy moves the same bytes and
decoding costs nothing. The pixels are seeded noise: the same bytes on every run. Without an
endpoint, :func:`bench_target` starts a private local cloud serving the array; with one, it writes
the array to that cloud's scratch bucket (and removes it afterwards), and can change the cloud's
conditions for the run (restoring them afterwards).

Examples
--------
>>> from course_tools.bench.array import CHUNK_BYTES, bench_array_path
>>> CHUNK_BYTES
524288
>>> bench_array_path(64)
'bench/chunks-64x512KiB.zarr'
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import zarr
from zarr.abc.store import Store

from course_tools.bench.strategies import BenchTarget, target_for_array
from course_tools.cloud.launch import start_cloud
from helpers.cloud import DEFAULT_LATENCY_MS, Cloud, CloudError, cloud_status
from helpers.storage import close_filesystem, s3_filesystem

__all__ = ["CHUNK_BYTES", "bench_array_path", "bench_target", "write_bench_array"]

logger = logging.getLogger(__name__)

CHUNK_SHAPE = (512, 512)
DTYPE = np.uint16
CHUNK_BYTES = CHUNK_SHAPE[0] * CHUNK_SHAPE[1] * np.dtype(DTYPE).itemsize
"""Bytes of one chunk (= one object): 512 KiB."""
SEED = 64
WRITE_BATCH = 64
"""Planes written at a time (64 x 512 KiB = 32 MB of memory)."""


def bench_array_path(n_chunks: int) -> str:
    """Key prefix of the benchmark array with ``n_chunks`` chunks.

    Parameters
    ----------
    n_chunks : int
        Number of chunks of the array.

    Returns
    -------
    str
        E.g. ``"bench/chunks-64x512KiB.zarr"``.
    """
    return f"bench/chunks-{n_chunks}x512KiB.zarr"


def write_bench_array(store: Store | str | Path, n_chunks: int) -> zarr.Array:
    """Write the (n_chunks, 512, 512) uint16 array, one uncompressed chunk per plane, to ``store``.

    Parameters
    ----------
    store : zarr store, str or Path
        Where to write (a local path or any zarr store); an existing array there is replaced.
    n_chunks : int
        Number of chunks (planes), at least 1.

    Returns
    -------
    zarr.Array
        The written array.

    Raises
    ------
    ValueError
        ``n_chunks`` is not an integer >= 1.
    """
    if isinstance(n_chunks, bool) or not isinstance(n_chunks, int) or n_chunks < 1:
        raise ValueError(f"the number of chunks must be an integer >= 1, got {n_chunks!r}")
    array = zarr.create_array(
        store,
        shape=(n_chunks, *CHUNK_SHAPE),
        chunks=(1, *CHUNK_SHAPE),
        dtype=DTYPE,
        compressors=None,
        fill_value=0,
        zarr_format=3,
        overwrite=True,
    )
    rng = np.random.default_rng(SEED)
    with zarr.config.set({"async.concurrency": WRITE_BATCH}):
        for start in range(0, n_chunks, WRITE_BATCH):
            stop = min(n_chunks, start + WRITE_BATCH)
            array[start:stop] = rng.integers(
                0, 2**16, size=(stop - start, *CHUNK_SHAPE), dtype=DTYPE
            )
    return array


@contextlib.contextmanager
def bench_target(
    endpoint: str | None = None,
    n_chunks: int = 64,
    latency_ms: float | None = None,
    bandwidth_mbps: float | None = None,
    progress: Callable[[str], None] = logger.info,
) -> Iterator[BenchTarget]:
    """The benchmark array served by a cloud, for the duration of a ``with`` block.

    Parameters
    ----------
    endpoint : str or None, optional
        A running course cloud (``python -m course_tools cloud serve``); ``None`` starts a private one
        (100 ms latency unless ``latency_ms`` says otherwise).
    n_chunks : int, optional
        Number of 512 KiB chunks.
    latency_ms, bandwidth_mbps : float or None, optional
        Conditions for the run; on an existing cloud they are only changed when given
        (``bandwidth_mbps=0`` removes a cap) and restored afterwards.
    progress : callable, optional
        Receives one line of text per step (default: the module's logger).

    Yields
    ------
    BenchTarget
        The chunks to read.

    Raises
    ------
    ValueError
        ``endpoint`` is not a running course cloud.

    Examples
    --------
    >>> with bench_target(n_chunks=8, latency_ms=20) as target:  # doctest: +SKIP
    ...     len(target.keys)
    8
    """
    path = bench_array_path(n_chunks)
    if endpoint is None:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            write_bench_array(str(Path(tmp) / path), n_chunks)
            progress(
                f"starting a private local cloud with {n_chunks} chunks of {CHUNK_BYTES} bytes..."
            )
            latency = DEFAULT_LATENCY_MS if latency_ms is None else latency_ms
            with start_cloud(
                latency_ms=latency, bandwidth_mbps=bandwidth_mbps or None, data=Path(tmp)
            ) as cloud:
                yield target_for_array(cloud.endpoint, cloud.public_bucket, path)
        return
    try:
        before = cloud_status(endpoint)
    except CloudError as err:
        raise ValueError(f"--endpoint must name a running course cloud: {err}") from None
    cloud = Cloud(endpoint, before.public_bucket, before.scratch_bucket)
    scratch = cloud.scratch_bucket
    progress(f"writing {n_chunks} chunks to s3://{scratch}/{path} on {endpoint}...")
    writer = s3_filesystem(endpoint, asynchronous=True, skip_instance_cache=True)
    try:
        write_bench_array(zarr.storage.FsspecStore(writer, path=f"{scratch}/{path}"), n_chunks)
    finally:
        close_filesystem(writer)
    changes: dict[str, float | None] = {}
    if latency_ms is not None:
        changes["latency_ms"] = latency_ms
    if bandwidth_mbps is not None:
        changes["bandwidth_mbps"] = bandwidth_mbps or None
    try:
        if changes:
            cloud.set_conditions(**changes)
        yield target_for_array(endpoint, scratch, path)
    finally:
        if changes:
            cloud.set_conditions(
                **{k: getattr(before, k) for k in ("latency_ms", "jitter_ms", "bandwidth_mbps")}
            )
        with contextlib.suppress(Exception):  # tidy up the scratch bucket; harmless if it fails
            s3_filesystem(endpoint, skip_instance_cache=True).rm(
                f"{scratch}/{path}", recursive=True
            )
