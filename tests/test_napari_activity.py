"""The "skimage napari" activity (activities/napari_threshold.py) run headless against the local cloud.

The script runs in its own process (Qt's offscreen platform, a private Xvfb for OpenGL, napari's
``show=False`` viewer), opens the nuclei image with the napari-ome-zarr plugin and writes its
layers and numbers as JSON. The test checks them against the store and against the course's own
segmentation (helpers.segment) on the same level, and that the screenshot shows the nuclei.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib import image as mpimg

from course_tools import REPO_ROOT
from helpers.catalog import open_image
from helpers.segment import channel_volume, compute_threshold, segment, segment_in_memory

ACTIVITIES = REPO_ROOT / "activities"
SCRIPT = ACTIVITIES / "napari_threshold.py"
SCREENSHOT = REPO_ROOT / "test-artifacts" / "napari.png"
LEVEL = 1  # finer than the coarsest level (2), where the threshold is computed


sys.path.insert(0, str(ACTIVITIES))  # the activity's scripts import each other, like scripts do
import napari_headless  # noqa: E402
import napari_threshold as activity  # noqa: E402
import nuclei_skimage  # noqa: E402


@pytest.fixture(scope="module")
def run(cloud, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One headless run of the script against the session's cloud; its JSON result and output."""
    out = tmp_path_factory.mktemp("napari") / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    SCREENSHOT.unlink(missing_ok=True)
    command = [sys.executable, str(SCRIPT), "--dataset", "nuclei", "--level", str(LEVEL)]
    command += ["--screenshot", str(SCREENSHOT), "--json", str(out)]
    done = subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    result["stdout"] = done.stdout
    return result


def test_layers_are_the_stores_channels_levels_and_the_labels(run: dict, cloud) -> None:
    image = open_image("nuclei")
    layers = {layer["name"]: layer for layer in run["layers"]}
    assert list(layers) == [
        "6001240.zarr: LaminB1",
        "6001240.zarr: DAPI",
        "labels/labels/0",  # the store's own label image, as the plugin names it
        f"nuclei (level {LEVEL})",
    ]
    levels = [list(level.shape[1:]) for level in image.levels]
    assert len(levels) == 3
    for channel in image.channel_names:
        layer = layers[f"6001240.zarr: {channel}"]
        assert layer["kind"] == "image" and layer["multiscale"] and layer["visible"]
        assert layer["levels"] == len(image.levels)
        assert layer["level_shapes"] == levels  # every level of the store, lazily
    mask = layers[f"nuclei (level {LEVEL})"]
    assert mask["kind"] == "labels" and not mask["multiscale"] and mask["visible"]
    assert mask["level_shapes"] == [levels[LEVEL]]
    assert run["channel_layer"] == "6001240.zarr: DAPI"
    assert run["url"] == f"{cloud.endpoint}/course-data/v0.4/idr0062A/6001240.zarr"


def test_numbers_equal_the_courses_own_segmentation(run: dict) -> None:
    image = open_image("nuclei")
    assert run["threshold_level"] == len(image.levels) - 1 and run["level"] == LEVEL
    assert run["method"] == "otsu" and run["plane_step"] == 4
    threshold = compute_threshold(image, "DAPI", level=-1, method="otsu", plane_step=4)
    assert run["threshold"] == pytest.approx(threshold, rel=1e-12)
    assert run["min_size"] == nuclei_skimage.scaled_min_size(
        1000, image.level(LEVEL).shape[1:], image.level(0).shape[1:]
    )
    labels = segment(channel_volume(image, "DAPI", level=LEVEL), threshold, run["min_size"])
    expected = int(labels.max().compute())
    assert expected >= 10  # the synthetic image has a few dozen nuclei
    assert run["label_count"] == expected
    assert f"labels    {expected} nuclei at level {LEVEL}" in run["stdout"]


def test_screenshot_shows_the_nuclei(run: dict) -> None:
    pixels = mpimg.imread(SCREENSHOT)[..., :3]  # floats 0..1
    assert pixels.shape == (800, 1200, 3)
    colours = (pixels * 255).astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
    assert len(np.unique(colours)) > 500  # not one flat colour
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    nuclei = (red > 0.25) & (green > 0.3) & (blue < 0.2)  # DAPI is yellow: napari's UI has none
    assert nuclei.sum() > 2000, f"only {nuclei.sum()} yellow pixels: the canvas looks blank"


def test_skimage_steps_equal_the_reference_segmentation() -> None:
    rng = np.random.default_rng(5)
    volume = rng.normal(100, 20, (6, 40, 40))
    volume[1:5, 5:15, 5:15] = 600
    volume[2:4, 9:11, 9:11] = 100  # a hole inside the first nucleus, filled plane by plane
    volume[1:6, 25:38, 20:35] = 700
    volume[3, 30:32, 2:4] = 900  # too small: removed
    labels = nuclei_skimage.label_nuclei(volume, 300.0, min_size=20)
    assert labels.dtype == np.uint32 and int(labels.max()) == 2
    np.testing.assert_array_equal(labels, segment_in_memory(volume, 300.0, min_size=20))
    assert nuclei_skimage.busiest_plane(labels) == 1  # planes 1-4 cross both nuclei: the first


def test_min_size_shrinks_with_the_level() -> None:
    scaled = nuclei_skimage.scaled_min_size
    assert scaled(1000, (236, 275, 271), (236, 275, 271)) == 1000
    assert scaled(1000, (236, 68, 67), (236, 275, 271)) == 61
    assert scaled(5, (1, 10, 10), (1, 1000, 1000)) == 1


def test_bad_input_is_one_line(monkeypatch, capsys) -> None:
    from course_tools.cli import run_cli

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert run_cli(activity.main, []) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no display to open napari on: use --screenshot PATH to run headless"
    )
    monkeypatch.setattr(napari_headless.shutil, "which", lambda name: None)
    assert run_cli(activity.main, ["--screenshot", "x.png"]) == 2
    assert capsys.readouterr().err.startswith("error: Xvfb not found")
    with pytest.raises(SystemExit):
        activity.main(["--level", "-1"])
    assert "--level: must be" in capsys.readouterr().err


def test_script_has_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        activity.main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for option in ("--source {local,remote}", "--dataset", "--level", "--screenshot PATH"):
        assert option in out
    assert "napari" not in sys.modules  # importing the activity does not load napari or Qt


def test_image_url_switches_between_local_and_remote(cloud) -> None:
    local = activity.image_url("nuclei", source="local")
    assert local.startswith(cloud.endpoint + "/course-data/")
    assert activity.image_url("nuclei", source="remote").startswith("https://livingobjects.")
    assert activity.image_url("nuclei_v05", source="local").endswith("6001240_labels.zarr")
