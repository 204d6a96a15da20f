"""What the benchmark compares: the course's fetch helpers and the libraries a user would pick instead.

Every strategy reads the same chunks of one array (a :class:`BenchTarget`). A strategy opens a
:class:`Runner` once (clients, connection pools: not timed); ``runner.warm_up(C)`` opens ``C``
connections (not timed) and ``runner.run(C)`` reads everything with ``C`` requests in flight.

Roles: ``sequential`` (one request after another, the baseline), ``helper`` (helpers.fetch) and
``peer`` (zarr over default s3fs, zarr over the course's tuned s3fs, zarr over obstore, s3fs ``cat``).

Examples
--------
>>> from course_tools.bench.strategies import RECOMMENDED, STRATEGIES
>>> RECOMMENDED, STRATEGIES[RECOMMENDED].role
('fetch_async', 'helper')
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import zarr
from zarr.abc.store import Store

from helpers import fetch
from helpers._compat import buffer_prototype, run_sync
from helpers.chunks import chunk_keys, read_array_metadata
from helpers.storage import close_filesystem, s3_filesystem

__all__ = [
    "RECOMMENDED",
    "STRATEGIES",
    "BenchTarget",
    "Runner",
    "Strategy",
    "target_for_array",
]


@dataclass(frozen=True)
class BenchTarget:
    """The chunks to read: ``keys`` of the array at ``s3://bucket/array_path`` on ``endpoint``.

    ``region`` is what the zarr peers read (``None``: the whole array); it must cover exactly the
    chunks in ``keys``.
    """

    endpoint: str
    bucket: str
    array_path: str
    keys: tuple[str, ...]
    region: tuple[slice, ...] | None = None

    @property
    def urls(self) -> list[str]:
        """Plain HTTP URLs of the chunks."""
        return [f"{self.endpoint}/{self.bucket}/{self.array_path}/{key}" for key in self.keys]

    @property
    def s3_paths(self) -> list[str]:
        """``bucket/key`` paths of the chunks (what s3fs takes)."""
        return [f"{self.bucket}/{self.array_path}/{key}" for key in self.keys]


def target_for_array(
    endpoint: str, bucket: str, array_path: str, region: tuple[slice, ...] | None = None
) -> BenchTarget:
    """A :class:`BenchTarget` for (a region of) an array, listing its chunk keys from its metadata.

    Parameters
    ----------
    endpoint : str
        The S3 endpoint, e.g. ``cloud.endpoint``.
    bucket, array_path : str
        Where the array lives on it.
    region : tuple of slice, optional
        The part to read (``None``: the whole array).

    Returns
    -------
    BenchTarget
        The keys of the chunks ``region`` touches (one metadata request is sent).
    """
    array_path = array_path.strip("/")
    metadata = read_array_metadata(f"{endpoint}/{bucket}/{array_path}")
    keys = tuple(chunk_keys(metadata, region))
    return BenchTarget(endpoint, bucket, array_path, keys, region)


class Runner:
    """Reads a target's chunks; subclasses hold their clients between runs."""

    def __init__(self, target: BenchTarget) -> None:
        self.target = target

    def warm_up(self, concurrency: int) -> None:
        """Open connections (untimed): by default, read the first ``concurrency`` chunks."""

    def run(self, concurrency: int) -> int:
        """Read every chunk with ``concurrency`` in flight; return the number of bytes obtained."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and connections."""


class SequentialRunner(Runner):
    """:func:`helpers.fetch.fetch_sequential`: one GET after another (the concurrency is ignored)."""

    def run(self, concurrency: int) -> int:
        return fetch.fetch_sequential(self.target.urls).nbytes


class FetchAsyncRunner(Runner):
    """:func:`helpers.fetch.fetch_async` with ``concurrency`` requests in flight."""

    def warm_up(self, concurrency: int) -> None:
        fetch.fetch_async(self.target.urls[:concurrency], concurrency)

    def run(self, concurrency: int) -> int:
        return fetch.fetch_async(self.target.urls, concurrency).nbytes


class FetchThreadsRunner(Runner):
    """:func:`helpers.fetch.fetch_threads` with ``concurrency`` threads."""

    def run(self, concurrency: int) -> int:
        return fetch.fetch_threads(self.target.urls, concurrency).nbytes


class ZarrRunner(Runner):
    """zarr 3 reading the region through a store, with ``async.concurrency`` = the concurrency."""

    def __init__(
        self,
        target: BenchTarget,
        store: Store,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(target)
        self.store = store
        self.array = zarr.open_array(store, mode="r")
        self._on_close = on_close

    def warm_up(self, concurrency: int) -> None:
        """Get the first ``concurrency`` chunks straight from the store (opens the connections)."""
        prototype, keys = buffer_prototype(), self.target.keys[:concurrency]

        async def get_all() -> None:
            await asyncio.gather(*(self.store.get(key, prototype) for key in keys))

        run_sync(get_all())

    def run(self, concurrency: int) -> int:
        with zarr.config.set({"async.concurrency": concurrency}):
            region = self.target.region if self.target.region is not None else Ellipsis
            data = np.asarray(self.array[region])
        return data.nbytes

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()


class CatRunner(Runner):
    """s3fs (tuned) ``cat`` of all chunk paths, ``batch_size`` = the concurrency."""

    def __init__(self, target: BenchTarget) -> None:
        super().__init__(target)
        self.fs = s3_filesystem(target.endpoint, skip_instance_cache=True)

    def warm_up(self, concurrency: int) -> None:
        self.fs.cat(self.target.s3_paths[:concurrency], batch_size=concurrency)

    def run(self, concurrency: int) -> int:
        blobs = self.fs.cat(self.target.s3_paths, batch_size=concurrency)
        if len(blobs) != len(self.target.keys):
            raise RuntimeError(f"s3fs cat returned {len(blobs)} of {len(self.target.keys)} chunks")
        return sum(len(b) for b in blobs.values())


def _zarr_over_s3fs(target: BenchTarget, tuned: bool) -> ZarrRunner:
    import s3fs

    if tuned:
        fs = s3_filesystem(target.endpoint, asynchronous=True, skip_instance_cache=True)
    else:  # what a user gets from s3fs.S3FileSystem(anon=True, endpoint_url=...)
        fs = s3fs.S3FileSystem(
            anon=True, endpoint_url=target.endpoint, asynchronous=True, skip_instance_cache=True
        )
    store = zarr.storage.FsspecStore(
        fs, path=f"{target.bucket}/{target.array_path}", read_only=True
    )
    return ZarrRunner(target, store, on_close=lambda: close_filesystem(fs))


def _zarr_over_obstore(target: BenchTarget) -> ZarrRunner:
    from obstore.store import S3Store

    store = S3Store(
        target.bucket,
        prefix=target.array_path,
        endpoint=target.endpoint,
        region="us-east-1",
        skip_signature=True,
        client_options={"allow_http": True},
    )
    return ZarrRunner(target, zarr.storage.ObjectStore(store, read_only=True))


@dataclass(frozen=True)
class Strategy:
    """A way to read the chunks. ``scales``: False for the one-at-a-time baseline (run at C=1 only)."""

    name: str
    role: str
    description: str
    open: Callable[[BenchTarget], Runner]
    scales: bool = True


RECOMMENDED = "fetch_async"
"""The helpers' recommended parallel path (the speed targets apply to it)."""

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "sequential",
            "sequential",
            "helpers.fetch.fetch_sequential: one GET after another",
            SequentialRunner,
            scales=False,
        ),
        Strategy(
            "fetch_async",
            "helper",
            "helpers.fetch.fetch_async: aiohttp, keep-alive pool, semaphore bound (recommended)",
            FetchAsyncRunner,
        ),
        Strategy(
            "fetch_threads",
            "helper",
            "helpers.fetch.fetch_threads: thread pool, one keep-alive connection per thread",
            FetchThreadsRunner,
        ),
        Strategy(
            "zarr+s3fs-default",
            "peer",
            "zarr over s3fs.S3FileSystem(anon=True) defaults: HEAD before GET, 10 connections",
            lambda t: _zarr_over_s3fs(t, tuned=False),
        ),
        Strategy(
            "zarr+s3fs-tuned",
            "peer",
            "zarr over helpers.storage.s3_filesystem: no HEAD, 64 connections (what open_image uses)",
            lambda t: _zarr_over_s3fs(t, tuned=True),
        ),
        Strategy(
            "zarr+obstore",
            "peer",
            "zarr over zarr.storage.ObjectStore(obstore S3Store, skip_signature)",
            _zarr_over_obstore,
        ),
        Strategy(
            "s3fs-cat",
            "peer",
            "s3fs (tuned) cat() of all chunk keys, batch_size = concurrency",
            CatRunner,
        ),
    )
}
"""Every strategy by name, in the order the benchmark runs and prints them."""
