"""Byte-range fetching and sharded reads: checked against what zarr itself reads, over a local cloud
and over a server that ignores ``Range`` (tests/fault_server.py)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from fault_server import FaultServer, running
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.codecs import BytesCodec, ShardingCodec, ZstdCodec
from zarr.storage import MemoryStore, WrapperStore

from course_tools.cloud.launch import start_cloud
from helpers.chunks import (
    chunk_urls,
    intersect,
    normalize_region,
    read_array_metadata,
    region_shape,
    relative_region,
)
from helpers.cloud import Cloud
from helpers.fetch import (
    NO_RETRY,
    ByteRange,
    FetchError,
    RetryPolicy,
    fetch_async,
    fetch_sequential,
    fetch_threads,
)
from helpers.shards import (
    ShardLayout,
    decode_chunk,
    decode_index,
    fetch_chunks_from_shards,
    plan_reads,
    ranges_for_chunks,
    shard_layout,
)

FETCHERS = {
    "sequential": lambda urls, c=1, **kw: fetch_sequential(urls, **kw),
    "threads": fetch_threads,
    "async": fetch_async,
}


def read_sharded_region(url: str, region: Any, metadata: Any = None) -> np.ndarray:
    """The pixels of ``region``, from the inner chunks that helpers.shards reads by byte range."""
    meta = read_array_metadata(url) if metadata is None else metadata
    layout = shard_layout(meta)
    full = normalize_region(region, layout.shape)
    read = fetch_chunks_from_shards(url, full, layout, 8)
    pixels = {chunk: decode_chunk(raw, meta) for chunk, raw in read.chunks.items()}
    out = np.empty(region_shape(full), dtype=next(iter(pixels.values())).dtype)
    for chunk, values in pixels.items():
        where = layout.chunk_region(chunk)
        part = intersect(where, full)
        assert part is not None
        out[relative_region(part, full)] = values[relative_region(part, where)]
    return out


def make_sharded(store: Any, location: str = "end", edgy: bool = False) -> np.ndarray:
    """Write a small sharded array (zstd inner chunks) with some all-fill (hence empty) chunks.

    ``edgy``: shape (3, 50, 70), shards (2, 32, 32), fill -1 (edge shards and edge chunks);
    otherwise shape (4, 64, 64), shards (2, 64, 64), fill 0 (the layout of the brief).
    """
    shape, shards, fill = ((3, 50, 70), (2, 32, 32), -1) if edgy else ((4, 64, 64), (2, 64, 64), 0)
    codec = ShardingCodec(
        chunk_shape=(1, 16, 16), codecs=[BytesCodec(), ZstdCodec()], index_location=location
    )
    array = zarr.create_array(
        store,
        shape=shape,
        chunks=shards,
        dtype="int16",
        serializer=codec,
        compressors=None,
        fill_value=fill,
    )
    rng = np.random.default_rng(5)
    data = rng.integers(0, 1000, size=shape).astype("int16")
    data[2, :16, :] = fill  # a row of empty inner chunks in shard 1 (not written)
    data[0, 16:32, 16:32] = fill  # one empty chunk in shard 0
    array[...] = data
    return data


# --------------------------------------------------------------------------------------------
# What zarr itself reads, recorded, against what the shard maths predicts
# --------------------------------------------------------------------------------------------


def as_byte_range(request: Any) -> ByteRange | None:
    if request is None:
        return None
    if isinstance(request, RangeByteRequest):
        return ByteRange.span(request.start, request.end)
    if isinstance(request, SuffixByteRequest):
        return ByteRange.suffix_of(request.suffix)
    raise AssertionError(f"zarr sent a byte request the maths does not model: {request!r}")


class RecordingStore(WrapperStore):
    """Records ``(key, byte range)`` of every ``get`` zarr sends to the wrapped store."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.reads: list[tuple[str, ByteRange | None]] = []

    def _with_store(self, store):  # zarr makes a read-only copy on open: it records here too
        copy = type(self)(store)
        copy.reads = self.reads
        return copy

    async def get(self, key, prototype, byte_range=None):
        self.reads.append((key, as_byte_range(byte_range)))
        return await super().get(key, prototype, byte_range)


def predicted_reads(
    layout: ShardLayout, region: Any, shard_bytes: dict[str, bytes]
) -> list[tuple[str, ByteRange | None]]:
    """zarr 3.1.6's reads: a shard whose every chunk is needed in one GET; otherwise its index,
    then one range per non-empty chunk."""
    plan = plan_reads(layout, region, whole_shards=True)
    indexes = {}
    for shard in plan.shards:
        raw = shard_bytes[layout.shard_key(shard)]
        start, stop = layout.index_range().resolve(len(raw))
        indexes[shard] = decode_index(raw[start:stop], layout, len(raw))
    reads: list[tuple[str, ByteRange | None]] = [
        (layout.shard_key(s), None) for s in plan.whole_shard_reads
    ]
    reads += [(layout.shard_key(s), layout.index_range()) for s in plan.index_reads]
    reads += [
        (r.key, r.byte_range)
        for r in ranges_for_chunks(layout, layout.chunks_for_region(region), indexes)
        if r.shard not in plan.whole_shard_reads
    ]
    return reads


REGIONS = [
    (0, slice(0, 20), slice(0, 20)),  # 4 chunks of one shard
    (slice(0, 2),),  # every chunk of shard 0: zarr reads the shard whole
    (slice(1, 3), 5),  # two shards, a row of chunks in each
    (2, slice(0, 20)),  # half of these chunks are empty: no request for them
    (-1, slice(None), slice(30, 34)),
    None,  # everything
]


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("edgy", [False, True], ids=["exact", "edges"])
def test_zarr_reads_exactly_the_predicted_keys_and_ranges(location, edgy) -> None:
    memory = MemoryStore()
    data = make_sharded(memory, location, edgy)
    recorder = RecordingStore(memory)
    array = zarr.open_array(recorder, mode="r")
    layout = shard_layout(array)
    assert layout.index_location == location
    shard_bytes = {
        key: bytes(raw.to_bytes())
        for key, raw in zip(
            layout.objects.keys(), _get_all(memory, layout.objects.keys()), strict=True
        )
    }
    for region in REGIONS:
        recorder.reads.clear()
        pixels = array[region if region is not None else ...]
        full = normalize_region(region, layout.shape)
        assert np.array_equal(np.asarray(pixels).reshape(-1), data[full].reshape(-1))
        seen = [(k, r) for k, r in recorder.reads if not k.endswith("zarr.json")]
        expected = predicted_reads(layout, region, shard_bytes)
        assert Counter(seen) == Counter(expected), region
        assert len(seen) >= 1


def _get_all(store: MemoryStore, keys: list[str]) -> list[Any]:
    from helpers._compat import buffer_prototype, run_sync

    async def get_all() -> list[Any]:
        return [await store.get(key, buffer_prototype()) for key in keys]

    return run_sync(get_all())


# --------------------------------------------------------------------------------------------
# Over the local cloud
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharded_cloud(tmp_path_factory) -> Iterator[tuple[Cloud, Path, dict[str, np.ndarray]]]:
    """A private cloud (20 ms) serving t/a.zarr (end index), t/b.zarr (start index, edges) and
    t/bad.zarr (a copy of a.zarr with a corrupt index in shard 0 and shard 1 missing)."""
    data = tmp_path_factory.mktemp("sharddata")
    arrays = {
        "a": make_sharded(data / "t" / "a.zarr"),
        "b": make_sharded(data / "t" / "b.zarr", "start", edgy=True),
    }
    bad = data / "t" / "bad.zarr"
    shutil.copytree(data / "t" / "a.zarr", bad)
    shard = bad / "c" / "0" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[-10] ^= 0xFF  # inside the index of shard 0
    shard.write_bytes(bytes(raw))
    (bad / "c" / "1" / "0" / "0").unlink()
    with start_cloud(latency_ms=20, data=data) as cloud:
        yield cloud, data, arrays


def meta_of(root: Path) -> dict[str, Any]:
    return json.loads((root / "zarr.json").read_text())


@pytest.mark.parametrize("name", list(FETCHERS))
def test_fetchers_get_exactly_the_requested_bytes(sharded_cloud, name) -> None:
    cloud, data, _ = sharded_cloud
    raw = (data / "t/a.zarr/c/1/0/0").read_bytes()
    url = cloud.url("t/a.zarr/c/1/0/0")
    ranges = [ByteRange.span(0, 10), ByteRange.suffix_of(516), None, ByteRange.span(100, 201)]
    result = FETCHERS[name]([url] * 4, 2, ranges=ranges)
    assert result.data == [raw[:10], raw[-516:], raw, raw[100:201]]
    assert [t.byte_range for t in result.timings] == ranges
    assert [t.nbytes for t in result.timings] == [10, 516, len(raw), 101]
    assert result.nbytes == 10 + 516 + len(raw) + 101 and result.requests == 4


@pytest.mark.parametrize("name", list(FETCHERS))
def test_a_range_outside_the_object_is_a_clear_416(sharded_cloud, name) -> None:
    cloud, data, _ = sharded_cloud
    size = (data / "t/a.zarr/c/1/0/0").stat().st_size
    url = cloud.url("t/a.zarr/c/1/0/0")
    with pytest.raises(FetchError) as info:
        FETCHERS[name]([url], 1, ranges=[ByteRange.span(size, size + 10)])
    message = str(info.value)
    assert f"(Range: bytes={size}-{size + 9}) failed after 1 attempt" in message, message
    assert "HTTP 416" in message and f"outside the object of {size} bytes" in message, message
    assert info.value.status == 416


def test_chunk_urls_of_a_sharded_array_are_its_shards(sharded_cloud) -> None:
    cloud, data, _ = sharded_cloud
    url = cloud.url("t/a.zarr")
    urls = chunk_urls(url)
    assert urls == [f"{url}/c/0/0/0", f"{url}/c/1/0/0"]
    result = fetch_async(urls, 2)
    assert result.data == [(data / "t/a.zarr/c" / k).read_bytes() for k in ("0/0/0", "1/0/0")]


def test_shard_indexes_read_over_http_match_the_files(sharded_cloud) -> None:
    cloud, data, _ = sharded_cloud
    for name in ("a", "b"):
        root = data / "t" / f"{name}.zarr"
        layout = shard_layout(meta_of(root))
        shards = layout.shards_for_region()
        found: dict = {}  # the index reads of a plan with no whole shard: every index
        fetch_chunks_from_shards(cloud.url(f"t/{name}.zarr"), indexes=found, whole_shards=False)
        for shard in shards:
            raw = (root / layout.shard_key(shard)).read_bytes()
            start, stop = layout.index_range().resolve(len(raw))
            local = decode_index(raw[start:stop], layout, len(raw))
            assert np.array_equal(found[shard].offsets, local.offsets)
            assert np.array_equal(found[shard].lengths, local.lengths)
        if name == "a":
            assert found[(1, 0, 0)].nchunks_stored == 32 - 4  # plane 2's first row is empty


@pytest.mark.parametrize("name", ["a", "b"])
def test_bytes_fetched_by_range_decode_to_zarrs_pixels(sharded_cloud, name) -> None:
    cloud, data, arrays = sharded_cloud
    root = data / "t" / f"{name}.zarr"
    meta, url = meta_of(root), cloud.url(f"t/{name}.zarr")
    array = zarr.open_array(root, mode="r")
    layout = shard_layout(meta)
    for region in REGIONS:
        full = normalize_region(region, layout.shape)
        pixels = read_sharded_region(url, region, meta)
        assert pixels.shape == tuple(s.stop - s.start for s in full)
        assert np.array_equal(pixels, array[full]) and np.array_equal(pixels, arrays[name][full])
    read = fetch_chunks_from_shards(url, (slice(1, 3), slice(10, 40)), meta)
    assert list(read.chunks) == layout.chunks_for_region((slice(1, 3), slice(10, 40)))
    for chunk, raw in read.chunks.items():
        where = layout.chunk_region(chunk)
        values = decode_chunk(raw, array)
        assert values.shape == layout.chunk_shape
        cut = tuple(slice(0, s.stop - s.start) for s in where)
        assert np.array_equal(values[cut], array[where]), chunk


def test_cached_indexes_save_a_round_trip(sharded_cloud) -> None:
    cloud, data, _ = sharded_cloud
    meta, url = meta_of(data / "t/a.zarr"), cloud.url("t/a.zarr")
    region = (slice(1, 3), slice(0, 20), slice(0, 40))  # 12 chunks in 2 shards, 3 of them empty
    cache: dict = {}
    cold = fetch_chunks_from_shards(url, region, meta, 8, indexes=cache)
    assert set(cache) == {(0, 0, 0), (1, 0, 0)}
    assert cold.plan.requests == 2 + 12 and cold.round_trips == 2
    empty = [chunk for chunk, raw in cold.chunks.items() if raw is None]
    assert len(empty) == 3
    assert cold.requests == 2 + 12 - 3  # no request for an empty chunk
    warm = fetch_chunks_from_shards(url, region, shard_layout(meta), 8, indexes=cache)
    assert warm.round_trips == 1 and warm.index_fetch is None
    assert warm.requests == 12 - 3 and warm.chunks == cold.chunks
    assert warm.bytes == cold.bytes - 2 * shard_layout(meta).index_nbytes


def test_a_shard_needed_whole_is_one_get(sharded_cloud) -> None:
    cloud, data, _ = sharded_cloud
    meta, url = meta_of(data / "t/a.zarr"), cloud.url("t/a.zarr")
    cache: dict = {}
    region = (slice(0, 3),)  # all of shard 0, half of shard 1
    whole = fetch_chunks_from_shards(url, region, meta, indexes=cache)
    assert whole.plan.whole_shard_reads == ((0, 0, 0),) and whole.plan.index_reads == ((1, 0, 0),)
    assert set(cache) == {(0, 0, 0), (1, 0, 0)}  # the whole shard's index came with it
    ranged = fetch_chunks_from_shards(url, region, meta, whole_shards=False)
    assert whole.chunks == ranged.chunks and list(whole.chunks) == list(ranged.chunks)
    assert (whole.round_trips, ranged.round_trips) == (2, 2)
    assert whole.requests == 1 + 1 + 16 - 4  # shard 0, index 1, plane 2's chunks less 4 empty
    assert ranged.requests == 2 + 32 - 1 + 16 - 4
    shard0 = fetch_chunks_from_shards(url, (slice(0, 2),), meta)
    assert (shard0.requests, shard0.round_trips, shard0.index_fetch) == (1, 1, None)
    assert shard0.bytes == (data / "t/a.zarr/c/0/0/0").stat().st_size


def test_corrupt_index_and_missing_shard_fail_clearly(sharded_cloud) -> None:
    cloud, data, _ = sharded_cloud
    url = cloud.url("t/bad.zarr")
    with pytest.raises(ValueError, match=r"bad\.zarr/c/0/0/0: shard index checksum mismatch"):
        fetch_chunks_from_shards(url, (0,), whole_shards=False)  # its index, by range
    with pytest.raises(FetchError, match=r"bad\.zarr/c/1/0/0 \(Range: bytes=-516\).*HTTP 404"):
        fetch_chunks_from_shards(url, (3,), retry=NO_RETRY)  # never zeros for a lost shard
    with pytest.raises(FetchError, match=r"bad\.zarr/c/1/0/0 failed.*HTTP 404"):
        fetch_chunks_from_shards(url, (slice(2, 4),), retry=NO_RETRY)  # the same, read whole
    with pytest.raises(ValueError, match=r"bad\.zarr/c/0/0/0: shard index checksum mismatch"):
        fetch_chunks_from_shards(url, (slice(0, 2),))  # read whole: its index is checked too


# --------------------------------------------------------------------------------------------
# A server that ignores Range (answers 200 with the whole object) and faults
# --------------------------------------------------------------------------------------------

BODY = bytes(range(256)) * 8
FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, seed=1)


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory) -> Iterator[tuple[FaultServer, dict[str, np.ndarray]]]:
    data = tmp_path_factory.mktemp("plain")
    arrays = {"a": make_sharded(data / "a.zarr"), "b": make_sharded(data / "b.zarr", "start", True)}
    with running(FaultServer()) as server:
        server.files["/x/s"] = BODY
        server.serve_dir("bucket", data)
        yield server, arrays


@pytest.fixture()
def plain(plain_server) -> Iterator[tuple[FaultServer, dict[str, np.ndarray]]]:
    """A server that ignores Range, with no fault and no hit counted yet."""
    plain_server[0].clear()
    yield plain_server
    plain_server[0].clear()


@pytest.mark.parametrize("name", list(FETCHERS))
def test_a_server_ignoring_range_is_sliced(plain, name, caplog) -> None:
    server, _ = plain
    url = server.url("x/s")
    ranges = [ByteRange.span(5, 50), ByteRange.suffix_of(7), None]
    with caplog.at_level(logging.INFO, logger="helpers.fetch"):
        result = FETCHERS[name]([url] * 3, 2, ranges=ranges)
    assert result.data == [BODY[5:50], BODY[-7:], BODY]
    assert len(re.findall("ignored Range", caplog.text)) == 2
    with pytest.raises(
        FetchError, match=r"does not fit in an object of 2048 bytes \(not retried\)"
    ):
        FETCHERS[name]([url], 1, ranges=[ByteRange.span(2000, 2100)], retry=FAST_RETRY)
    assert server.hits["/x/s"] == 4


@pytest.mark.parametrize("name", list(FETCHERS))
def test_range_requests_are_retried_like_whole_objects(plain, name) -> None:
    server, _ = plain
    url = server.url("x/s")
    server.fault("slowdown", "/x/s", times=1)
    result = FETCHERS[name]([url], 1, ranges=[ByteRange.span(5, 50)], retry=FAST_RETRY)
    assert result.data == [BODY[5:50]] and result.timings[0].attempts == 2
    server.fault("slowdown", "/x/s")
    with pytest.raises(FetchError, match=r"/x/s \(Range: bytes=5-49\) failed after 3 attempts"):
        FETCHERS[name]([url], 1, ranges=[ByteRange.span(5, 50)], retry=FAST_RETRY)


def test_sharded_reads_work_when_the_server_ignores_range(plain) -> None:
    server, arrays = plain
    for name in ("a", "b"):
        url = server.url(f"bucket/{name}.zarr")
        region = (slice(1, 3), slice(10, 40))
        full = normalize_region(region, arrays[name].shape)
        assert np.array_equal(read_sharded_region(url, region), arrays[name][full])


def test_bad_ranges_arguments_are_value_errors(plain) -> None:
    server, _ = plain
    url = server.url("x/s")
    for fetch in FETCHERS.values():
        with pytest.raises(ValueError, match="2 byte ranges for 1 URLs"):
            fetch([url], 1, ranges=[None, None])
        with pytest.raises(ValueError, match="one ByteRange"):
            fetch([url], 1, ranges=ByteRange.span(0, 1))
    assert server.hits["/x/s"] == 0
