"""The benchmark's own data: a deterministic Zarr v3 array of N uncompressed 512 x 512 uint16 chunks.

Each chunk is one object of exactly 512 KiB (~0.5 MB), so every strategy moves the same bytes and
decoding costs nothing. Without an endpoint, :func:`bench_target` starts a private local cloud
serving the array; with one, it writes the array to that cloud's scratch bucket (and removes it
afterwards), and can change the cloud's conditions for the run (restoring them afterwards).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import zarr

from ..cloud import SCRATCH_BUCKET, Cloud, CloudError, cloud_status, start_cloud
from ..storage import close_filesystem, s3_filesystem
from .strategies import BenchTarget, target_for_array

CHUNK_SHAPE = (512, 512)
DTYPE = np.uint16
CHUNK_BYTES = CHUNK_SHAPE[0] * CHUNK_SHAPE[1] * np.dtype(DTYPE).itemsize
SEED = 64


def bench_array_path(n_chunks: int) -> str:
    """Key prefix of the benchmark array with ``n_chunks`` chunks."""
    return f"bench/chunks-{n_chunks}x512KiB.zarr"


def write_bench_array(store: zarr.abc.store.Store | str | Path, n_chunks: int) -> zarr.Array:
    """Write the (n_chunks, 512, 512) uint16 array, one uncompressed chunk per plane, to ``store``."""
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
    with zarr.config.set({"async.concurrency": 64}):
        for start in range(0, n_chunks, 64):  # 64 planes = 32 MB at a time
            stop = min(n_chunks, start + 64)
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
    progress: Callable[[str], None] = print,
) -> Iterator[BenchTarget]:
    """The benchmark array served by a cloud, for the duration of a ``with`` block.

    Args:
        endpoint: a running course cloud (``python -m helpers.cloud serve``); ``None`` starts a
            private one (100 ms latency unless ``latency_ms`` says otherwise).
        n_chunks: number of 512 KiB chunks.
        latency_ms, bandwidth_mbps: conditions for the run; on an existing cloud they are only
            changed when given (``bandwidth_mbps=0`` removes a cap) and restored afterwards.
    """
    path = bench_array_path(n_chunks)
    if endpoint is None:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            write_bench_array(str(Path(tmp) / path), n_chunks)
            progress(
                f"starting a private local cloud with {n_chunks} chunks of {CHUNK_BYTES} bytes..."
            )
            latency = 100.0 if latency_ms is None else latency_ms
            with start_cloud(
                latency_ms=latency, bandwidth_mbps=bandwidth_mbps or None, data=Path(tmp)
            ) as cloud:
                yield target_for_array(cloud.endpoint, cloud.public_bucket, path)
        return
    try:
        before = cloud_status(endpoint)
    except CloudError as err:
        raise ValueError(f"--endpoint must name a running course cloud: {err}") from None
    cloud = Cloud(endpoint, before["public_bucket"], before.get("scratch_bucket", SCRATCH_BUCKET))
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
                **{k: before[k] for k in ("latency_ms", "jitter_ms", "bandwidth_mbps")}
            )
        with contextlib.suppress(Exception):  # tidy up the scratch bucket; harmless if it fails
            s3_filesystem(endpoint, skip_instance_cache=True).rm(
                f"{scratch}/{path}", recursive=True
            )


__all__ = ["CHUNK_BYTES", "bench_array_path", "bench_target", "write_bench_array"]
