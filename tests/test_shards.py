"""helpers.fetch's byte ranges and helpers.shards: byte ranges, shard maths, shard indexes, read plans (no I/O
beyond zarr arrays in memory or in a temporary folder)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec, ShardingCodec, TransposeCodec, ZstdCodec

from helpers.chunks import chunk_keys, chunk_layout, chunk_region
from helpers.fetch import ByteRange, RangeError, check_partial, parse_content_range
from helpers.shards import (
    EMPTY,
    ShardIndex,
    ShardLayout,
    decode_index,
    plan_reads,
    ranges_for_chunks,
    shard_layout,
)

# --------------------------------------------------------------------------------------------
# Byte ranges
# --------------------------------------------------------------------------------------------


def test_byte_range_headers_lengths_and_resolution() -> None:
    span, suffix = ByteRange.span(100, 200), ByteRange.suffix_of(516)
    assert (span.header(), span.length, span.is_suffix) == ("bytes=100-199", 100, False)
    assert (suffix.header(), suffix.length, suffix.is_suffix) == ("bytes=-516", 516, True)
    assert str(ByteRange.span(0, 1)) == "bytes=0-0"
    assert span.resolve(200) == (100, 200)
    assert suffix.resolve(516) == (0, 516)
    assert suffix.resolve(1000) == (484, 1000)
    with pytest.raises(RangeError, match="does not fit in an object of 199 bytes"):
        span.resolve(199)
    with pytest.raises(RangeError, match="does not fit"):
        suffix.resolve(515)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: ByteRange.span(-1, 5), "negative start"),
        (lambda: ByteRange.span(5, 5), "empty byte range"),
        (lambda: ByteRange.span(6, 5), "empty byte range"),
        (lambda: ByteRange.span(0, 2.5), "integer"),
        (lambda: ByteRange.span(True, 5), "integer"),
        (lambda: ByteRange.suffix_of(0), "suffix must be an integer >= 1"),
        (lambda: ByteRange(start=0, stop=4, suffix=4), "not both"),
        (lambda: ByteRange(), "integer start and stop"),
    ],
)
def test_bad_byte_ranges_are_refused(make, message) -> None:
    with pytest.raises(RangeError, match=message):
        make()
    assert issubclass(RangeError, ValueError)


def test_content_range_parsing() -> None:
    assert parse_content_range("bytes 0-99/1000") == (0, 100, 1000)
    assert parse_content_range(" bytes 5-5/*") == (5, 6, None)
    for value, message in [
        ("bytes */1000", "outside the object.*1000 bytes"),
        (None, "without a Content-Range"),
        ("items 0-1/2", "malformed"),
        ("bytes 9-2/10", "inconsistent"),
        ("bytes 0-10/10", "inconsistent"),
    ]:
        with pytest.raises(RangeError, match=message):
            parse_content_range(value)


def test_check_partial_accepts_exact_answers_and_slices_whole_objects() -> None:
    whole = bytes(range(100))
    assert (
        check_partial(ByteRange.span(10, 20), 206, "bytes 10-19/100", whole[10:20]) == whole[10:20]
    )
    assert check_partial(ByteRange.suffix_of(4), 206, "bytes 96-99/100", whole[96:]) == whole[96:]
    assert check_partial(ByteRange.suffix_of(4), 206, "bytes 6-9/*", whole[6:10]) == whole[6:10]
    # a server that ignores Range answers 200 with everything: the bytes are sliced out
    assert check_partial(ByteRange.span(10, 20), 200, None, whole) == whole[10:20]
    assert check_partial(ByteRange.suffix_of(4), 200, None, whole) == whole[96:]
    bad = [
        (ByteRange.span(10, 20), 206, "bytes 0-9/100", whole[:10], "answer holds bytes 0-9 of 100"),
        (ByteRange.suffix_of(4), 206, "bytes 0-3/100", whole[:4], "answer holds bytes 0-3"),
        (ByteRange.span(10, 20), 206, "bytes 10-19/100", whole[10:15], "has 5 bytes, not 10"),
        (ByteRange.span(10, 20), 206, None, whole[10:20], "without a Content-Range"),
        (ByteRange.span(90, 120), 200, None, whole, "does not fit in an object of 100"),
        (ByteRange.span(10, 20), 204, None, b"", "not an answer to a range request"),
    ]
    for requested, status, content_range, body, message in bad:
        with pytest.raises(RangeError, match=message):
            check_partial(requested, status, content_range, body)


def test_fetchers_want_one_range_or_none_per_url() -> None:
    from helpers.fetch import fetch_sequential

    r = ByteRange.span(0, 1)
    for ranges, message in [
        ([r], "1 byte ranges for 2 URLs"),
        (r, "a list with one ByteRange"),
        ([r, (0, 1)], "must be a ByteRange or None"),
    ]:
        with pytest.raises(RangeError, match=message):
            fetch_sequential(["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], ranges=ranges)


# --------------------------------------------------------------------------------------------
# Shard layout maths
# --------------------------------------------------------------------------------------------

LAYOUT = ShardLayout((4, 64, 64), (2, 64, 64), (1, 16, 16), "uint16", "c", "/")
EDGY = ShardLayout((3, 50, 70), (2, 32, 32), (1, 16, 16), "int16", "c", "/", "start")


def test_layout_numbers() -> None:
    assert LAYOUT.chunks_per_shard == (2, 4, 4)
    assert (LAYOUT.shard_grid, LAYOUT.chunk_grid) == ((2, 1, 1), (4, 4, 4))
    assert (LAYOUT.nshards, LAYOUT.nchunks) == (2, 64)
    assert LAYOUT.index_nbytes == 16 * 32 + 4
    assert LAYOUT.index_range() == ByteRange.suffix_of(516)
    assert EDGY.index_range() == ByteRange.span(0, 16 * 8 + 4)
    assert (EDGY.shard_grid, EDGY.chunk_grid, EDGY.nchunks) == ((2, 2, 3), (3, 4, 5), 60)
    assert LAYOUT.objects.sharded and LAYOUT.objects.chunks == (2, 64, 64)
    assert LAYOUT.shard_key((1, 0, 0)) == "c/1/0/0"
    assert ShardLayout((8,), (4,), (2,), "u1", "", ".", index_checksum=False).index_nbytes == 32


@pytest.mark.parametrize("layout", [LAYOUT, EDGY], ids=["exact", "edges"])
def test_inner_chunks_locate_in_shards_and_tile_the_array(layout: ShardLayout) -> None:
    covered = np.zeros(layout.shape, dtype=int)
    for chunk in layout.chunks_for_region():
        shard, local = layout.locate(chunk)
        assert layout.chunk_at(shard, local) == chunk
        shard_pixels = chunk_region(shard, layout.shape, layout.shard_shape)
        pixels = layout.chunk_region(chunk)
        assert all(
            s.start <= p.start and p.stop <= s.stop
            for s, p in zip(shard_pixels, pixels, strict=True)
        )
        covered[pixels] += 1
    assert (covered == 1).all()  # every pixel in exactly one inner chunk


def test_regions_touch_the_right_shards_and_chunks() -> None:
    region = (slice(1, 3), slice(10, 20), slice(60, 64))
    chunks = LAYOUT.chunks_for_region(region)
    assert chunks == [(1, 0, 3), (1, 1, 3), (2, 0, 3), (2, 1, 3)]
    assert LAYOUT.shards_for_region(region) == [(0, 0, 0), (1, 0, 0)]
    assert sorted({LAYOUT.locate(c)[0] for c in chunks}) == LAYOUT.shards_for_region(region)
    assert EDGY.chunks_for_region((2, slice(40, 50), slice(60, 70))) == [
        (2, 2, 3),
        (2, 2, 4),
        (2, 3, 3),
        (2, 3, 4),
    ]
    assert EDGY.locate((2, 3, 4)) == ((1, 1, 2), (0, 1, 0))
    for bad, message in [((9,), "out of range"), ((0, slice(0, 100)), "outside the array")]:
        with pytest.raises(ValueError, match=message):
            LAYOUT.chunks_for_region(bad)
    with pytest.raises(ValueError, match="outside the chunk grid"):
        LAYOUT.locate((4, 0, 0))
    with pytest.raises(ValueError, match="outside a shard"):
        LAYOUT.chunk_at((0, 0, 0), (2, 0, 0))


@pytest.mark.parametrize(
    "args,message",
    [
        (((8, 8), (4,), (2,)), "differ in length"),
        (((8,), (6,), (4,)), "not a multiple"),
        (((8,), (4,), (0,)), "positive"),
    ],
)
def test_inconsistent_layouts_are_refused(args, message) -> None:
    with pytest.raises(ValueError, match=message):
        ShardLayout(*args, "u1", "c", "/")
    with pytest.raises(ValueError, match="index_location"):
        ShardLayout((8,), (4,), (2,), "u1", "c", "/", "middle")


# --------------------------------------------------------------------------------------------
# Layouts from real zarr metadata
# --------------------------------------------------------------------------------------------


def sharded(shape=(4, 64, 64), shards=(2, 64, 64), chunks=(1, 16, 16), location="end", **kw):
    codec = ShardingCodec(
        chunk_shape=chunks, codecs=[BytesCodec(), ZstdCodec()], index_location=location
    )
    return zarr.create_array(
        kw.pop("store", None) or zarr.storage.MemoryStore(),
        shape=shape,
        chunks=shards,
        dtype=kw.pop("dtype", "uint16"),
        serializer=codec,
        compressors=None,
        **kw,
    )


@pytest.mark.parametrize("location", ["end", "start"])
def test_shard_layout_matches_zarr(location, tmp_path: Path) -> None:
    root = tmp_path / "a.zarr"
    array = sharded(shape=(3, 50, 70), shards=(2, 32, 32), location=location, store=root)
    layout = shard_layout(array)
    assert layout == shard_layout(array.metadata.to_dict())
    assert layout.shard_shape == array.shards and layout.chunk_shape == array.chunks
    assert layout.chunk_grid == array.cdata_shape and layout.nchunks == array.nchunks
    assert layout.index_location == location and layout.index_checksum
    # chunk_layout now describes the objects of a sharded array: its shards
    objects = chunk_layout(array)
    assert objects.sharded and objects.chunks == (2, 32, 32) and objects == layout.objects
    array[...] = 1  # every shard written: the objects are exactly the shard keys
    stored = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert sorted(stored) == sorted(["zarr.json", *chunk_keys(array)])
    assert len(chunk_keys(array)) == layout.nshards == 12


def test_shard_index_without_checksum_and_v2_keys() -> None:
    meta = json.loads(json.dumps(sharded().metadata.to_dict()))
    config = meta["codecs"][0]["configuration"]
    config["index_codecs"] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    meta["chunk_key_encoding"] = {"name": "v2", "configuration": {"separator": "."}}
    layout = shard_layout(meta)
    assert not layout.index_checksum and layout.index_nbytes == 16 * 32
    assert layout.shard_key((1, 0, 0)) == "1.0.0"


def _meta(change) -> dict:
    meta = json.loads(json.dumps(sharded().metadata.to_dict()))  # lists, as in a zarr.json
    change(meta)
    return meta


def _set_index_codecs(codecs):
    return lambda m: m["codecs"][0]["configuration"].__setitem__("index_codecs", codecs)


@pytest.mark.parametrize(
    "metadata,message",
    [
        (zarr.create_array({}, shape=(4,), chunks=(2,), dtype="u1").metadata.to_dict(), "not sharded"),
        ({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "<u2"}, "not sharded"),
        ({"zarr_format": 3, "node_type": "group"}, "not an array"),
        ("zarr.json", "expected array metadata"),
        (_meta(lambda m: m["codecs"][0]["configuration"]["codecs"].append(
            {"name": "sharding_indexed", "configuration": {}})), "nested sharding"),
        (_meta(lambda m: m["codecs"].append({"name": "zstd"})), "unsupported codecs"),
        (_meta(lambda m: m["codecs"].insert(0, TransposeCodec(order=(0, 2, 1)).to_dict())),
         "unsupported codecs"),
        (_meta(_set_index_codecs([{"name": "bytes", "configuration": {"endian": "big"}}])),
         "index codecs"),
        (_meta(_set_index_codecs([{"name": "bytes"}, {"name": "gzip"}])), "index codecs"),
        (_meta(_set_index_codecs([])), "index codecs"),
        (_meta(lambda m: m["codecs"][0]["configuration"].pop("chunk_shape")), "chunk_shape"),
        (_meta(lambda m: m["codecs"][0]["configuration"].__setitem__("chunk_shape", [1, 16])),
         "does not match"),
        (_meta(lambda m: m["codecs"][0]["configuration"].__setitem__("chunk_shape", [1, 16, 24])),
         "not a multiple"),
    ],
)  # fmt: skip
def test_bad_sharded_metadata_is_refused_clearly(metadata, message) -> None:
    with pytest.raises(ValueError, match=message):
        shard_layout(metadata)


# --------------------------------------------------------------------------------------------
# Shard indexes
# --------------------------------------------------------------------------------------------


def encode(pairs, checksum=True) -> bytes:
    payload = np.asarray(pairs, dtype="<u8").tobytes()
    return payload + (google_crc32c.value(payload).to_bytes(4, "little") if checksum else b"")


SMALL = ShardLayout((4,), (4,), (1,), "u1", "c", "/")


def test_index_decoding_ranges_and_sizes() -> None:
    index = decode_index(encode([[0, 10], [EMPTY, EMPTY], [10, 5], [15, 0]]), SMALL)
    assert index.chunks_per_shard == (4,)
    assert [index.range((i,)) for i in range(4)] == [
        ByteRange.span(0, 10),
        None,
        ByteRange.span(10, 15),
        None,  # zero bytes: read as the fill value, as zarr does
    ]
    assert (index.nchunks_stored, index.nbytes_stored) == (2, 15)
    with pytest.raises(ValueError, match="outside a shard"):
        index.range((4,))


def test_index_checksum_mismatch_names_both_values() -> None:
    raw = bytearray(encode([[0, 10], [10, 10], [20, 10], [30, 10]]))
    raw[3] ^= 0xFF  # one flipped byte in an offset
    expected = int.from_bytes(raw[-4:], "little")
    actual = google_crc32c.value(bytes(raw[:-4]))
    with pytest.raises(
        ValueError, match=f"expected crc32c {expected:#010x}.*computed {actual:#010x}"
    ):
        decode_index(bytes(raw), SMALL)


def test_bad_indexes_are_refused() -> None:
    good = [[0, 10], [10, 10], [20, 10], [30, 10]]
    with pytest.raises(ValueError, match="has 68 bytes, got 67"):
        decode_index(encode(good)[:-1], SMALL)
    with pytest.raises(
        ValueError, match=r"chunk \(1,\) has offset 18446744073709551615 and length 10"
    ):
        decode_index(encode([[0, 10], [EMPTY, 10], [20, 10], [30, 10]]), SMALL)
    decode_index(encode(good), SMALL, shard_nbytes=40 + 68)  # fits
    with pytest.raises(ValueError, match="outside the chunk bytes 0-39"):
        decode_index(encode(good), SMALL, shard_nbytes=39 + 68)
    start = ShardLayout((4,), (4,), (1,), "u1", "c", "/", "start", index_checksum=False)
    with pytest.raises(ValueError, match="outside the chunk bytes 64-104"):
        decode_index(encode(good, checksum=False), start, shard_nbytes=104)


def test_indexes_written_by_zarr(tmp_path: Path) -> None:
    """Decode the indexes of real shards: their chunks plus the index fill each shard exactly."""
    for location in ("end", "start"):
        root = tmp_path / f"{location}.zarr"
        array = sharded(shape=(3, 50, 70), shards=(2, 32, 32), location=location, store=root)
        data = np.arange(3 * 50 * 70, dtype="uint16").reshape(3, 50, 70)
        data[:, :16, :16] = 0  # the fill value: these inner chunks are left out of their shards
        array[...] = data
        layout = shard_layout(array)
        for shard in layout.shards_for_region():
            raw = (root / layout.shard_key(shard)).read_bytes()
            start, stop = layout.index_range().resolve(len(raw))
            index = decode_index(raw[start:stop], layout, shard_nbytes=len(raw))
            assert index.nbytes_stored + layout.index_nbytes == len(raw)
            for local in itertools.product(*map(range, layout.chunks_per_shard)):
                chunk = layout.chunk_at(shard, local)
                inside = all(i < n for i, n in zip(chunk, layout.chunk_grid, strict=True))
                empty = not inside or chunk[1:] == (0, 0)
                assert (index.range(local) is None) == empty, (shard, local)


def test_ranges_for_chunks_skip_empty_chunks_and_need_every_index() -> None:
    layout = ShardLayout((8,), (4,), (1,), "u1", "c", "/")
    index = ShardIndex(np.array([0, EMPTY, 3, 7], "u8"), np.array([3, EMPTY, 4, 1], "u8"))
    reads = ranges_for_chunks(layout, layout.chunks_for_region((slice(1, 4),)), {(0,): index})
    assert [(r.chunk, r.shard, r.key, r.byte_range) for r in reads] == [
        ((2,), (0,), "c/0", ByteRange.span(3, 7)),
        ((3,), (0,), "c/0", ByteRange.span(7, 8)),
    ]
    assert ranges_for_chunks(layout, [(3,), (1,), (2,)], {(0,): index}) == reads[::-1]
    with pytest.raises(ValueError, match="outside the chunk grid"):
        ranges_for_chunks(layout, [(8,)], {(0,): index})
    with pytest.raises(ValueError, match=r"no index for shard \(1,\) \(key 'c/1'\)"):
        ranges_for_chunks(layout, layout.chunks_for_region((slice(3, 5),)), {(0,): index})
    wrong = ShardIndex(np.zeros(2, "u8"), np.ones(2, "u8"))
    with pytest.raises(ValueError, match="has \\(2,\\) chunks, the layout \\(4,\\)"):
        ranges_for_chunks(layout, layout.chunks_for_region(), {(0,): wrong, (1,): wrong})


# --------------------------------------------------------------------------------------------
# Read plans
# --------------------------------------------------------------------------------------------


def test_plans_count_index_reads_chunk_reads_and_round_trips() -> None:
    plan = plan_reads(LAYOUT, (slice(1, 3), slice(0, 20), slice(0, 20)))
    assert plan.shards == ((0, 0, 0), (1, 0, 0)) == plan.index_reads
    assert len(plan.chunk_reads) == 8 and plan.whole_shard_reads == ()
    assert (plan.requests, plan.round_trips, plan.round_trips_one_by_one) == (10, 2, 5)
    cached = plan_reads(LAYOUT, (slice(1, 3), slice(0, 20), slice(0, 20)), {(0, 0, 0)})
    assert cached.index_reads == ((1, 0, 0),) and cached.requests == 9
    assert cached.round_trips == 2 and cached.round_trips_one_by_one == 5
    warm = plan_reads(LAYOUT, (slice(1, 3), slice(0, 20), slice(0, 20)), set(plan.shards))
    assert (warm.requests, warm.round_trips, warm.round_trips_one_by_one) == (8, 1, 4)


def test_plans_with_whole_shards_follow_zarr() -> None:
    everything = plan_reads(LAYOUT, None, whole_shards=True)
    assert everything.whole_shard_reads == ((0, 0, 0), (1, 0, 0))
    assert (everything.requests, everything.round_trips, everything.round_trips_one_by_one) == (
        2,
        1,
        1,
    )
    mixed = plan_reads(LAYOUT, (slice(1, 4),), whole_shards=True)
    assert mixed.whole_shard_reads == ((1, 0, 0),) and mixed.index_reads == ((0, 0, 0),)
    assert len(mixed.chunk_reads) == 16 and mixed.requests == 18
    assert mixed.round_trips_one_by_one == 17  # zarr reads shard 0's 16 chunks one by one
    # without whole-shard reads, every chunk is a range: 2 indexes + 48 chunks
    assert plan_reads(LAYOUT, (slice(1, 4),)).requests == 50
    # an edge shard is never complete: its chunks outside the array are never needed
    edge = plan_reads(EDGY, None, whole_shards=True)
    assert edge.whole_shard_reads == ((0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1))
    assert len(edge.index_reads) == 8 and edge.requests == 4 + 8 + (60 - 4 * 8)
    assert math.prod(EDGY.shard_grid) == len(edge.shards)
