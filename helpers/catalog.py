"""The course's datasets: every URL lives in this module, and :func:`open_image` opens any of them.

Each catalog entry names a local copy (synthetic data served by the course's local cloud) and/or
the real public dataset on the IDR's object store. One switch picks which is used: the ``source=``
argument, else the ``COURSE_SOURCE`` environment variable (``local`` or ``remote``), else
``local``, so the course works offline by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from .cloud import PUBLIC_BUCKET, SCRATCH_BUCKET, data_dir, ensure_cloud
from .fetch import RetryPolicy
from .image import NotOmeZarrError, OmeImage, read_ome_image
from .storage import Location, check_reachable, parse_location

__all__ = [
    "CATALOG",
    "REMOTE_BASE",
    "REMOTE_ENDPOINT",
    "Dataset",
    "DatasetLocation",
    "NotOmeZarrError",
    "current_source",
    "dataset_url",
    "default_s3_endpoint",
    "is_course_location",
    "list_datasets",
    "lookup",
    "open_image",
    "remote_available",
    "remote_url",
    "samples_dir",
]

# The IDR's OME-Zarr samples moved host twice (s3.embassy -> uk1s3.embassy -> livingobjects):
# this is the one line to change when they move again.
REMOTE_ENDPOINT = "https://livingobjects.ebi.ac.uk"
REMOTE_BUCKET = "idr"
REMOTE_PREFIX = "zarr"
REMOTE_BASE = f"{REMOTE_ENDPOINT}/{REMOTE_BUCKET}/{REMOTE_PREFIX}"

SOURCE_ENV = "COURSE_SOURCE"
Source = Literal["local", "remote"]
SOURCES: tuple[str, ...] = ("local", "remote")
PROBE_TIMEOUT_S = 10.0
"""``open_image`` first opens a TCP connection to the host, for at most this long."""
ONLINE_PROBE_TIMEOUT_S = 3.0
"""How long :func:`remote_available` waits for the public host."""


def samples_dir() -> Path:
    """The folder of the sample OME-Zarr stores that the local cloud serves (``data/samples``)."""
    return data_dir() / "samples"


@dataclass(frozen=True)
class Dataset:
    """One catalog entry: its name, a line for learners, and where its copies are (None: none).

    ``local_path`` is a key prefix in the local cloud's public bucket, ``remote_path`` a path below
    :data:`REMOTE_BASE`.
    """

    name: str
    description: str
    local_path: str | None
    remote_path: str | None


CATALOG: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "nuclei",
            "3D nuclei (c,z,y,x), channels LaminB1 + DAPI, labels; OME-NGFF 0.4 / Zarr v2, one chunk per plane",
            "v0.4/idr0062A/6001240.zarr",
            "v0.4/idr0062A/6001240.zarr",
        ),
        Dataset(
            "nuclei_v05",
            "the same nuclei as OME-NGFF 0.5 / Zarr v3 with 256 x 256 chunks, labels",
            "v0.5/idr0062A/6001240_labels.zarr",
            "v0.5/idr0062A/6001240_labels.zarr",
        ),
        Dataset(
            "tissue",
            "large 2D tissue pyramid (c,y,x), 3 channels; locally 8192^2 synthetic, remotely idr0073A 9798462",
            "synthetic/tissue.zarr",
            "v0.4/idr0073A/9798462.zarr",
        ),
        Dataset(
            "em",
            "huge 2D electron micrograph (~144k x 93k pixels, big-endian uint16), remote only",
            None,
            "v0.4/idr0083A/9822152.zarr",
        ),
        Dataset(
            "lightsheet",
            "3D light-sheet brain volume (z,y,x); OME-NGFF 0.5 sharded: shards of 10 planes, 256 x 256 chunks; locally 20 x 2048^2 synthetic",
            "v0.5/idr0066/ExpA_VIP_ASLM_on.zarr",
            "v0.5/idr0066/ExpA_VIP_ASLM_on.zarr",
        ),
        Dataset(
            "lightsheet_unsharded",
            "the same light-sheet pixels unsharded (one object per 256 x 256 chunk), local only",
            "synthetic/lightsheet_unsharded.zarr",
            None,
        ),
    )
}


def current_source(source: str | None = None) -> Source:
    """The data source in force: ``source`` if given, else ``$COURSE_SOURCE``, else ``"local"``.

    Examples
    --------
    >>> current_source("remote")
    'remote'
    >>> current_source("cloud")
    Traceback (most recent call last):
    ...
    ValueError: unknown data source source='cloud': use 'local' (offline) or 'remote' (public IDR data)
    """
    chosen = (source or os.environ.get(SOURCE_ENV) or "local").strip().lower()
    if chosen not in SOURCES:
        origin = "source=" if source else f"{SOURCE_ENV}="
        raise ValueError(
            f"unknown data source {origin}{chosen!r}: use 'local' (offline) or 'remote' (public IDR data)"
        )
    return chosen  # type: ignore[return-value]


def remote_url(path: str, protocol: Literal["https", "s3"] = "https") -> str:
    """URL of a dataset on the public IDR store (``protocol="s3"`` needs ``endpoint=REMOTE_ENDPOINT``)."""
    if protocol == "s3":
        return f"s3://{REMOTE_BUCKET}/{REMOTE_PREFIX}/{path}"
    return f"{REMOTE_BASE}/{path}"


def dataset_url(
    name: str, source: str | None = None, protocol: Literal["https", "s3"] = "s3"
) -> tuple[str, str]:
    """``(url, endpoint)`` of catalog dataset ``name`` in the chosen source.

    Locally, ``s3://course-data/...`` with the local cloud's endpoint (started if none runs), or its
    plain ``http://127.0.0.1:PORT/course-data/...`` form with ``protocol="https"``: the local cloud is
    a server on this machine (127.0.0.1) that speaks plain HTTP only (no TLS, no certificate), so its
    "https" URLs say ``http://``; the public stores (``source="remote"``) answer at ``https://``.

    Examples
    --------
    >>> dataset_url("nuclei", source="remote")
    ('s3://idr/zarr/v0.4/idr0062A/6001240.zarr', 'https://livingobjects.ebi.ac.uk')
    >>> dataset_url("nuclei")  # doctest: +SKIP
    ('s3://course-data/v0.4/idr0062A/6001240.zarr', 'http://127.0.0.1:40263')
    """
    dataset = lookup(name)
    if current_source(source) == "remote":
        if dataset.remote_path is None:
            raise ValueError(f"dataset {name!r} has no public copy; use source='local'")
        return remote_url(dataset.remote_path, protocol), REMOTE_ENDPOINT
    if dataset.local_path is None:
        raise ValueError(
            f"dataset {name!r} is remote only (too big for a local copy): use source='remote' when online"
        )
    cloud = ensure_cloud(verbose=False)
    url = cloud.s3_url(dataset.local_path) if protocol == "s3" else cloud.url(dataset.local_path)
    return url, cloud.endpoint


def lookup(name: str) -> Dataset:
    """The catalog entry called ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; known datasets: {', '.join(CATALOG)} (or pass a URL or path)"
        ) from None


@dataclass(frozen=True)
class DatasetLocation:
    """Where a catalog dataset is read from in one source (a row of :func:`list_datasets`)."""

    name: str
    description: str
    location: str


def list_datasets(source: str | None = None) -> list[DatasetLocation]:
    """One row per catalog entry: name, description and where it is read from in ``source``.

    Examples
    --------
    >>> [d.name for d in list_datasets("remote")]
    ['nuclei', 'nuclei_v05', 'tissue', 'em', 'lightsheet', 'lightsheet_unsharded']
    """
    chosen = current_source(source)
    rows = []
    for d in CATALOG.values():
        path = d.local_path if chosen == "local" else d.remote_path
        if path is None:
            where = "(not available in this mode)"
        elif chosen == "local":
            where = f"s3://<local cloud>/{path} (synthetic)"
        else:
            where = remote_url(path)
        rows.append(DatasetLocation(d.name, d.description, where))
    return rows


def remote_available(timeout: float = ONLINE_PROBE_TIMEOUT_S) -> bool:
    """True when the public IDR object store answers (used to run optional online sections)."""
    try:
        check_reachable(REMOTE_ENDPOINT, timeout=timeout)
    except ConnectionError:
        return False
    return True


def open_image(
    name_or_url: str | Path,
    source: str | None = None,
    endpoint: str | None = None,
    *,
    strict: bool | None = None,
    retry: RetryPolicy | None = None,
) -> OmeImage:
    """Open a catalog dataset by name, or any OME-Zarr image by URL or path, lazily.

    Only the metadata is read until you index a level. Reads are tuned for remote stores
    (:mod:`helpers.storage`) and retried on transient faults (:mod:`helpers.reliable`).

    Parameters
    ----------
    name_or_url : str or pathlib.Path
        A catalog name (see :data:`CATALOG`), an ``s3://`` or ``http(s)://`` URL, or a local path.
    source : {"local", "remote"}, optional
        For catalog names (default: ``$COURSE_SOURCE``, else local).
    endpoint : str, optional
        S3 endpoint of an ``s3://`` URL (default: the local cloud for its buckets, the IDR for
        ``idr``, else AWS).
    strict : bool, optional
        Whether an absent chunk is an error instead of zeros (default: yes for the course's own
        images, whose every chunk was written; no otherwise, as Zarr leaves out fill-value chunks).
    retry : RetryPolicy, optional
        Attempts, waits and deadline per chunk (default :data:`helpers.fetch.DEFAULT_RETRY`).

    Raises ``KeyError`` for an unknown name, ``ValueError`` for a bad URL or source,
    :class:`NotOmeZarrError` when there is no OME-Zarr image, ``ConnectionError`` when the endpoint
    does not answer within 10 s.

    Examples
    --------
    >>> image = open_image("nuclei")  # doctest: +SKIP
    >>> image.axes, image.shape  # doctest: +SKIP
    (['c', 'z', 'y', 'x'], (2, 236, 275, 271))
    >>> plane = image.level(0)[1, 100]  # one request: the DAPI plane z = 100  # doctest: +SKIP
    """
    if not isinstance(name_or_url, str | Path):
        raise ValueError(
            f"not a dataset name or location: {name_or_url!r} (a {type(name_or_url).__name__}); "
            "give a catalog name, an s3:// or https:// URL, or a path"
        )
    text = str(name_or_url)
    if text in CATALOG:
        url, endpoint = dataset_url(text, source)
    elif "://" in text or "/" in text or text.endswith(".zarr") or Path(text).exists():
        url = text
    else:
        lookup(text)  # raises the KeyError listing the known names
        raise AssertionError("unreachable")
    location = parse_location(url, endpoint)
    if location.scheme == "s3" and location.endpoint is None:
        location = Location(
            "s3", location.path, default_s3_endpoint(location.path.split("/", 1)[0])
        )
    _check_reachable(location, source)
    if strict is None:
        strict = text in CATALOG or is_course_location(location)
    return read_ome_image(location, retry, strict=bool(strict))


def _check_reachable(location: Location, source: str | None) -> None:
    """A clear error, within seconds, when the folder is absent or the host does not answer."""
    if location.scheme == "file":
        if not Path(location.path).exists():
            raise NotOmeZarrError(f"no such folder: {location.path}")
        return
    probe = (
        location.path
        if location.scheme != "s3"
        else (location.endpoint or "https://s3.amazonaws.com")
    )
    try:
        check_reachable(probe, timeout=PROBE_TIMEOUT_S)
    except ConnectionError as err:
        local_cloud = urlparse(probe).hostname == "127.0.0.1" and current_source(source) == "local"
        hint = (
            "Is the local cloud running? helpers.cloud.ensure_cloud() starts one."
            if local_cloud
            else "Offline? Use the local copies: source='local' or COURSE_SOURCE=local."
        )
        raise ConnectionError(f"{err} while opening {location.url}. {hint}") from None


def is_course_location(location: Location) -> bool:
    """Whether ``location`` holds one of the course's own images (every chunk written).

    The public course bucket and the local samples are; the scratch bucket is not.

    Examples
    --------
    >>> is_course_location(parse_location("s3://course-data/v0.4/x.zarr"))
    True
    """
    if location.scheme == "file":
        return Path(location.path).is_relative_to(samples_dir())
    if location.scheme == "s3":
        bucket = location.path.split("/", 1)[0]
    else:
        parts = urlparse(location.path)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            return False
        bucket = parts.path.lstrip("/").split("/", 1)[0]
    return bucket == PUBLIC_BUCKET


def default_s3_endpoint(bucket: str) -> str | None:
    """The S3 endpoint for ``bucket``: the local cloud's (started if needed), the IDR's, or None (AWS)."""
    if bucket in (PUBLIC_BUCKET, SCRATCH_BUCKET):
        return ensure_cloud(verbose=False).endpoint
    if bucket == REMOTE_BUCKET:
        return REMOTE_ENDPOINT
    return None
