"""Download Zarr chunks over plain HTTP: one chunk = one object = one URL = one GET.

Three ways to fetch the same list of URLs, each returning a :class:`FetchResult` (the bytes in the
order of the URLs, one :class:`RequestTiming` per URL, and a :class:`FetchStats` summary):

- :func:`fetch_sequential` -- one request after another (every request pays the full latency);
- :func:`fetch_threads` -- a pool of ``concurrency`` threads, each with its own keep-alive connection;
- :func:`fetch_async` -- asyncio + aiohttp, at most ``concurrency`` requests in flight (an
  ``asyncio.Semaphore``) over a pool of keep-alive connections. The course's recommended path.

The URLs to fetch come from :func:`chunk_urls`, which reads the array's metadata
(:func:`read_array_metadata`) and lists the chunks a region touches (the key maths is
:mod:`helpers.chunks`).

Byte ranges: every fetcher takes ``ranges=`` (one :class:`~helpers.byteranges.ByteRange` or
``None`` per URL) and then GETs only those bytes (``Range`` header, ``206`` answer checked). That is
how the inner chunks of a sharded array are read (:mod:`~helpers.fetch.shards`):
:func:`read_shard_index` / :func:`read_shard_indexes` read shard indexes,
:func:`fetch_chunks_from_shards` the bytes of the inner chunks a region touches (two rounds of
parallel requests), :func:`decode_chunk` decodes one, and :func:`read_sharded_region` does it all.

Reliability: every request has timeouts (connect and between reads), and every URL a deadline
(30 s by default, all attempts and waits included: nothing hangs); connection errors, truncated
bodies and "try again" answers (408, 429, 5xx) are retried a bounded number of times with jittered
exponential backoff, honouring ``Retry-After`` (:class:`RetryPolicy`); other 4xx answers (404...)
fail at once. A chunk that cannot be fetched raises :class:`FetchError` naming its URL (which holds
the key), the fault and the attempts: no partial result is ever returned. Every answer goes through
:func:`check_answer`, the one place deciding "good / retry / fail", and both clients (and the zarr
store layer, :mod:`helpers.reliable`) retry with the same loop (:class:`helpers.fetch.retry.Attempts`).

Modules: :mod:`~helpers.fetch.retry` (policy, the retry loop), :mod:`~helpers.fetch.errors` (what
can go wrong), :mod:`~helpers.fetch.results` (what a fetch returns), :mod:`~helpers.fetch.urls`
(argument checks), :mod:`~helpers.fetch.blocking` (http.client and threads),
:mod:`~helpers.fetch.aio` (asyncio and aiohttp), :mod:`~helpers.fetch.metadata` (metadata and chunk
URLs over HTTP), :mod:`~helpers.fetch.ranged` (range requests), :mod:`~helpers.fetch.shards`
(inner chunks of shards), :mod:`~helpers.fetch.decode` (their pixels).

Examples
--------
>>> from helpers.fetch import chunk_urls, fetch_async
>>> urls = chunk_urls(level_url, (0, slice(0, 16)))  # doctest: +SKIP
>>> print(fetch_async(urls, 16))  # doctest: +SKIP
async: 16 chunks, 16 requests, 2.10 MB in 0.131 s (concurrency 16, at most 16 in flight)
"""

from __future__ import annotations

from .aio import fetch_async, fetch_many, make_session
from .blocking import fetch_sequential, fetch_threads
from .decode import decode_chunk, read_sharded_region
from .metadata import chunk_urls, read_array_metadata
from .results import FetchResult, FetchStats, RequestTiming
from .retry import (
    DEFAULT_RETRY,
    NO_RETRY,
    FetchError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    check_answer,
    parse_retry_after,
)
from .shards import ShardedRead, fetch_chunks_from_shards, read_shard_index, read_shard_indexes
from .urls import check_url

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "FetchError",
    "FetchResult",
    "FetchStats",
    "PermanentError",
    "RequestTiming",
    "RetryPolicy",
    "RetryableError",
    "ShardedRead",
    "check_answer",
    "check_url",
    "chunk_urls",
    "decode_chunk",
    "fetch_async",
    "fetch_chunks_from_shards",
    "fetch_many",
    "fetch_sequential",
    "fetch_threads",
    "make_session",
    "parse_retry_after",
    "read_array_metadata",
    "read_shard_index",
    "read_shard_indexes",
    "read_sharded_region",
]
