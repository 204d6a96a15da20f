"""The assessment's questions, as data. Every number in them is computed by the helpers' own maths.

The shapes are those of the course's datasets (the nuclei image, the tissue pyramid, the IDR's
sharded light-sheet image); the request counts come from :mod:`helpers.chunks`, the times from
the latency model :func:`helpers.model.model_time_s`, the shard maths from :mod:`helpers.shards`
and the deadline from :mod:`course_tools.config`, so an answer cannot drift from what the notebooks
measure. ``tests/test_module.py`` checks the
answers against the helpers, the sample data and zarr itself.

Topics: chunks, pyramids, latency, parallelism, shards, failures.

Examples
--------
>>> [q.id for q in QUESTIONS if q.topic == "shards"]
['shard-chunks', 'shard-requests', 'shard-objects', 'shard-range']
>>> by_id("chunks-per-level").blanks[0].answer
'472'
"""

from __future__ import annotations

import math

import botocore
import botocore.config

from course_tools.quiz.items import Blank, FillIn, MultipleChoice, Question
from helpers.chunks import chunk_grid, chunks_for_region, count_chunks
from helpers.cloud import DEFAULT_LATENCY_MS
from helpers.fetch import DEADLINE_S
from helpers.model import ideal_speedup, model_time_s
from helpers.reliable import MissingChunkError
from helpers.shards import CHECKSUM_NBYTES, ENTRY_NBYTES, ShardLayout, plan_reads

__all__ = [
    "LIGHTSHEET",
    "LIGHTSHEET_CHUNK",
    "LIGHTSHEET_SHAPE",
    "LIGHTSHEET_SHARD",
    "NUCLEI_CHUNKS",
    "NUCLEI_SHAPE",
    "QUESTIONS",
    "TISSUE_CHUNK",
    "TISSUE_SIZE",
    "TOPICS",
    "by_id",
]

TOPICS = ("chunks", "pyramids", "latency", "parallelism", "shards", "failures")
"""The topics, in the order the assessment asks them."""

NUCLEI_SHAPE = (2, 236, 275, 271)
"""Level 0 of the nuclei image (c, z, y, x), locally and on the IDR."""
NUCLEI_CHUNKS = (1, 1, 275, 271)
"""Its chunks: one plane of one channel each, at every level."""
TISSUE_SIZE, TISSUE_CHUNK = 8192, 512
"""The local tissue pyramid: 8192 x 8192 pixels at level 0, 512 x 512 chunks, halved per level."""
LIGHTSHEET_SHAPE = (1937, 2048, 2048)
"""Level 0 of the IDR's light-sheet image idr0066 ExpA_VIP_ASLM_on.zarr (z, y, x), sharded."""
LIGHTSHEET_SHARD, LIGHTSHEET_CHUNK = (10, 2048, 2048), (1, 256, 256)
"""Its shards (objects) and the inner chunks they hold."""
LIGHTSHEET = ShardLayout(LIGHTSHEET_SHAPE, LIGHTSHEET_SHARD, LIGHTSHEET_CHUNK, "uint16", "c", "/")
"""Its level 0 as :mod:`helpers.shards` sees it (index at the end, with a checksum)."""


def _times(numbers: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in numbers)


def _n(value: float) -> Blank:
    """A numeric blank, written as the course writes numbers (``123,968``; ``47.2``)."""
    text = f"{value:,}" if float(value).is_integer() else f"{value:g}"
    return Blank(text.removesuffix(".0"), value=float(value))


_LATENCY_S = DEFAULT_LATENCY_MS / 1000
_NUCLEI_N = count_chunks(NUCLEI_SHAPE, NUCLEI_CHUNKS)
_VIEW = (slice(0, 1), slice(1000, 1512), slice(3000, 3512))
_TISSUE = (3, TISSUE_SIZE, TISSUE_SIZE)
_TISSUE_CHUNKS = (1, TISSUE_CHUNK, TISSUE_CHUNK)
_VIEW_N = len(chunks_for_region(_VIEW, _TISSUE, _TISSUE_CHUNKS))
_COARSE = 4  # a tissue level whose side is one chunk
_PER_CHANNEL = [count_chunks((TISSUE_SIZE >> n,) * 2, (TISSUE_CHUNK,) * 2) for n in (0, _COARSE)]
_FLIGHT = 16
_POOL = botocore.config.Config().max_pool_connections  # botocore's connection pool, as installed
_SHARD_N = math.prod(LIGHTSHEET.chunks_per_shard)
_TILE = (0, slice(0, 512), slice(0, 512))
_COLD = plan_reads(LIGHTSHEET, _TILE)
_WARM = plan_reads(LIGHTSHEET, _TILE, cached_shards=set(_COLD.shards))
_TILE_N = len(_COLD.chunk_reads)
_DASK_THREADS, _ZARR_CONCURRENCY = 4, 10

QUESTIONS: tuple[Question, ...] = (
    FillIn(
        "chunks-per-level",
        "chunks",
        f"Level 0 of the nuclei image has shape {NUCLEI_SHAPE} (axes c, z, y, x) and chunks "
        f"{NUCLEI_CHUNKS}. It is stored as ___ chunk objects, so reading it whole takes ___ "
        "GET requests.",
        (_n(_NUCLEI_N), _n(_NUCLEI_N)),
        "divide the shape by the chunk shape along every axis (rounding up) and multiply.",
        f"{_times(chunk_grid(NUCLEI_SHAPE, NUCLEI_CHUNKS))} = {_NUCLEI_N} chunks; one chunk = one "
        "object = one request.",
    ),
    FillIn(
        "view-chunks",
        "chunks",
        "A 512 x 512 view of one channel at y = 1000-1511, x = 3000-3511 of an 8192 x 8192 level "
        "stored in 512 x 512 chunks touches ___ chunks, although it is the size of one chunk.",
        (_n(_VIEW_N),),
        "which chunk rows does y = 1000-1511 fall in (rows of 512 pixels)? And x = 3000-3511?",
        "y spans chunk rows 1 and 2, x spans chunk columns 5 and 6: 2 x 2 chunks, so 4 requests.",
    ),
    MultipleChoice(
        "chunk-url",
        "chunks",
        "What do you need to build the URL of one chunk of an OME-Zarr image?",
        (
            "a list of every object in the bucket",
            "the image's URL, the level's path and the chunk key made from the chunk's grid "
            "position",
            "the whole level, downloaded first",
            "credentials for the bucket",
        ),
        1,
        "the metadata tells you the chunk grid; no listing or download is needed.",
        "e.g. `<image URL>/0/c/0/3/5` (Zarr v3) or `<image URL>/0/0/3/5` (Zarr v2 with `/`).",
    ),
    FillIn(
        "pyramid-tissue",
        "pyramids",
        f"In the tissue pyramid ({TISSUE_SIZE} x {TISSUE_SIZE} pixels, {TISSUE_CHUNK} x "
        f"{TISSUE_CHUNK} chunks, halved at each level), one channel takes ___ requests at "
        f"level 0 and ___ at level {_COARSE}.",
        (_n(_PER_CHANNEL[0]), _n(_PER_CHANNEL[1])),
        f"level n is {TISSUE_SIZE} / 2^n pixels wide; count the chunks along y and x.",
        f"{TISSUE_SIZE // TISSUE_CHUNK} x {TISSUE_SIZE // TISSUE_CHUNK} = {_PER_CHANNEL[0]} "
        f"chunks at level 0, one at level {_COARSE} ({TISSUE_SIZE >> _COARSE} pixels).",
    ),
    MultipleChoice(
        "nuclei-trap",
        "pyramids",
        "Every plane of the nuclei image is one chunk, at every level. What does reading a "
        "coarser level of it save?",
        ("bytes, but not requests", "requests, but not bytes", "both", "neither"),
        0,
        "a coarser level of this image halves y and x only: how many planes, and chunks, remain?",
        f"each level still has {_NUCLEI_N} chunks (one per plane and channel), only smaller.",
    ),
    FillIn(
        "sequential-time",
        "latency",
        f"At {DEFAULT_LATENCY_MS:g} ms per request, reading the {_NUCLEI_N} chunks of a nuclei "
        f"level one at a time takes about ___ s; with {_FLIGHT} requests in flight, about ___ s.",
        (
            Blank(
                f"{model_time_s(_NUCLEI_N, 1, _LATENCY_S):g}",
                model_time_s(_NUCLEI_N, 1, _LATENCY_S),
                0.5,
            ),
            Blank(
                f"{model_time_s(_NUCLEI_N, _FLIGHT, _LATENCY_S):g}",
                model_time_s(_NUCLEI_N, _FLIGHT, _LATENCY_S),
                0.05,
            ),
        ),
        "time = ceil(N / C) x latency, with N requests and C in flight.",
        f"{_NUCLEI_N} x {_LATENCY_S:g} s one at a time; ceil({_NUCLEI_N} / {_FLIGHT}) = "
        f"{math.ceil(_NUCLEI_N / _FLIGHT)} rounds of {_LATENCY_S:g} s in parallel.",
    ),
    MultipleChoice(
        "latency-size",
        "latency",
        "Why is reading small chunks one after another slow, even on a fast link?",
        (
            "object stores compress every answer",
            "each request waits a round trip of about 100 ms, whatever the chunk's size",
            "HTTP can only carry one chunk per second",
            "zarr decodes chunks one at a time",
        ),
        1,
        "look at the timings of single requests in notebook 01.",
        "latency, not bandwidth, dominates small requests: N requests one at a time cost N "
        "latencies.",
    ),
    FillIn(
        "speedup",
        "parallelism",
        f"64 chunks with {_FLIGHT} requests in flight need ___ rounds of requests, an ideal "
        "speed-up of ___ x over one at a time.",
        (_n(math.ceil(64 / _FLIGHT)), _n(ideal_speedup(64, _FLIGHT))),
        "a round is one latency; each round serves C requests.",
        f"ceil(64 / {_FLIGHT}) = {math.ceil(64 / _FLIGHT)} rounds instead of 64.",
    ),
    FillIn(
        "dask-in-flight",
        "parallelism",
        f"With {_DASK_THREADS} Dask threads, each letting zarr fetch up to {_ZARR_CONCURRENCY} "
        f"chunks at once (async.concurrency = {_ZARR_CONCURRENCY}), up to ___ requests are in "
        "flight.",
        (_n(_DASK_THREADS * _ZARR_CONCURRENCY),),
        "the limits multiply.",
        "threads x zarr's concurrency per read: that is what the object store sees.",
    ),
    MultipleChoice(
        "s3fs-defaults",
        "parallelism",
        "zarr over an s3fs store with default settings stops getting faster at about "
        f"{_POOL} requests in flight (botocore {botocore.__version__}). Why?",
        (
            f"the object store refuses more than {_POOL} requests",
            "Python threads cannot run in parallel",
            f"botocore's connection pool holds {_POOL} connections (and s3fs sends a HEAD before "
            "each GET)",
            "the chunks are too small",
        ),
        2,
        "notebook 03 measures this: look at what `s3_filesystem` changes.",
        f"`max_pool_connections` defaults to {_POOL} in botocore {botocore.__version__} (notebook 03 "
        "prints yours); the course's stores raise it and skip the HEAD.",
    ),
    FillIn(
        "shard-chunks",
        "shards",
        f"A shard of {list(LIGHTSHEET_SHARD)} holding inner chunks of {list(LIGHTSHEET_CHUNK)} "
        f"holds ___ chunks. Its index takes ___ bytes ({ENTRY_NBYTES} bytes per chunk plus a "
        f"{CHECKSUM_NBYTES}-byte checksum).",
        (_n(_SHARD_N), _n(LIGHTSHEET.index_nbytes)),
        "count the inner chunks along z, y and x, then 16 bytes each, plus 4.",
        f"{_times(chunk_grid(LIGHTSHEET_SHARD, LIGHTSHEET_CHUNK))} = {_SHARD_N} chunks; "
        f"{ENTRY_NBYTES} x {_SHARD_N} + {CHECKSUM_NBYTES} = {LIGHTSHEET.index_nbytes:,} "
        "bytes, read with one suffix range request.",
    ),
    FillIn(
        "shard-requests",
        "shards",
        f"Reading a 512 x 512 tile of one plane ({_TILE_N} inner chunks of one shard) with one "
        "byte range per inner chunk (the course's reader; zarr before 3.3 too) takes ___ requests "
        "when the shard's index is not known yet (cold) and ___ when it is cached (warm).",
        (_n(_COLD.requests), _n(_WARM.requests)),
        "first the index (one request), then one range per inner chunk.",
        f"cold: {len(_COLD.index_reads)} index read + {_TILE_N} ranges, in {_COLD.round_trips} "
        f"round trips; warm: {_WARM.requests} ranges in {_WARM.round_trips} round trip.",
    ),
    FillIn(
        "shard-objects",
        "shards",
        f"Level 0 of the light-sheet image {LIGHTSHEET_SHAPE} is stored as ___ shard objects; "
        f"without sharding, its {list(LIGHTSHEET_CHUNK)} chunks would be ___ objects.",
        (_n(LIGHTSHEET.nshards), _n(LIGHTSHEET.nchunks)),
        f"ceil({LIGHTSHEET_SHAPE[0]} / {LIGHTSHEET_SHARD[0]}) shards along z; how many inner chunks "
        "per plane?",
        "sharding divides the number of objects (and files to copy) by the chunks per shard; "
        "reads still fetch one range per inner chunk (zarr 3.3 and later merge nearby ranges "
        "into fewer requests).",
    ),
    MultipleChoice(
        "shard-range",
        "shards",
        "How does a reader get one inner chunk out of a shard without downloading the shard?",
        (
            "each inner chunk also has its own URL",
            "it reads the shard's index, then asks for the chunk's bytes with an HTTP Range "
            "request",
            "the server unpacks the shard on request",
            "it cannot: shards are always read whole",
        ),
        1,
        "the index lists an (offset, length) pair per inner chunk.",
        "`Range: bytes=-N` fetches the index at the end of the shard, then `Range: bytes=a-b` "
        "each chunk.",
    ),
    MultipleChoice(
        "slowdown",
        "failures",
        "An object store answers 503 SlowDown. What should a client do?",
        (
            "retry at once, as often as possible",
            "treat the chunk as missing (zeros)",
            "wait and retry with exponential backoff plus jitter, honouring Retry-After, "
            "within a deadline",
            "give up the whole read",
        ),
        2,
        "the store is overloaded, not broken.",
        "backoff with jitter spreads the retries out; the deadline bounds the total wait.",
    ),
    FillIn(
        "deadline",
        "failures",
        "With the course's defaults, a chunk read from a server that stalls fails after at "
        "most ___ s, all attempts and waits included.",
        (_n(DEADLINE_S),),
        "see `course_tools.config` (and notebook 07).",
        "the deadline per chunk cuts the last attempt short, so a stall never hangs a read.",
    ),
    MultipleChoice(
        "missing-chunk",
        "failures",
        "A chunk object of an image was deleted. What does zarr return for it, without strict "
        "mode?",
        (
            "an error naming the key",
            "the array's fill value (often zeros), with no error",
            "the chunk before it",
            "nothing: the read waits until the chunk exists",
        ),
        1,
        "zarr treats a missing key as a chunk never written.",
        "absent chunks read as the fill value: right for sparse labels, silent data loss for "
        "an image.",
    ),
    FillIn(
        "strict-mode",
        "failures",
        "In strict mode, the course's readers raise ___ for an absent chunk, naming its key.",
        (Blank(MissingChunkError.__name__, accept=(f"helpers.{MissingChunkError.__name__}",)),),
        "its name says what happened: a chunk is ...",
        "`open_image` reads the course's images strictly; `missing_chunks` lists the absent ones.",
    ),
)
"""Every question, grouped by topic in :data:`TOPICS` order."""


def by_id(question_id: str) -> Question:
    """The question called ``question_id``.

    Raises
    ------
    ValueError
        No such question (the message lists the known ids).

    Examples
    --------
    >>> by_id("deadline").topic
    'failures'
    """
    for question in QUESTIONS:
        if question.id == question_id:
            return question
    known = ", ".join(q.id for q in QUESTIONS)
    raise ValueError(f"unknown question {question_id!r}; known questions: {known}")
