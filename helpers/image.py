"""An opened OME-Zarr image (OME-NGFF 0.4 or 0.5): a small, lazy :class:`OmeImage`.

:func:`read_ome_image` opens the group at a location (through :mod:`helpers.storage`), reads its
metadata with :mod:`helpers.ngff` (both versions) and keeps the level arrays lazy: nothing but
metadata is downloaded until you index a level.

Examples
--------
>>> from helpers import open_image
>>> image = open_image("nuclei")  # doctest: +SKIP
>>> image.axes, image.level(-1).shape  # doctest: +SKIP
(['c', 'z', 'y', 'x'], (2, 236, 68, 67))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import zarr
import zarr.errors

from ._compat import array_store
from .fetch.retry import RetryPolicy
from .ngff import channel_names, check_version, label_names, ome_metadata, parse_multiscale
from .reliable import ReliableStore, is_strict
from .storage import Location, close_store, zarr_store
from .text import plural

__all__ = ["NotOmeZarrError", "OmeImage", "image_from_group", "read_ome_image"]


class NotOmeZarrError(ValueError):
    """The location holds no OME-Zarr image (the message says what is missing)."""


@dataclass
class OmeImage:
    """One multiscale OME-Zarr image, level 0 (full resolution) first.

    Attributes
    ----------
    url : str
        Where it was opened from.
    version : str
        OME-NGFF version, e.g. ``"0.4"`` or ``"0.5"``.
    axes : list of str
        Axis names in array order, e.g. ``["c", "z", "y", "x"]``.
    units : dict
        Unit of each axis that has one, e.g. ``{"z": "micrometer", ...}``.
    paths : list of str
        The level arrays' paths inside the group.
    levels : list of zarr.Array
        The lazily read arrays, level 0 first.
    scales, translations : list of tuple of float
        Per level, the physical size of one pixel and the offset of the first pixel, per axis.
    channel_names : list of str or None
        Names from the ``omero`` metadata, when present.
    labels : list of str
        Names of the label images under ``labels/``.
    name : str or None
        The multiscale's name, when present.
    group : zarr.Group
        The opened root group.

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
    def dtype(self):
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

    def to_dask(self, index: int = 0):
        """Level ``index`` as a lazy dask array with one dask chunk per Zarr chunk."""
        import dask.array as da

        return da.from_zarr(self.level(index))

    def open_labels(self, name: str | None = None, strict: bool = False) -> OmeImage:
        """The label image ``labels/<name>`` (the first one by default) as an :class:`OmeImage`.

        Not strict by default: label images usually leave out their all-background chunks
        (zarr 3 does not write chunks that hold only the fill value), which read as 0 = background.
        ``strict=True`` makes an absent chunk an error (for label images known to be complete).
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
        store = node.store
        if isinstance(store, ReliableStore) and store.strict != strict:
            node = zarr.open_group(store=store.with_strict(strict), path=node.path, mode="r")
        return image_from_group(node, f"{self.url}/labels/{name}")

    def describe(self) -> list[dict[str, Any]]:
        """One row per level: shape, chunk shape, number of chunks, bytes (uncompressed), pixel size."""
        rows = []
        for i, (arr, scale) in enumerate(zip(self.levels, self.scales, strict=True)):
            rows.append(
                {
                    "level": i,
                    "path": self.paths[i],
                    "shape": tuple(arr.shape),
                    "chunks": tuple(arr.chunks),
                    "n_chunks": arr.nchunks,
                    "bytes": arr.nbytes,
                    "scale": scale,
                }
            )
        return rows

    def __str__(self) -> str:
        lines = [
            f"OME-Zarr image {self.name or ''} (OME-NGFF {self.version}) at {self.url}",
            f"  axes {self.axes}, dtype {self.dtype}, channels {self.channel_names}, labels {self.labels}",
        ]
        for row in self.describe():
            lines.append(
                f"  level {row['level']}: shape {row['shape']}, chunks {row['chunks']}, "
                f"{plural(row['n_chunks'], 'chunk')}, {row['bytes'] / 1e6:.1f} MB, pixel size {row['scale']}"
            )
        return "\n".join(lines)


def image_from_group(group: zarr.Group, url: str) -> OmeImage:
    """Build an :class:`OmeImage` from an opened group, or raise :class:`NotOmeZarrError`."""
    attributes = group.attrs.asdict()
    ome, declared = ome_metadata(attributes)
    # 0.4 and 0.5 only: any other declared version raises UnsupportedVersionError (a ValueError)
    version = check_version(declared, url, missing="0.5" if "ome" in attributes else "0.4")
    if "multiscales" not in ome:
        where = "under 'ome' in zarr.json" if "ome" in attributes else "at the top level of .zattrs"
        hint = " It is an HCS plate: open one of its wells' images." if "plate" in ome else ""
        raise NotOmeZarrError(
            f"{url} is a Zarr group but not an OME-Zarr image: no 'multiscales' metadata {where} "
            f"(found keys {sorted(ome)}).{hint}"
        )
    multiscale = parse_multiscale(ome, version)
    levels: list[zarr.Array] = []
    for path in multiscale.paths:
        try:
            node = group[path]
        except KeyError:
            node = None
        if not isinstance(node, zarr.Array):
            raise NotOmeZarrError(
                f"{url}: the multiscales metadata names level {path!r}, but no such array exists"
            )
        levels.append(node)
    return OmeImage(
        url=url,
        version=str(multiscale.version or "unknown"),
        axes=multiscale.axes,
        units=multiscale.units,
        paths=multiscale.paths,
        levels=levels,
        scales=multiscale.scales,
        translations=multiscale.translations,
        channel_names=channel_names(ome) or None,
        labels=_label_names(group),
        name=multiscale.name,
        group=group,
        attributes=attributes,
    )


def _label_names(group: zarr.Group) -> list[str]:
    try:
        labels_group = group["labels"]
    except KeyError:
        return []
    return label_names(labels_group.attrs.asdict())


def read_ome_image(
    location: Location, retry: RetryPolicy | None = None, strict: bool = False
) -> OmeImage:
    """Open the OME-Zarr image at ``location``; :class:`NotOmeZarrError` says what is missing.

    Every read goes through a :class:`~helpers.reliable.ReliableStore`: retried under ``retry``
    (attempts, backoff, deadline per key) and, if ``strict``, an absent chunk is an error.
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
