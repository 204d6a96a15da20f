"""Reading Zarr stores reliably: retries under a deadline, and no chunk silently read as zeros.

:class:`ReliableStore` wraps the zarr store that :func:`helpers.open_image` builds (s3fs, fsspec
HTTP or the local disk). Every key it reads goes through the same retry loop as the fetch helpers
(:class:`helpers.fetch.Attempts`): transient faults are retried, permanent ones (403...) fail at
once, and one :class:`~helpers.fetch.FetchError` names the key, the fault and the attempts. A retry
re-reads the whole key, so data read after a recovery is byte-identical.

The fill-value trap: Zarr reads a chunk that does not exist as the array's fill value (zeros), with
no error. That is how Zarr is meant to work -- zarr 3 does not write chunks that hold only the fill
value, e.g. most chunks of a label image -- but for an image where every chunk was written (the
course's samples are), a missing chunk is a broken upload, not an empty region. In strict mode
(:func:`helpers.open_image` reads the course's own images strictly, label images not) a missing
chunk raises :class:`MissingChunkError`; :func:`missing_chunks` lists them, for you to judge.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiohttp
import botocore.exceptions
from zarr.abc.store import RangeByteRequest

from ._compat import (
    Buffer,
    BufferPrototype,
    ByteRequest,
    Store,
    WrapperStore,
    array_store,
    buffer_prototype,
    run_sync,
    single_try_filesystem,
)
from .chunks import chunk_keys
from .fetch import (
    DEFAULT_RETRY,
    Attempts,
    FetchError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    gather_at_most,
    parse_retry_after,
)

__all__ = [
    "METADATA_KEYS",
    "MissingChunkError",
    "ReliableStore",
    "classify_fault",
    "is_strict",
    "missing_chunks",
]


logger = logging.getLogger(__name__)
T = TypeVar("T")

METADATA_KEYS = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
"""Names of Zarr metadata documents: they may be absent (a reader probes v3 and v2), chunks not."""
_S3_RETRY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"})
_NOT_RETRIED = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
_RETRIED = (
    TimeoutError,
    ConnectionError,
    aiohttp.ClientError,
    http.client.HTTPException,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.IncompleteReadError,
    OSError,
)


class MissingChunkError(FetchError):
    """A chunk that must exist is absent from ``where`` (strict mode): it is not read as zeros."""

    def __init__(self, key: str, where: str) -> None:
        super().__init__(f"chunk {key!r} of {where}", "missing", 1, 404, verb="reading")
        self.key = key
        RuntimeError.__init__(
            self,
            f"chunk {key!r} of {where} is missing (no such object; 1 attempt: an absent object is "
            "not retried): this image is read strictly "
            "(every chunk must exist), so this is an error, not a region of fill values; list the "
            "absent chunks with helpers.reliable.missing_chunks(image), or pass strict=False "
            "if empty chunks were left out on purpose",
        )


def _http_fault(error: BaseException) -> tuple[int, str, float | None] | None:
    """``(status, text, retry_after_s)`` of an HTTP error answer behind ``error``, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, aiohttp.ClientResponseError):
            headers: Any = seen.headers or {}
            text = f"HTTP {seen.status} {seen.message}".rstrip()
            return seen.status, text, parse_retry_after(headers.get("Retry-After"))
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and "ResponseMetadata" in response:  # botocore ClientError
            meta = response["ResponseMetadata"]
            code = response.get("Error", {}).get("Code")
            headers = meta.get("HTTPHeaders", {})
            status = int(meta.get("HTTPStatusCode") or 0)
            text = f"HTTP {status}" + (f" ({code})" if code else "")
            if code in _S3_RETRY_CODES and status < 500:
                status = 503
            return status, text, parse_retry_after(headers.get("retry-after"))
        seen = seen.__cause__ or seen.__context__
    return None


def classify_fault(
    error: BaseException, policy: RetryPolicy = DEFAULT_RETRY
) -> RetryableError | PermanentError | None:
    """Sort an exception raised by a store read into retryable, permanent or "not a fault" (None).

    HTTP answers (aiohttp, botocore) are sorted by status with ``policy.retry_statuses``; timeouts
    and connection trouble are retryable; a missing file or a refusal is permanent; anything else
    (a bug) is not a fault, to be raised as it is.

    Examples
    --------
    >>> classify_fault(TimeoutError()).reason
    'TimeoutError: no answer in time'
    >>> classify_fault(ValueError("bad selection")) is None
    True
    """
    answer = _http_fault(error)
    if answer is not None:
        status, text, retry_after = answer
        if status in policy.retry_statuses:
            return RetryableError(text, status, retry_after)
        return PermanentError(f"{text} (not retried)", status)
    name = error.__class__.__name__
    detail = str(error) or "no answer in time"
    if isinstance(error, _NOT_RETRIED):
        return PermanentError(f"{name}: {detail} (not retried)")
    if isinstance(error, _RETRIED):
        return RetryableError(f"{name}: {detail}")
    return None


def _is_chunk(key: str) -> bool:
    return key.rsplit("/", 1)[-1] not in METADATA_KEYS


class ReliableStore(WrapperStore[Store]):
    """A read-through zarr store wrapper: retries, a deadline per key, and optionally strict.

    ``retry`` sets attempts, waits and the deadline per key (``store``'s own client should not
    retry); with ``strict``, an absent chunk (not a metadata document: readers probe for those)
    raises :class:`MissingChunkError`; ``where`` names the store in errors.

    Examples
    --------
    >>> import zarr
    >>> store = ReliableStore(zarr.storage.MemoryStore(), strict=True, where="memory")
    >>> zarr.create_array(store, shape=(4,), chunks=(2,), dtype="u1")[:]
    Traceback (most recent call last):
    ...
    helpers.reliable.MissingChunkError: chunk 'c/0' of memory is missing (no such object; 1 attempt: ...): ...
    """

    def __init__(
        self,
        store: Store,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        where: str | None = None,
    ) -> None:
        super().__init__(store)
        self.retry = retry or DEFAULT_RETRY
        self.strict = bool(strict)
        self.where = where or str(store)
        single_try_filesystem(getattr(store, "fs", None))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (e.g. in a Dask worker): keep the inner client from retrying on its own."""
        self.__dict__.update(state)
        single_try_filesystem(getattr(self._store, "fs", None))

    def _with_store(self, store: Store) -> ReliableStore:
        return type(self)(store, self.retry, self.strict, self.where)

    def with_strict(self, strict: bool) -> ReliableStore:
        """The same store, read strictly (absent chunks are errors) or not."""
        return type(self)(self._store, self.retry, strict, self.where)

    def __repr__(self) -> str:
        return f"ReliableStore({self.where!r}, strict={self.strict})"

    @property
    def fs(self) -> Any:
        """The inner store's fsspec filesystem (``AttributeError`` for a local store)."""
        return self._store.fs  # type: ignore[attr-defined]

    @property
    def path(self) -> str:
        """The inner store's root path inside its filesystem (as ``FsspecStore.path``)."""
        return str(getattr(self._store, "path", getattr(self._store, "root", "")))

    async def retrying(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call()`` (one store operation on ``key``, made afresh per attempt) under the retry loop.

        Raises :class:`~helpers.fetch.FetchError` when the faults persist, are permanent, or the
        deadline passes; errors that are no fault (bugs) are raised as they are.
        """
        what = f"chunk {key!r} of {self.where}" if _is_chunk(key) else f"{key!r} of {self.where}"
        attempts = Attempts(what, self.retry, verb="reading")
        for _attempt in attempts:
            timeout = attempts.timeout_s(math.inf)
            try:
                return await asyncio.wait_for(call(), timeout)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - sorted just below; bugs are re-raised
                fault = classify_fault(err, self.retry)
                if fault is None:
                    raise
                if isinstance(err, TimeoutError) and not str(err):  # wait_for's: say how long
                    fault.reason = f"TimeoutError: no complete answer within {timeout:.1f} s"
                await asyncio.sleep(attempts.failed(fault))
        raise AssertionError("unreachable: Attempts.failed raises after the last attempt")

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """Read ``key`` (retried); ``None`` if absent, :class:`MissingChunkError` for a chunk in strict mode."""
        value = await self.retrying(key, lambda: self._store.get(key, prototype, byte_range))
        if value is None and self.strict and _is_chunk(key):
            raise MissingChunkError(key, self.where)
        return value

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        """Several (partial) reads, each through :meth:`get` (retried, strict if set)."""
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    async def exists(self, key: str) -> bool:
        """Whether ``key`` exists (retried)."""
        return await self.retrying(key, lambda: self._store.exists(key))


def is_strict(store: Store) -> bool:
    """Whether ``store`` is a strict :class:`ReliableStore` (absent chunks are errors)."""
    return isinstance(store, ReliableStore) and store.strict


_EXISTS_CONCURRENCY = 32
"""Keys :func:`missing_chunks` checks at once over HTTP."""


async def _listing(store: Store, prefix: str) -> set[str]:
    return {key async for key in store.list_prefix(prefix)}


def _lists_objects(inner: Store) -> bool:
    """False for HTTP stores: a web server has no listing of its objects to trust."""
    protocol = getattr(getattr(inner, "fs", None), "protocol", ())
    protocols = {protocol} if isinstance(protocol, str) else set(protocol)
    return not protocols & {"http", "https"}


def missing_chunks(image_or_array: Any, level: int = 0, region: Any = None) -> list[str]:
    """The chunk keys a level (or region) needs that its store does not hold.

    For the course's images the answer must be ``[]``. Over s3:// and local paths the keys are
    compared with one listing of the level's prefix; over http(s):// (no listing) the first byte
    of each key is read. For a sharded array the keys are its shards'. ``image_or_array`` is an
    opened image (``level`` picks the array) or one array; ``region`` holds ints and slices.

    Examples
    --------
    >>> missing_chunks(open_image("nuclei"), level=0, region=(1, slice(100, 110)))  # doctest: +SKIP
    []
    """
    array = image_or_array.level(level) if hasattr(image_or_array, "level") else image_or_array
    keys = chunk_keys(array, region)
    store = array_store(array)
    prefix = f"{array.path}/" if array.path else ""
    retrying = store if isinstance(store, ReliableStore) else ReliableStore(store)
    inner = store._store if isinstance(store, ReliableStore) else store  # noqa: SLF001
    if _lists_objects(inner):
        present = run_sync(retrying.retrying(prefix, lambda: _listing(store, prefix)))
        return [key for key in keys if f"{prefix}{key}" not in present]

    prototype = buffer_prototype()

    async def exists(key: str) -> bool:  # a 1-byte GET: 404 is "absent", a 503 is retried
        first = RangeByteRequest(0, 1)
        return await retrying.retrying(key, lambda: inner.get(key, prototype, first)) is not None

    checks = (exists(f"{prefix}{key}") for key in keys)
    found = run_sync(gather_at_most(_EXISTS_CONCURRENCY, checks))
    return [key for key, there in zip(keys, found, strict=True) if not there]
