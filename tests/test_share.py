"""Lesson 09's share: an image converted by ``helpers.share`` opens in clients the course did not write.

The microscope's OME-TIFF is converted (sharded, as the lesson shares it), uploaded to the local
cloud's public scratch bucket, and read back by anonymous URL with ome-zarr-py's ``Reader``, its
``ome_zarr info`` command and napari-ome-zarr's reader function (no viewer): same pixels, same pixel
sizes, units and channel names. A copy with a deleted axis fails validation with one line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from course_tools.samples.microscope import MICROSCOPE_CHANNELS, build_microscope
from helpers.catalog import open_image
from helpers.cloud import Cloud
from helpers.share import (
    count_files,
    delete,
    read_ome_tiff,
    stored_metadata,
    to_ome_zarr,
    upload,
    validate,
)
from helpers.storage import s3_filesystem

PREFIX = "tests/share/sharded.zarr"


@pytest.fixture(scope="module")
def microscope() -> tuple[np.ndarray, object]:
    return read_ome_tiff(build_microscope())


@pytest.fixture(scope="module")
def local_copy(microscope, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    pixels, info = microscope
    out = tmp_path_factory.mktemp("share") / "sharded.zarr"
    to_ome_zarr(pixels, info, out, chunks=(1, 1, 256, 256), shards=(1, 16, 256, 256))
    return out


@pytest.fixture(scope="module")
def shared(cloud: Cloud, local_copy: Path) -> Iterator[str]:
    """The public share: the plain HTTP URL of the uploaded copy (deleted afterwards)."""
    fs = s3_filesystem(cloud.endpoint)
    remote = f"{cloud.scratch_bucket}/{PREFIX}"
    delete(remote, fs)
    upload(local_copy, remote, fs)
    try:
        yield cloud.url(PREFIX, bucket=cloud.scratch_bucket)
    finally:
        delete(remote, fs)


def test_the_conversion_keeps_pixel_sizes_units_and_channel_names(microscope, local_copy) -> None:  # noqa: ANN001
    _, info = microscope
    survived = stored_metadata(validate(local_copy))
    assert survived.pixel_size == info.pixel_size == {"z": 1.0, "y": 0.325, "x": 0.325}
    assert set(survived.units.values()) == {"micrometer"}
    assert survived.channels == list(MICROSCOPE_CHANNELS)
    objects, _ = count_files(local_copy)
    assert objects < 60  # shards: far fewer objects than the 672 chunks


def test_a_deleted_axis_fails_validation_in_one_line(local_copy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.zarr"
    shutil.copytree(local_copy, broken)
    document = json.loads((broken / "zarr.json").read_text())
    del document["attributes"]["ome"]["multiscales"][0]["axes"][1]
    (broken / "zarr.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="not valid OME-NGFF 0.5") as raised:
        validate(broken)
    assert "\n" not in str(raised.value)


def test_the_course_reader_opens_the_public_url(cloud: Cloud, shared: str, microscope) -> None:  # noqa: ANN001
    pixels, _ = microscope
    image = open_image(f"s3://{cloud.scratch_bucket}/{PREFIX}", endpoint=cloud.endpoint)
    assert image.channel_names == list(MICROSCOPE_CHANNELS)
    assert np.array_equal(image.levels[0][:, 8], pixels[:, 8])


def test_ome_zarr_py_reader_opens_the_public_url(shared: str, microscope) -> None:  # noqa: ANN001
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    pixels, info = microscope
    node = next(iter(Reader(parse_url(shared))()))
    levels = node.data
    assert len(levels) == 3 and levels[0].shape == pixels.shape
    assert np.array_equal(np.asarray(levels[0][:, 8]), pixels[:, 8])
    multiscale = node.metadata
    assert multiscale["channel_names"] == list(MICROSCOPE_CHANNELS)
    scale = multiscale["coordinateTransformations"][0][0]["scale"]
    assert scale[1:] == [info.pixel_size[a] for a in "zyx"]


def test_ome_zarr_info_describes_the_public_url(shared: str) -> None:
    command = [str(Path(sys.executable).parent / "ome_zarr"), "info", shared]  # its console script
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert "version: 0.5" in result.stdout and "(2, 16, 1024, 1024)" in result.stdout


def test_napari_ome_zarr_reader_opens_the_public_url(shared: str, microscope) -> None:  # noqa: ANN001
    napari_ome_zarr = pytest.importorskip("napari_ome_zarr")
    pixels, info = microscope
    reader = napari_ome_zarr.napari_get_reader(shared)
    assert reader is not None, "napari-ome-zarr does not claim the URL"
    data, kwargs, layer_type = reader(shared)[0]
    assert layer_type == "image" and kwargs["channel_axis"] == 0
    assert [name.split(": ")[-1] for name in kwargs["name"]] == list(MICROSCOPE_CHANNELS)
    assert list(kwargs["units"]) == ["micrometer"] * 3
    assert np.array_equal(np.asarray(data[0][:, 8]), pixels[:, 8])
    assert list(kwargs["scale"][-3:]) == [info.pixel_size[a] for a in "zyx"]


# --- bad input: one clear line each -----------------------------------------------------------------


def test_a_file_that_is_not_a_tiff_is_named(tmp_path: Path) -> None:
    import tifffile

    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    with pytest.raises(tifffile.TiffFileError, match="not a TIFF file"):
        read_ome_tiff(notes)


def test_a_tiff_without_ome_metadata_says_what_to_export(tmp_path: Path) -> None:
    import tifffile

    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((4, 8, 8), np.uint16), photometric="minisblack")  # no OME-XML
    with pytest.raises(ValueError, match="without OME-XML metadata: export it as OME-TIFF"):
        read_ome_tiff(plain)


def test_the_display_window_of_each_channel_is_written(local_copy: Path, microscope) -> None:  # noqa: ANN001
    pixels, _ = microscope
    omero = json.loads((local_copy / "zarr.json").read_text())["attributes"]["ome"]["omero"]
    for channel, plane in zip(omero["channels"], pixels, strict=True):
        window = channel["window"]
        assert window["min"] <= window["start"] < window["end"] <= window["max"]
        assert plane.min() <= window["start"] and window["end"] <= plane.max()
