"""Read an OME-Zarr image (OME-NGFF 0.4 or 0.5) into a small, lazy :class:`OmeImage`.

OME-NGFF 0.4 (Zarr v2) keeps its metadata at the top level of the group's ``.zattrs``; 0.5 (Zarr v3)
keeps it under ``"ome"`` in ``zarr.json``. Code that reads ``attrs["multiscales"]`` directly breaks on
0.5 with a ``KeyError``: :func:`read_ome_image` reads both. Arrays stay lazy: nothing but metadata is
downloaded until you index a level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import zarr
import zarr.errors

from .storage import Location, zarr_store


class NotOmeZarrError(ValueError):
    """The location holds no OME-Zarr image (the message says what is missing)."""


@dataclass
class OmeImage:
    """One multiscale OME-Zarr image, level 0 (full resolution) first.

    Attributes:
        url: where it was opened from.
        version: OME-NGFF version, e.g. "0.4" or "0.5".
        axes: axis names in array order, e.g. ``["c", "z", "y", "x"]``.
        units: unit of each axis that has one, e.g. ``{"z": "micrometer", ...}``.
        paths: the level arrays' paths inside the group.
        levels: the lazily read arrays (``zarr.Array``), level 0 first.
        scales: per level, the physical size of one pixel along each axis.
        translations: per level, the physical offset of the first pixel along each axis.
        channel_names: names from the ``omero`` metadata, when present.
        labels: names of the label images under ``labels/``, when present.
        name: the multiscale's name, when present.
        group: the opened root ``zarr.Group``.
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

    def open_labels(self, name: str | None = None) -> OmeImage:
        """The label image ``labels/<name>`` (the first one by default) as an :class:`OmeImage`."""
        if not self.labels:
            raise ValueError(f"{self.url} has no label images")
        name = self.labels[0] if name is None else name
        if name not in self.labels:
            raise ValueError(f"no label image {name!r}; available: {self.labels}")
        assert self.group is not None
        return image_from_group(self.group[f"labels/{name}"], f"{self.url}/labels/{name}")

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
                f"{row['n_chunks']} chunks, {row['bytes'] / 1e6:.1f} MB, pixel size {row['scale']}"
            )
        return "\n".join(lines)


def ome_metadata(attributes: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The OME part of a group's attributes (under ``"ome"`` in 0.5, top level in 0.4) and its version."""
    if "ome" in attributes:
        ome = attributes["ome"]
        return ome, ome.get("version")
    multiscales = attributes.get("multiscales") or [{}]
    return attributes, multiscales[0].get("version")


def _transforms(
    transforms: list[dict[str, Any]] | None, ndim: int
) -> tuple[list[float], list[float]]:
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for t in transforms or []:
        if t.get("type") == "scale":
            scale = [float(v) for v in t["scale"]]
        elif t.get("type") == "translation":
            translation = [float(v) for v in t["translation"]]
    return scale, translation


def image_from_group(group: zarr.Group, url: str) -> OmeImage:
    """Build an :class:`OmeImage` from an opened group, or raise :class:`NotOmeZarrError`."""
    attributes = group.attrs.asdict()
    ome, version = ome_metadata(attributes)
    if "multiscales" not in ome:
        where = "under 'ome' in zarr.json" if "ome" in attributes else "at the top level of .zattrs"
        hint = " It is an HCS plate: open one of its wells' images." if "plate" in ome else ""
        raise NotOmeZarrError(
            f"{url} is a Zarr group but not an OME-Zarr image: no 'multiscales' metadata {where} "
            f"(found keys {sorted(ome)}).{hint}"
        )
    multiscale = ome["multiscales"][0]
    axes_meta = multiscale.get("axes") or [
        {"name": n} for n in "tczyx"[-len(multiscale["datasets"]) :]
    ]
    axes = [a["name"] if isinstance(a, dict) else a for a in axes_meta]
    units = {a["name"]: a["unit"] for a in axes_meta if isinstance(a, dict) and a.get("unit")}
    global_scale, global_translation = _transforms(
        multiscale.get("coordinateTransformations"), len(axes)
    )
    paths, levels, scales, translations = [], [], [], []
    for dataset in multiscale["datasets"]:
        try:
            array = group[dataset["path"]]
        except KeyError:
            raise NotOmeZarrError(
                f"{url}: the multiscales metadata names level {dataset['path']!r}, but no such array exists"
            ) from None
        scale, translation = _transforms(dataset.get("coordinateTransformations"), len(axes))
        paths.append(dataset["path"])
        levels.append(array)
        scales.append(tuple(s * g for s, g in zip(scale, global_scale, strict=True)))
        translations.append(
            tuple(
                t * g + o
                for t, g, o in zip(translation, global_scale, global_translation, strict=True)
            )
        )
    channels = [
        c.get("label", f"channel {i}")
        for i, c in enumerate(ome.get("omero", {}).get("channels", []))
    ]
    return OmeImage(
        url=url,
        version=str(version or multiscale.get("version") or "unknown"),
        axes=axes,
        units=units,
        paths=paths,
        levels=levels,
        scales=scales,
        translations=translations,
        channel_names=channels or None,
        labels=_label_names(group),
        name=multiscale.get("name"),
        group=group,
        attributes=attributes,
    )


def _label_names(group: zarr.Group) -> list[str]:
    try:
        labels_group = group["labels"]
    except KeyError:
        return []
    ome, _ = ome_metadata(labels_group.attrs.asdict())
    return list(ome.get("labels", []))


def read_ome_image(location: Location) -> OmeImage:
    """Open the OME-Zarr image at ``location``; :class:`NotOmeZarrError` says what is missing."""
    store = zarr_store(location)
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
