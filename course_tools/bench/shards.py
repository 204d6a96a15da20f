"""``python -m course_tools bench shards``: views of a sharded image and of its unsharded copy, counted.

A scripted tour of views (a tile, the next plane, a pan, a plane in another shard, an overview, a
3D box across two shards, a revisit) is read twice with a :class:`~helpers.browse.ViewReader`:
from the sharded light-sheet sample and from its unsharded copy. For every view it records the
requests counted at the store (and, for the sharded image, how many were index reads and byte
ranges), the bytes, the time, and the model's prediction:

- sharded: one index read per shard touched whose index is not cached yet, plus one range per
  inner chunk not read before; a cold view (an index to read) costs two round trips, a warm one one;
- unsharded: one GET per chunk not read before, one round trip.

The reader is the course's own (:mod:`helpers.shards` through the viewer), not zarr's: zarr before 3.3
reads the inner chunks of a shard one after another, and since 3.3 asks for all ranges at once,
coalescing nearby ones, fetched concurrently (``Store.get_ranges``). The run prints the installed zarr
version; lesson 08 measures what that version does for one view.

Targets (:mod:`course_tools.bench.targets`): every view's requests equal the model exactly; a cold view
takes at most ``2 x latency + SHARDS_SLACK_S``, a warm one ``latency + SHARDS_SLACK_S``; the sharded
store holds at least ``SHARDS_OBJECT_RATIO`` times fewer objects than its unsharded copy.

Examples
--------
>>> from course_tools.bench.shards import tour_regions
>>> [name for name, _, _ in tour_regions((20, 2048, 2048), 3)][:3]
['tile, plane 2', 'same tile, plane 3', 'pan right']
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import zarr

from course_tools.bench.targets import SHARDS_OBJECT_RATIO, SHARDS_SLACK_S
from course_tools.cli import non_negative_arg
from helpers.browse import ViewReader, format_bytes
from helpers.chunks import ChunkIndex, Region, chunks_for_region
from helpers.cloud import DEFAULT_LATENCY_MS
from helpers.image import OmeImage
from helpers.shards import shard_layout

__all__ = [
    "ShardStep",
    "ShardTour",
    "check_tour",
    "count_objects",
    "main",
    "measure_shards",
    "tour_regions",
]

if TYPE_CHECKING:
    from helpers.cloud import Cloud

SHARDED, UNSHARDED = "lightsheet", "lightsheet_unsharded"


@dataclass(frozen=True)
class ShardStep:
    """One view of the tour, read from one of the two images.

    Attributes
    ----------
    image : str
        ``"sharded"`` or ``"unsharded"``.
    name : str
        What the view is, e.g. ``"pan right"``.
    level : int
        Pyramid level read.
    chunks : int
        Chunks (inner chunks, for the sharded image) the view needs.
    requests, index_reads, range_reads : int
        Requests counted at the store, and of those the shard-index reads and byte ranges.
    predicted : int
        Requests the model predicts.
    round_trips : int
        Round trips the model predicts (0 for a view served from the cache).
    bytes : int
        Bytes received.
    seconds : float
        Wall time of the read.
    """

    image: str
    name: str
    level: int
    chunks: int
    requests: int
    index_reads: int
    range_reads: int
    predicted: int
    round_trips: int
    bytes: int
    seconds: float


@dataclass(frozen=True)
class ShardTour:
    """The whole run: both images' steps, object counts, what the cloud saw.

    Attributes
    ----------
    latency_s : float
        The cloud's latency.
    steps : tuple of ShardStep
        Sharded steps first, then unsharded.
    objects : dict
        Objects in each store (``{"sharded": 14, "unsharded": 1684}``).
    cloud_requests, cloud_ranges : int or None
        Requests and range requests the cloud served during the reads (private cloud only).
    """

    latency_s: float
    steps: tuple[ShardStep, ...]
    objects: dict[str, int]
    cloud_requests: int | None = None
    cloud_ranges: int | None = None


def tour_regions(shape: tuple[int, ...], nlevels: int) -> list[tuple[str, int, Region]]:
    """The tour: ``(name, level, region)`` per view of a (z, y, x) image of ``shape`` (level 0).

    Needs at least 20 planes and 1024 x 1024 pixels (two shards of 10 planes).
    """
    z, y, x = shape
    if z < 20 or y < 1024 or x < 1024:
        raise ValueError(f"the shard tour needs >= 20 planes of >= 1024 x 1024 pixels, got {shape}")
    tile = (slice(256, 768), slice(256, 768))
    coarse = nlevels - 1
    cy, cx = y >> coarse, x >> coarse
    return [
        ("tile, plane 2", 0, (slice(2, 3), *tile)),
        ("same tile, plane 3", 0, (slice(3, 4), *tile)),
        ("pan right", 0, (slice(3, 4), tile[0], slice(768, 1280))),
        ("tile, plane 12 (next shard)", 0, (slice(12, 13), *tile)),
        (f"overview, level {coarse}", coarse, (slice(5, 6), slice(0, cy), slice(0, cx))),
        ("3D box across shards", 0, (slice(8, 12), slice(0, 256), slice(0, 256))),
        ("revisit the first tile", 0, (slice(2, 3), *tile)),
    ]


def count_objects(path: Path) -> int:
    """Objects (files) of a store on disk: what the object store holds for it."""
    return sum(1 for p in Path(path).rglob("*") if p.is_file())


def _read_tour(
    image: OmeImage, label: str, views: list[tuple[str, int, Region]]
) -> list[ShardStep]:
    reader = ViewReader(image)
    layouts = [shard_layout(a) if a.shards else None for a in image.levels]
    seen: set[tuple[int, ChunkIndex]] = set()
    indexed: set[tuple[int, ChunkIndex]] = set()
    steps = []
    for name, level, region in views:
        arr = image.levels[level]
        needed = chunks_for_region(region, arr.shape, arr.chunks)
        new = [c for c in needed if (level, c) not in seen]
        layout = layouts[level]
        shards = {(level, layout.locate(c)[0]) for c in new} if layout else set()
        cold = shards - indexed
        predicted = len(new) + len(cold)
        trips = (1 if new else 0) + (1 if cold else 0)
        _, cost = reader.read_region(level, region)
        seen.update((level, c) for c in new)
        indexed.update(cold)
        steps.append(
            ShardStep(
                label,
                name,
                level,
                len(needed),
                cost.requests,
                cost.index_reads,
                cost.range_reads,
                predicted,
                trips,
                cost.bytes,
                cost.seconds,
            )
        )
    return steps


@contextlib.contextmanager
def _images(
    endpoint: str | None, latency_ms: float
) -> Iterator[tuple[dict[str, OmeImage], float, Cloud | None]]:
    from course_tools.cloud.launch import start_cloud
    from course_tools.samples import build_samples
    from helpers.catalog import lookup, open_image
    from helpers.cloud import PUBLIC_BUCKET, cloud_status

    data = build_samples(progress=False)
    urls = {k: f"s3://{PUBLIC_BUCKET}/{lookup(k).local_path}" for k in (SHARDED, UNSHARDED)}
    if endpoint:
        opened = {k: open_image(u, endpoint=endpoint) for k, u in urls.items()}
        yield opened, cloud_status(endpoint).latency_ms / 1000, None
        return
    with start_cloud(latency_ms=latency_ms, data=data) as cloud:
        opened = {k: open_image(u, endpoint=cloud.endpoint) for k, u in urls.items()}
        yield opened, latency_ms / 1000, cloud


def measure_shards(
    endpoint: str | None = None, latency_ms: float = DEFAULT_LATENCY_MS
) -> ShardTour:
    """Read the tour from both images (on ``endpoint``, or on a private cloud at ``latency_ms``).

    Returns
    -------
    ShardTour
        Every step, the object counts, the cloud's counts.
    """
    from course_tools.samples import build_samples, dataset_path

    data = build_samples(progress=False)
    objects = {
        "sharded": count_objects(dataset_path(SHARDED, data)),
        "unsharded": count_objects(dataset_path(UNSHARDED, data)),
    }
    with _images(endpoint, latency_ms) as (images, latency_s, cloud):
        views = tour_regions(images[SHARDED].levels[0].shape, len(images[SHARDED].levels))
        if cloud is not None:
            cloud.reset_stats()
        steps = _read_tour(images[SHARDED], "sharded", views)
        status = cloud.status() if cloud is not None else None
        steps += _read_tour(images[UNSHARDED], "unsharded", views)
    return ShardTour(
        latency_s,
        tuple(steps),
        objects,
        None if status is None else status.requests,
        None if status is None else status.range_requests,
    )


def check_tour(tour: ShardTour) -> list[str]:
    """The targets this run missed (empty: all met)."""
    failures = []
    for s in tour.steps:
        what = f"{s.image} '{s.name}'"
        if s.requests != s.predicted:
            failures.append(f"{what}: {s.requests} requests, the model says {s.predicted}")
        limit = s.round_trips * tour.latency_s + SHARDS_SLACK_S
        if s.round_trips and s.seconds > limit:
            failures.append(f"{what}: {s.seconds * 1000:.0f} ms > {limit * 1000:.0f} ms")
    sharded = [s for s in tour.steps if s.image == "sharded"]
    if tour.cloud_requests is not None and tour.cloud_requests != sum(s.requests for s in sharded):
        failures.append(
            f"the cloud served {tour.cloud_requests} requests for the sharded tour, the store "
            f"counted {sum(s.requests for s in sharded)}"
        )
    ranges = sum(s.index_reads + s.range_reads for s in sharded)
    if tour.cloud_ranges is not None and tour.cloud_ranges != ranges:
        failures.append(f"the cloud served {tour.cloud_ranges} range requests, expected {ranges}")
    ratio = tour.objects["unsharded"] / max(tour.objects["sharded"], 1)
    if ratio < SHARDS_OBJECT_RATIO:
        failures.append(f"only {ratio:.0f} x fewer objects sharded (target {SHARDS_OBJECT_RATIO})")
    return failures


def format_tour(tour: ShardTour) -> str:
    """The tour as a table, one row per view and image."""
    head = (
        f"{'image':<10} {'view':<28} {'lvl':>3} {'chunks':>6} {'requests':>8} {'index':>5} "
        f"{'ranges':>6} {'model':>5} {'trips':>5} {'bytes':>9} {'ms':>6}"
    )
    rows = [head, "-" * len(head)]
    for s in tour.steps:
        rows.append(
            f"{s.image:<10} {s.name:<28} {s.level:>3} {s.chunks:>6} {s.requests:>8} "
            f"{s.index_reads:>5} {s.range_reads:>6} {s.predicted:>5} {s.round_trips:>5} "
            f"{format_bytes(s.bytes):>9} {s.seconds * 1000:>6.0f}"
        )
    return "\n".join(rows)


def parser() -> argparse.ArgumentParser:
    """The command line: ``--endpoint --latency-ms --json``."""
    p = argparse.ArgumentParser(
        prog="python -m course_tools bench shards",
        description=(
            "Read a tour of views from the sharded light-sheet sample and its unsharded copy; "
            "check requests against the model, a cold view <= 2 x latency + "
            f"{SHARDS_SLACK_S * 1000:.0f} ms, a warm one <= latency + "
            f"{SHARDS_SLACK_S * 1000:.0f} ms, and >= {SHARDS_OBJECT_RATIO} x fewer objects."
        ),
    )
    p.add_argument("--endpoint", help="a running course cloud (default: start a private one)")
    p.add_argument(
        "--latency-ms",
        type=non_negative_arg,
        default=DEFAULT_LATENCY_MS,
        help="latency of the private cloud (default 100)",
    )
    p.add_argument("--json", type=Path, help="write the steps as a JSON list to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m course_tools bench shards``: run the tour, print the table, check the targets.

    Returns
    -------
    int
        0 when every target is met, 1 otherwise (2 for bad arguments, via ``SystemExit``).
    """
    args = parser().parse_args(argv)
    tour = measure_shards(args.endpoint, args.latency_ms)
    print(f"Shard tour at {tour.latency_s * 1000:.0f} ms latency, read by the course's ViewReader")
    print(
        f"(zarr {zarr.__version__} is installed: zarr before 3.3 reads a shard's inner chunks one "
        "after another, since 3.3 it asks for all ranges at once, coalescing nearby ones, fetched "
        "concurrently; notebook 08 measures it)"
    )
    print(format_tour(tour))
    ratio = tour.objects["unsharded"] / max(tour.objects["sharded"], 1)
    print(
        f"objects: sharded {tour.objects['sharded']}, unsharded {tour.objects['unsharded']} "
        f"({ratio:.0f} x fewer)"
    )
    if tour.cloud_requests is not None:
        print(f"cloud (sharded tour): {tour.cloud_requests} requests, {tour.cloud_ranges} ranges")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in tour.steps], indent=2))
        print(f"steps written to {args.json}")
    failures = check_tour(tour)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(
        "OK: every view's requests equal the model; cold views <= 2 x latency + "
        f"{SHARDS_SLACK_S * 1000:.0f} ms, warm <= latency + {SHARDS_SLACK_S * 1000:.0f} ms; "
        f"{ratio:.0f} x fewer objects sharded"
    )
    return 0
