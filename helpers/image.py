"""An OME-Zarr image, opened lazily: its OME-NGFF metadata (0.4 or 0.5) and its levels.

:func:`read_ome_image` reads the metadata only; a level is downloaded when you index it. OME-NGFF
0.4 (Zarr v2) keeps its metadata at the top level of ``.zattrs``, 0.5 (Zarr v3) under ``"ome"`` in
``zarr.json``: code that reads ``attrs["multiscales"]`` breaks on 0.5 with a ``KeyError``, so
:func:`ome_metadata` reads both (written out because lesson 01 shows both places). To *check* a
store against the specification, use ome-zarr-models, as lessons 06 and 09 do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import zarr
import zarr.errors

from ._compat import array_store
from .fetch import RetryPolicy
from .reliable import ReliableStore, is_strict
from .storage import Location, close_store, zarr_store

__all__ = [
    "SUPPORTED_VERSIONS",
    "NotOmeZarrError",
    "OmeImage",
    "UnsupportedVersionError",
    "channel_names",
    "check_version",
    "image_from_group",
    "ome_metadata",
    "parse_multiscale",
    "read_ome_image",
]

logger = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("0.4", "0.5")
"""The OME-NGFF versions the helpers read and write."""


class UnsupportedVersionError(ValueError):
    """The metadata declares an OME-NGFF version the helpers cannot read (the message names it)."""


class NotOmeZarrError(ValueError):
    """The location holds no OME-Zarr image (the message says what is missing)."""


def ome_metadata(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The OME part of a group's attributes (0.5: under ``"ome"``, 0.4: top level) and its version.

    Examples
    --------
    >>> ome_metadata({"ome": {"version": "0.5", "multiscales": []}})[1]
    '0.5'
    >>> ome_metadata({"multiscales": [{"version": "0.4", "datasets": []}]})[1]
    '0.4'
    """
    if "ome" in attributes:
        ome = dict(attributes["ome"])
        return ome, ome.get("version")
    multiscales = attributes.get("multiscales") or [{}]
    return dict(attributes), multiscales[0].get("version")


def check_version(version: object, where: str = "this image", *, missing: str = "0.4") -> str:
    """The declared OME-NGFF ``version`` if the helpers read it (one of :data:`SUPPORTED_VERSIONS`).

    None gives ``missing``, with a logged warning; any other version raises
    :class:`UnsupportedVersionError` naming ``where``.

    Examples
    --------
    >>> check_version("0.5")
    '0.5'
    >>> check_version("0.9", "s3://bucket/new.zarr")
    Traceback (most recent call last):
    ...
    helpers.image.UnsupportedVersionError: s3://bucket/new.zarr declares OME-NGFF version '0.9'; ...
    """
    if version is None:
        logger.warning("%s declares no OME-NGFF version; reading it as %s", where, missing)
        return missing
    declared = str(version).strip()
    if declared in SUPPORTED_VERSIONS:
        return declared
    todo = (
        "convert it to 0.4 or newer (e.g. with ome-zarr-py or bioformats2raw)"
        if declared in ("0.1", "0.2", "0.3")
        else "open a 0.4 or 0.5 copy of the image, or update the course's helpers"
    )
    raise UnsupportedVersionError(
        f"{where} declares OME-NGFF version {version!r}; the helpers read only "
        f"{' and '.join(SUPPORTED_VERSIONS)}: {todo}"
    )


def _transforms(transforms: list[Any] | None, ndim: int) -> tuple[list[float], list[float]]:
    """The ``scale`` and ``translation`` in a list of coordinate transformations (defaults 1, 0)."""
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for t in transforms or []:
        if t.get("type") == "scale":
            scale = [float(v) for v in t["scale"]]
        elif t.get("type") == "translation":
            translation = [float(v) for v in t["translation"]]
    return scale, translation


def parse_multiscale(ome: Mapping[str, Any]) -> dict[str, Any]:
    """The first ``multiscales`` entry of ``ome``, as :class:`OmeImage` fields (axes to name).

    ``KeyError`` when there is no ``multiscales`` entry, ``ValueError`` when it names no axes.
    """
    entry = ome["multiscales"][0]
    axes_meta = entry.get("axes")
    if not axes_meta:  # guessing them (0.1-0.3 had none) could show the wrong axes
        raise ValueError(
            f"the multiscales entry {entry.get('name') or ''!r} names no axes (required since "
            "OME-NGFF 0.4): cannot tell which axis is which"
        )
    axes = [a["name"] if isinstance(a, dict) else a for a in axes_meta]
    units = {a["name"]: a["unit"] for a in axes_meta if isinstance(a, dict) and a.get("unit")}
    datasets = entry["datasets"]
    common_scale, common_shift = _transforms(entry.get("coordinateTransformations"), len(axes))
    per_level = [_transforms(d.get("coordinateTransformations"), len(axes)) for d in datasets]
    return {
        "axes": axes,
        "units": units,
        "paths": [str(d["path"]) for d in datasets],
        "scales": [
            tuple(s * g for s, g in zip(scale, common_scale, strict=True)) for scale, _ in per_level
        ],
        "translations": [
            tuple(t * g + o for t, g, o in zip(shift, common_scale, common_shift, strict=True))
            for _, shift in per_level
        ],
        "name": entry.get("name"),
    }


def channel_names(ome: Mapping[str, Any]) -> list[str]:
    """Channel labels from the ``omero`` metadata (``"channel i"`` where a label is missing)."""
    channels = ome.get("omero", {}).get("channels", [])
    return [c.get("label", f"channel {i}") for i, c in enumerate(channels)]


@dataclass
class OmeImage:
    """One multiscale OME-Zarr image: lazy ``levels``, level 0 (full resolution) first.

    ``scales`` and ``translations``: per level and axis, one pixel's physical size and the first
    pixel's offset; ``labels``: the label images under ``labels/``.

    Examples
    --------
    >>> from helpers import open_image
    >>> with open_image("nuclei") as image:  # doctest: +SKIP
    ...     print(image.level(-1).shape, image.channel_index("DAPI"))
    (2, 236, 68, 67) 1
    """

    url: str
    version: str
    axes: list[str]
    units: dict[str, str]
    paths: list[str]
    levels: list[zarr.Array]
    scales: list[tuple[float, ...]]
    translations: list[tuple[float, ...]]
    channel_names: list[str] | None = None
    labels: list[str] = field(default_factory=list)
    name: str | None = None
    group: zarr.Group | None = field(default=None, repr=False)
    attributes: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of level 0."""
        return tuple(self.levels[0].shape)

    @property
    def dtype(self) -> Any:
        """Pixel data type."""
        return self.levels[0].dtype

    @property
    def ome(self) -> dict[str, Any]:
        """The OME metadata of the image (0.4: the top-level attributes, 0.5: under ``"ome"``)."""
        return ome_metadata(self.attributes)[0]

    @property
    def strict(self) -> bool:
        """True when an absent chunk is an error, not fill values (see :mod:`helpers.reliable`)."""
        return bool(self.levels) and is_strict(array_store(self.levels[0]))

    def close(self) -> None:
        """Close the HTTP sessions of the image's store now (reading again reopens them)."""
        if self.levels:
            close_store(array_store(self.levels[0]))  # a ReliableStore shows its inner ``fs``

    def __enter__(self) -> OmeImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def axis(self, name: str) -> int:
        """Index of axis ``name`` (e.g. ``"c"``); ``ValueError`` naming the axes if absent."""
        if name not in self.axes:
            raise ValueError(f"this image has no {name!r} axis; its axes are {self.axes}")
        return self.axes.index(name)

    def channel_index(self, channel: int | str) -> int:
        """Index of a channel given by number or name; ``ValueError`` listing the channels otherwise."""
        count = self.shape[self.axis("c")]
        if isinstance(channel, str):
            if not self.channel_names or channel not in self.channel_names:
                raise ValueError(f"no channel named {channel!r}; channels: {self.channel_names}")
            return self.channel_names.index(channel)
        if not 0 <= channel < count:
            raise ValueError(f"channel {channel} out of range: this image has {count} channels")
        return channel

    def level(self, index: int) -> zarr.Array:
        """The array of level ``index`` (negative counts from the coarsest); clear error if absent."""
        if not -len(self.levels) <= index < len(self.levels):
            raise ValueError(
                f"level {index} does not exist: this image has levels 0 to {len(self.levels) - 1}"
            )
        return self.levels[index]

    def open_labels(self, name: str | None = None, strict: bool = False) -> OmeImage:
        """The label image ``labels/<name>`` (the first one by default) as an :class:`OmeImage`.

        Not ``strict`` by default: label images usually leave out their all-background chunks
        (zarr 3 does not write chunks that hold only the fill value), which read as 0 = background.
        """
        if not self.labels:
            raise ValueError(f"{self.url} has no label images")
        name = self.labels[0] if name is None else name
        if name not in self.labels:
            raise ValueError(f"no label image {name!r}; available: {self.labels}")
        assert self.group is not None
        node = self.group[f"labels/{name}"]
        if not isinstance(node, zarr.Group):
            raise NotOmeZarrError(f"{self.url}/labels/{name} is an array, not a label image group")
        if isinstance(node.store, ReliableStore) and node.store.strict != strict:
            node = zarr.open_group(store=node.store.with_strict(strict), path=node.path, mode="r")
        return image_from_group(node, f"{self.url}/labels/{name}")

    def describe(self) -> list[dict[str, Any]]:
        """One row per level: shape, chunk shape, number of chunks, bytes (uncompressed), pixel size."""
        return [
            {
                "level": i,
                "path": self.paths[i],
                "shape": tuple(arr.shape),
                "chunks": tuple(arr.chunks),
                "n_chunks": arr.nchunks,
                "bytes": arr.nbytes,
                "scale": self.scales[i],
            }
            for i, arr in enumerate(self.levels)
        ]

    def __str__(self) -> str:
        lines = [
            f"OME-Zarr image {self.name or ''} (OME-NGFF {self.version}) at {self.url}",
            f"  axes {'/'.join(self.axes)}, {self.dtype} pixels, channels "
            f"{', '.join(self.channel_names or ['unnamed'])}, labels {', '.join(self.labels) or 'none'}",
        ]
        lines += [
            f"  level {row['level']}: shape {row['shape']}, chunks {row['chunks']}, "
            f"{row['n_chunks']} chunk{'s' * (row['n_chunks'] != 1)}, {row['bytes'] / 1e6:.1f} MB, pixel size {row['scale']}"
            for row in self.describe()
        ]
        return "\n".join(lines)


def image_from_group(group: zarr.Group, url: str) -> OmeImage:
    """Build an :class:`OmeImage` from an opened group, or raise :class:`NotOmeZarrError`."""
    attributes = group.attrs.asdict()
    ome, declared = ome_metadata(attributes)
    version = check_version(declared, url, missing="0.5" if "ome" in attributes else "0.4")
    if "multiscales" not in ome:
        where = "under 'ome' in zarr.json" if "ome" in attributes else "at the top level of .zattrs"
        hint = " It is an HCS plate: open one of its wells' images." if "plate" in ome else ""
        raise NotOmeZarrError(
            f"{url} is a Zarr group but not an OME-Zarr image: no 'multiscales' metadata {where} "
            f"(found keys {sorted(ome)}).{hint}"
        )
    fields = parse_multiscale(ome)
    levels = []
    for path in fields["paths"]:
        node = group.get(path)
        if not isinstance(node, zarr.Array):
            raise NotOmeZarrError(
                f"{url}: the multiscales metadata names level {path!r}, but no such array exists"
            )
        levels.append(node)
    labels = group.get("labels")
    label_list = [] if labels is None else ome_metadata(labels.attrs.asdict())[0].get("labels", [])
    return OmeImage(
        url=url,
        version=version,
        levels=levels,
        channel_names=channel_names(ome) or None,
        labels=[str(name) for name in label_list],
        group=group,
        attributes=attributes,
        **fields,
    )


def read_ome_image(
    location: Location, retry: RetryPolicy | None = None, strict: bool = False
) -> OmeImage:
    """Open the OME-Zarr image at ``location``; :class:`NotOmeZarrError` says what is missing.

    Reads go through a :class:`~helpers.reliable.ReliableStore` (retried under ``retry``; with
    ``strict``, an absent chunk is an error).

    Examples
    --------
    >>> from helpers.storage import parse_location
    >>> location = parse_location("s3://course-data/v0.4/idr0062A/6001240.zarr")  # doctest: +SKIP
    >>> read_ome_image(location, strict=True).axes  # doctest: +SKIP
    ['c', 'z', 'y', 'x']
    """
    store = ReliableStore(
        zarr_store(location, client_retries=False), retry, strict=strict, where=location.url
    )
    try:
        node = zarr.open(store=store, mode="r")
    except (FileNotFoundError, zarr.errors.NodeNotFoundError, KeyError):
        raise NotOmeZarrError(
            f"no Zarr metadata at {location.url}: found neither zarr.json (Zarr v3, OME-NGFF 0.5) nor "
            ".zgroup/.zattrs (Zarr v2, OME-NGFF 0.4); check the URL (it should end at the image's .zarr folder)"
        ) from None
    if isinstance(node, zarr.Array):
        raise NotOmeZarrError(
            f"{location.url} is a single Zarr array, not an OME-Zarr image group: open the folder that holds "
            "the multiscales metadata (usually the parent of '0' or 's0')"
        )
    return image_from_group(node, location.url)
