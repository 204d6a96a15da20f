"""helpers.chunks: chunk keys for both Zarr formats, regions; helpers.fetch: metadata over HTTP."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest
import zarr

from helpers.chunks import ChunkLayout, chunk_keys, chunk_layout, chunk_urls, read_array_metadata
from helpers.cloud import Cloud
from helpers.fetch import fetch_async

ENCODINGS = [
    (2, {"name": "v2", "separator": "."}),
    (2, {"name": "v2", "separator": "/"}),
    (3, {"name": "default", "separator": "/"}),
    (3, {"name": "default", "separator": "."}),
    (3, {"name": "v2", "separator": "."}),
    (3, {"name": "v2", "separator": "/"}),
]


def _stored_chunk_keys(root: Path) -> set[str]:
    metadata = {"zarr.json", ".zarray", ".zattrs", ".zgroup"}
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in metadata
    }


@pytest.mark.parametrize("shape,chunks", [((7, 10, 9), (2, 4, 9)), ((5,), (5,)), ((3, 4), (1, 1))])
@pytest.mark.parametrize("fmt,encoding", ENCODINGS, ids=lambda e: str(e))
def test_chunk_keys_are_the_keys_zarr_writes(tmp_path, fmt, encoding, shape, chunks) -> None:
    root = tmp_path / "a.zarr"
    array = zarr.create_array(
        root,
        shape=shape,
        chunks=chunks,
        dtype="u1",
        zarr_format=fmt,
        chunk_key_encoding=encoding,
        fill_value=0,
        config={"write_empty_chunks": True},
    )
    array[...] = 1
    keys = chunk_keys(array)
    assert set(keys) == _stored_chunk_keys(root)
    assert len(keys) == len(set(keys)) == array.nchunks
    # the same keys from the metadata document itself (what a remote client downloads)
    name = "zarr.json" if fmt == 3 else ".zarray"
    import json

    assert chunk_keys(json.loads((root / name).read_text())) == keys


def test_zero_dimensional_arrays(tmp_path) -> None:
    for fmt in (2, 3):
        root = tmp_path / f"scalar{fmt}.zarr"
        array = zarr.create_array(
            root,
            shape=(),
            dtype="f8",
            zarr_format=fmt,
            fill_value=0,
            config={"write_empty_chunks": True},
        )
        array[...] = 3.0
        assert set(chunk_keys(array)) == _stored_chunk_keys(root)


def test_region_selects_exactly_the_overlapping_chunks() -> None:
    layout = ChunkLayout((10, 23, 17), (3, 5, 4), "<u2", 3, "c", "/")
    rng = random.Random(1)
    empty_regions = 0
    for _ in range(200):
        region = []
        for size in layout.shape:
            a, b = sorted(rng.randint(0, size) for _ in range(2))
            region.append(slice(a, b) if rng.random() < 0.8 else rng.randint(-size, size - 1))
        # brute force: a chunk is selected when its box overlaps the region on every axis
        expected = []
        for index in itertools.product(*(range(g) for g in layout.grid)):
            hit = True
            for i, sel, c, size in zip(index, region, layout.chunks, layout.shape, strict=True):
                lo, hi = (
                    (sel % size, sel % size + 1) if isinstance(sel, int) else (sel.start, sel.stop)
                )
                hit &= lo < hi and lo < (i + 1) * c and hi > i * c
            if hit:
                expected.append(index)
        empty = any(isinstance(sel, slice) and sel.start == sel.stop for sel in region)
        assert empty == (expected == [])  # a non-empty region always touches a chunk
        if empty:  # an empty region is a mistake, not "no chunks": it is refused
            empty_regions += 1
            with pytest.raises(ValueError, match="empty or outside the array"):
                layout.indices(tuple(region))
        else:
            assert layout.indices(tuple(region)) == expected
    assert 0 < empty_regions < 100  # both kinds of region were tried


def test_layout_numbers_and_short_regions() -> None:
    layout = chunk_layout(
        {
            "zarr_format": 2,
            "shape": [2, 236, 275, 271],
            "chunks": [1, 1, 275, 271],
            "dtype": "<u2",
            "dimension_separator": "/",
        }
    )
    assert layout.grid == (2, 236, 1, 1)
    assert layout.nchunks == 472
    assert chunk_keys(layout, (1, slice(10, 13))) == ["1/10/0/0", "1/11/0/0", "1/12/0/0"]
    v2_default = chunk_layout({"zarr_format": 2, "shape": [4, 4], "chunks": [2, 2], "dtype": "<u2"})
    assert v2_default.key((1, 0)) == "1.0"  # Zarr v2's default separator is "."


@pytest.mark.parametrize(
    "metadata,message",
    [
        ({"zarr_format": 3, "node_type": "group"}, "not an array"),
        ({"zarr_format": 2}, "shape"),
        ({"zarr_format": 1, "shape": [1], "chunks": [1]}, "zarr_format"),
        (
            {
                "zarr_format": 3,
                "node_type": "array",
                "shape": [4],
                "data_type": "uint8",
                "chunk_grid": {"name": "rectilinear", "configuration": {}},
                "codecs": [],
            },
            "chunk grid",
        ),
    ],
)
def test_bad_metadata_is_refused_clearly(metadata, message) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_layout(metadata)


def test_the_keys_of_a_sharded_array_name_its_shards(tmp_path) -> None:
    array = zarr.create_array(
        tmp_path / "s.zarr", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u1"
    )
    layout = chunk_layout(array)
    assert layout.sharded and layout.chunks == (4, 4) and layout.nchunks == 4
    assert chunk_keys(array) == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]  # objects = shards
    assert not chunk_layout(zarr.create_array({}, shape=(4,), chunks=(2,), dtype="u1")).sharded


@pytest.mark.parametrize(
    "region,message",
    [
        ((slice(0, 4, 2),), "step"),
        ((9,), "out of range"),
        ((0, 0, 0), "axes"),
        (("a",), "ints or slices"),
    ],
)
def test_bad_regions_are_refused(region, message) -> None:
    layout = ChunkLayout((8, 8), (2, 2), "u1", 3, "c", "/")
    with pytest.raises(ValueError, match=message):
        layout.keys(region)


def test_metadata_and_urls_over_http_match_zarr(cloud: Cloud) -> None:
    from helpers.catalog import open_image

    for name in ("nuclei", "nuclei_v05"):
        image = open_image(name)
        level_url = cloud.url(f"{image.url.split('course-data/', 1)[1]}/{image.paths[0]}")
        metadata = read_array_metadata(level_url)
        assert chunk_keys(metadata) == chunk_keys(image.levels[0])
        assert len(chunk_keys(metadata)) == image.levels[0].nchunks
        urls = chunk_urls(level_url, (1, slice(100, 102)))
        assert len(urls) == 2 * math.prod(chunk_layout(metadata).grid[2:])
        result = fetch_async(urls, 4)
        assert all(len(b) > 0 for b in result.data)


def test_metadata_errors_name_the_location(cloud: Cloud) -> None:
    with pytest.raises(ValueError, match=r"no Zarr array at .*nothing-here.*zarr\.json.*\.zarray"):
        read_array_metadata(cloud.url("nothing-here.zarr/0"))
    group = read_array_metadata(cloud.url("v0.5/idr0062A/6001240_labels.zarr"))
    with pytest.raises(ValueError, match="not an array"):
        chunk_layout(group)
