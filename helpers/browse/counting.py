"""A zarr store that counts the reads that really go out: the numbers a viewer shows are measured.

:class:`CountingStore` wraps any zarr store (a zarr ``WrapperStore``, through :mod:`helpers._compat`)
and counts every object read, its bytes, the reads that found nothing, and how many ran at once.

Examples
--------
>>> import zarr
>>> from helpers._compat import buffer_prototype, run_sync
>>> store = CountingStore(zarr.storage.MemoryStore())
>>> run_sync(store.get("missing", buffer_prototype())) is None
True
>>> store.snapshot()  # (requests, bytes, missing)
(1, 0, 1)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable

from .._compat import Buffer, BufferPrototype, ByteRequest, Store, WrapperStore

__all__ = ["CountingStore"]


class CountingStore(WrapperStore):
    """A zarr store that forwards every call to ``store`` and counts the reads.

    Attributes
    ----------
    requests : int
        Number of object reads sent (``get`` calls, plus one per key of ``get_partial_values``).
    bytes : int
        Bytes those reads returned.
    missing : int
        Reads that found no object (zarr then fills in the fill value).
    ranges : int
        Those reads that asked for a byte range of the object (shard indexes, inner chunks).
    in_flight, max_in_flight : int
        Reads running now / the most running at once.

    Examples
    --------
    >>> import zarr
    >>> store = CountingStore(zarr.storage.MemoryStore())
    >>> store.snapshot()
    (0, 0, 0)
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.requests = 0
        self.bytes = 0
        self.missing = 0
        self.ranges = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def snapshot(self) -> tuple[int, int, int]:
        """``(requests, bytes, missing)`` now; subtract two snapshots to get what happened between."""
        return self.requests, self.bytes, self.missing

    def _count(self, buffer: Buffer | None) -> None:
        self.requests += 1
        if buffer is None:
            self.missing += 1
        else:
            self.bytes += len(buffer)

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """Read ``key`` from the wrapped store and count the read (``None``: no such object)."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.ranges += byte_range is not None
        try:
            buffer = await self._store.get(key, prototype, byte_range)
        finally:
            self.in_flight -= 1
        self._count(buffer)
        return buffer

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        """Read byte ranges from the wrapped store; each key counts as one read."""
        key_ranges = list(key_ranges)
        self.ranges += sum(r is not None for _, r in key_ranges)
        buffers = await self._store.get_partial_values(prototype, key_ranges)
        for buffer in buffers:
            self._count(buffer)
        return buffers

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        for key, prototype, byte_range in requests:  # through self.get, so they are counted
            yield key, await self.get(key, prototype, byte_range)

    def _with_store(self, store: Store) -> CountingStore:
        return type(self)(store)

    def __repr__(self) -> str:
        return f"CountingStore({self._store!r}, requests={self.requests}, bytes={self.bytes})"
