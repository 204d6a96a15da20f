"""The read paths the fault suite tries, over one small region of the nuclei image, and their references.

:class:`ReadTarget` is the region (a few planes of one channel of one level: one chunk each), with
its chunk URLs and keys and two fault-free references read from the sample folder on disk (not
over the network): the chunks' stored bytes, and the decoded pixels. :func:`read_paths` builds the
five ways the course reads it:

- ``sequential``, ``threads``, ``async``: the fetch helpers over the chunks' plain http:// URLs
  (their bytes must equal the stored chunks);
- ``zarr s3``, ``zarr http``: :func:`helpers.open_image` over ``s3://`` and over ``http://``, strict,
  indexing the level (its pixels must equal the sample's).

Examples
--------
>>> [path.name for path in read_paths(target, policy)]  # doctest: +SKIP
['sequential', 'threads', 'async', 'zarr s3', 'zarr http']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_tools.faults.cases import SuiteSettings
from helpers.catalog import CATALOG, open_image
from helpers.chunks import chunk_keys
from helpers.cloud import Cloud
from helpers.fetch import RetryPolicy, fetch_async, fetch_sequential, fetch_threads
from helpers.image import OmeImage

__all__ = ["IMAGE_KEY", "PATH_NAMES", "ReadPath", "ReadTarget", "read_paths", "same_data"]

IMAGE_KEY = CATALOG["nuclei"].local_path or "v0.4/idr0062A/6001240.zarr"
"""The object key (in the public bucket) of the image the suite reads: the nuclei, Zarr v2."""
PATH_NAMES = ("sequential", "threads", "async", "zarr s3", "zarr http")
"""The read paths, in the order of the table's columns."""


@dataclass(frozen=True)
class ReadTarget:
    """The region the suite reads, where it lives, and what a fault-free read returns.

    Attributes
    ----------
    cloud : Cloud
        The private local cloud serving the samples.
    settings : SuiteSettings
        Gives the level, channel and planes.
    keys : list of str
        The chunks' keys relative to the image (``"1/1/100/0/0"``): errors must name one.
    chunks : list of bytes
        The chunks' stored bytes, from the sample folder.
    pixels : numpy.ndarray
        The region's pixels, from the sample folder.
    """

    cloud: Cloud
    settings: SuiteSettings
    keys: list[str]
    chunks: list[bytes] = field(repr=False)
    pixels: np.ndarray = field(repr=False)

    @property
    def selection(self) -> tuple[int, slice]:
        """The region in the level's coordinates: ``(channel, slice(first, stop))``."""
        first, stop = self.settings.planes
        return self.settings.channel, slice(first, stop)

    @property
    def urls(self) -> list[str]:
        """The chunks' plain http:// URLs in the cloud."""
        return [self.cloud.url(f"{IMAGE_KEY}/{key}") for key in self.keys]

    @property
    def region_keys(self) -> str:
        """Glob pattern of the object keys of the level's chunks of this channel (faults aim here)."""
        return f"{IMAGE_KEY}/{self.settings.level}/{self.settings.channel}/*"

    @property
    def one_key(self) -> str:
        """The object key of the second chunk read (a permanent fault strikes only it)."""
        return f"{IMAGE_KEY}/{self.keys[min(1, len(self.keys) - 1)]}"


def load_target(cloud: Cloud, samples: Path, settings: SuiteSettings) -> ReadTarget:
    """The region's keys and fault-free references, read from the sample folder on disk.

    Parameters
    ----------
    cloud : Cloud
        The cloud serving ``samples``.
    samples : pathlib.Path
        The sample folder the cloud serves.
    settings : SuiteSettings
        The level, channel and planes.

    Returns
    -------
    ReadTarget
        With the stored chunk bytes and the decoded pixels.

    Raises
    ------
    ValueError
        The level, channel or planes are outside the image.
    """
    folder = samples / IMAGE_KEY
    with open_image(folder, strict=True) as image:
        level = image.level(settings.level)
        first, stop = settings.planes
        if not (0 <= settings.channel < level.shape[0] and stop <= level.shape[1]):
            raise ValueError(
                f"channel {settings.channel}, planes {first}-{stop - 1} are outside level "
                f"{settings.level} of shape {level.shape}"
            )
        selection = (settings.channel, slice(first, stop))
        keys = [f"{settings.level}/{key}" for key in chunk_keys(level, selection)]
        pixels = np.asarray(level[selection])
    chunks = [(folder / key).read_bytes() for key in keys]
    return ReadTarget(cloud, settings, keys, chunks, pixels)


@dataclass
class ReadPath:
    """One way to read the region: a name, and a function returning what it read.

    Attributes
    ----------
    name : str
        Its column in the table.
    read : callable
        Reads the region once: a list of chunk bytes (fetch helpers) or an array (zarr).
    reference : object
        What a fault-free read returns.
    image : OmeImage or None
        The opened image of a zarr path (closed by :func:`read_paths`' caller).
    """

    name: str
    read: Callable[[], Any]
    reference: Any = field(repr=False)
    image: OmeImage | None = field(default=None, repr=False)


def _zarr_path(name: str, image: OmeImage, target: ReadTarget) -> ReadPath:
    level = image.level(target.settings.level)
    return ReadPath(name, lambda: np.asarray(level[target.selection]), target.pixels, image)


@contextlib.contextmanager
def read_paths(target: ReadTarget, policy: RetryPolicy) -> Iterator[list[ReadPath]]:
    """The five read paths over ``target``, all with ``policy``; the zarr images close after.

    The zarr paths open their image here, before any fault is injected: the suite's faults strike
    the chunk reads, not the metadata.

    Parameters
    ----------
    target : ReadTarget
        The region and the cloud.
    policy : RetryPolicy
        Attempts, waits, deadline and attempt timeout of every path.

    Yields
    ------
    list of ReadPath
        In the order of :data:`PATH_NAMES`.
    """
    urls, cloud, count = target.urls, target.cloud, len(target.keys)
    over_s3 = open_image(
        cloud.s3_url(IMAGE_KEY), endpoint=cloud.endpoint, strict=True, retry=policy
    )
    over_http = open_image(cloud.url(IMAGE_KEY), strict=True, retry=policy)
    try:
        yield [
            ReadPath(
                "sequential", lambda: fetch_sequential(urls, retry=policy).data, target.chunks
            ),
            ReadPath(
                "threads", lambda: fetch_threads(urls, count, retry=policy).data, target.chunks
            ),
            ReadPath("async", lambda: fetch_async(urls, count, retry=policy).data, target.chunks),
            _zarr_path("zarr s3", over_s3, target),
            _zarr_path("zarr http", over_http, target),
        ]
    finally:
        over_s3.close()
        over_http.close()


def same_data(result: Any, reference: Any) -> tuple[bool, str]:
    """Whether a read returned exactly the reference, and if not, how it differs.

    Parameters
    ----------
    result : list of bytes or numpy.ndarray
        What the read returned.
    reference : list of bytes or numpy.ndarray
        What a fault-free read returns.

    Returns
    -------
    tuple of (bool, str)
        ``(True, "")``, or ``(False, what differs)``.

    Examples
    --------
    >>> same_data([b"ab", b"cd"], [b"ab", b"cd"])
    (True, '')
    >>> same_data(np.zeros(4, "u2"), np.arange(4, dtype="u2"))
    (False, '3 of 4 values differ (the read has 4 zeros)')
    """
    if isinstance(reference, np.ndarray):
        array = np.asarray(result)
        if array.shape != reference.shape or array.dtype != reference.dtype:
            return (
                False,
                f"got {array.dtype} {array.shape}, expected {reference.dtype} {reference.shape}",
            )
        differ = int(np.count_nonzero(array != reference))
        zeros = int(np.count_nonzero(array == 0))
        if differ:
            return False, f"{differ} of {array.size} values differ (the read has {zeros} zeros)"
        return True, ""
    chunks = list(result)
    if len(chunks) != len(reference):
        return False, f"got {len(chunks)} chunks, expected {len(reference)}"
    bad = [i for i, (a, b) in enumerate(zip(chunks, reference, strict=True)) if a != b]
    if bad:
        return False, f"{len(bad)} of {len(chunks)} chunks differ (first: #{bad[0]})"
    return True, ""
