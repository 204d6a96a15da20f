"""open_image reads the same pixels whichever way a dataset is reached, and explains bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zarr

import helpers.catalog as catalog
from helpers.catalog import open_image
from helpers.cloud import Cloud
from helpers.image import NotOmeZarrError

PATHS = {"nuclei": "v0.4/idr0062A/6001240.zarr", "nuclei_v05": "v0.5/idr0062A/6001240_labels.zarr"}


@pytest.mark.parametrize("name", ["nuclei", "nuclei_v05"])
def test_same_pixels_over_s3_http_and_local_path(name: str, cloud: Cloud, samples) -> None:
    key = catalog.lookup(name).local_path
    views = [
        open_image(name),  # catalog name -> s3:// on the local cloud
        open_image(cloud.s3_url(key)),
        open_image(cloud.url(key)),  # plain http:// path-style URL
        open_image(samples / key),  # local folder
    ]
    reference = views[-1].levels[1][1, 100:103]
    for view in views[:-1]:
        assert np.array_equal(view.levels[1][1, 100:103], reference), view.url
        assert view.axes == ["c", "z", "y", "x"]


def test_v04_and_v05_copies_agree_on_metadata_and_pixels(cloud: Cloud) -> None:
    v04, v05 = open_image("nuclei"), open_image("nuclei_v05")
    assert (v04.version, v05.version) == ("0.4", "0.5")
    assert v04.channel_names == v05.channel_names == ["LaminB1", "DAPI"]
    assert (
        [a.shape for a in v04.levels]
        == [a.shape for a in v05.levels]
        == [
            (2, 236, 275, 271),
            (2, 236, 137, 135),
            (2, 236, 68, 67),
        ]
    )
    assert v04.scales == v05.scales
    assert v04.scales[0] == pytest.approx((1.0, 0.5002, 0.3604, 0.3604))
    assert v04.scales[2][3] == pytest.approx(4 * 0.3604)
    assert v04.units == {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
    assert v04.levels[0].chunks == (1, 1, 275, 271) and v05.levels[0].chunks == (1, 1, 256, 256)
    assert np.array_equal(v04.levels[2][:, 117], v05.levels[2][:, 117])
    labels = v04.open_labels()
    assert labels.shape == (1, 236, 275, 271) and labels.levels[0][0, 118].max() > 0


def write_image(path, axes: str, shape, dtype: str, version: str, **array_options) -> np.ndarray:
    """A small OME-Zarr image of any axes/dtype/format, written by hand (not by the course's generator)."""
    fmt = 2 if version == "0.4" else 3
    group = zarr.open_group(path, mode="w", zarr_format=fmt)
    data = (np.arange(np.prod(shape)) % 251).astype(dtype).reshape(shape)
    array = group.create_array("0", shape=shape, dtype=data.dtype, **array_options)
    array[...] = data
    multiscale = {
        "axes": [
            {"name": a, "type": "channel" if a == "c" else "time" if a == "t" else "space"}
            for a in axes
        ],
        "datasets": [
            {
                "path": "0",
                "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(axes)}],
            }
        ],
    }
    if version == "0.4":
        multiscale["version"] = "0.4"
        group.attrs["multiscales"] = [multiscale]
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
    return data


@pytest.mark.parametrize(
    ("axes", "shape", "dtype", "version", "options"),
    [
        ("yx", (40, 30), "uint8", "0.4", {"chunks": (16, 16)}),
        (
            "tczyx",
            (2, 1, 3, 20, 20),
            ">u2",
            "0.4",
            {"chunks": (1, 1, 1, 8, 8), "chunk_key_encoding": {"name": "v2", "separator": "."}},
        ),
        ("czyx", (2, 3, 20, 20), "float32", "0.5", {"chunks": (1, 1, 10, 10)}),
        ("tyx", (3, 32, 32), "int16", "0.5", {"chunks": (1, 8, 8), "shards": (1, 16, 16)}),
    ],
)
def test_reads_any_valid_image_not_just_the_samples(
    tmp_path, axes, shape, dtype, version, options
) -> None:
    data = write_image(tmp_path / "img.zarr", axes, shape, dtype, version, **options)
    image = open_image(tmp_path / "img.zarr")
    assert image.axes == list(axes) and image.version == version
    assert np.array_equal(image.levels[0][...], data)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known datasets: nuclei, nuclei_v05, tissue"):
        open_image("nucleus")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "malformed S3 URL"),
        ("ftp://host/x.zarr", "unsupported URL scheme 'ftp'"),
        ("https://:80/x.zarr", "no host name"),
        ("http://127.0.0.1:99999/x.zarr", "bad port"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_image(url)


@pytest.mark.parametrize("bad", [42, None, ["nuclei"], b"nuclei"])
def test_a_non_string_is_refused_in_one_line(bad) -> None:
    with pytest.raises(ValueError, match="not a dataset name or location") as info:
        open_image(bad)
    assert "\n" not in str(info.value)


def test_course_images_are_strict_and_complete_labels_are_not_strict(cloud: Cloud, samples) -> None:
    from helpers.reliable import missing_chunks

    nuclei = open_image("nuclei")
    key = catalog.lookup("nuclei_v05").local_path
    assert nuclei.strict and open_image(cloud.url(key)).strict and open_image(samples / key).strict
    assert not open_image(cloud.s3_url(key), strict=False).strict
    assert missing_chunks(nuclei, level=2) == []  # the samples write every chunk
    assert missing_chunks(nuclei, level=0, region=(1, slice(100, 110))) == []
    labels = nuclei.open_labels()
    assert not labels.strict and missing_chunks(labels, level=2) == []


def test_location_without_zarr_metadata_says_what_is_missing(cloud: Cloud) -> None:
    with pytest.raises(NotOmeZarrError, match=r"neither zarr.json .* nor .zgroup/.zattrs"):
        open_image(cloud.s3_url("v0.4/idr0062A/no-such-image.zarr"))


def test_zarr_group_without_multiscales_is_not_ome_zarr(cloud: Cloud) -> None:
    with pytest.raises(
        NotOmeZarrError, match="no 'multiscales' metadata at the top level of .zattrs"
    ):
        open_image(cloud.s3_url("v0.4/idr0062A/6001240.zarr/labels"))


def test_single_array_is_not_an_image(cloud: Cloud) -> None:
    with pytest.raises(NotOmeZarrError, match="single Zarr array"):
        open_image(cloud.url("v0.5/idr0062A/6001240_labels.zarr/0"))


def test_v05_group_without_ome_key_is_explained(tmp_path) -> None:
    zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3).attrs["something"] = 1
    with pytest.raises(NotOmeZarrError, match="no 'multiscales' metadata"):
        open_image(tmp_path / "plain.zarr")


def test_unreachable_endpoint_fails_fast_and_suggests_local_mode(monkeypatch) -> None:
    monkeypatch.setattr(
        catalog, "REMOTE_ENDPOINT", "http://127.0.0.1:9"
    )  # nothing listens on port 9
    monkeypatch.setattr(catalog, "REMOTE_BASE", "http://127.0.0.1:9/idr/zarr")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="source='local'"):
        open_image("nuclei", source="remote")
    with pytest.raises(ConnectionError, match="cannot reach 127.0.0.1:9"):
        open_image("s3://idr/zarr/v0.4/idr0062A/6001240.zarr")
    assert time.monotonic() - start < 10


def test_source_switch(monkeypatch, cloud: Cloud) -> None:
    monkeypatch.setenv("COURSE_SOURCE", "remote")
    assert catalog.current_source() == "remote"
    assert catalog.dataset_url("nuclei")[0] == f"s3://idr/zarr/{PATHS['nuclei']}"
    assert (
        catalog.dataset_url("nuclei", protocol="https")[0]
        == f"{catalog.REMOTE_BASE}/{PATHS['nuclei']}"
    )
    assert catalog.current_source("local") == "local"  # the argument wins
    assert catalog.dataset_url("nuclei", source="local")[0] == cloud.s3_url(PATHS["nuclei"])
    monkeypatch.setenv("COURSE_SOURCE", "cloudy")
    with pytest.raises(ValueError, match="unknown data source"):
        catalog.current_source()


def test_remote_only_dataset_is_explained_in_local_mode() -> None:
    with pytest.raises(ValueError, match="remote only"):
        catalog.dataset_url("em", source="local")


def test_public_urls_live_only_in_the_catalog() -> None:
    from course_tools import REPO_ROOT

    host = catalog.REMOTE_ENDPOINT.split("//")[1]
    for path in [
        *REPO_ROOT.joinpath("helpers").rglob("*.py"),
        *REPO_ROOT.joinpath("notebooks").glob("*.ipynb"),
    ]:
        if path.name != "catalog.py":
            assert host not in path.read_text() and "embassy.ebi.ac.uk" not in path.read_text(), (
                path
            )


@pytest.mark.online
def test_real_public_image_opens() -> None:
    image = open_image("nuclei", source="remote")
    assert image.shape == (2, 236, 275, 271)
    assert image.channel_names == ["LaminB1", "DAPI"]
