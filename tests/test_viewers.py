"""The Neuroglancer helpers without a browser: the view plan (pure), URLs, bad input, the command line.

The real-browser test is tests/test_neuroglancer_browser.py.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from course_tools import REPO_ROOT
from course_tools.viewers import LayerPlan, image_http_url, neuroglancer_source, view_plan
from course_tools.viewers.ngstate import layer_shader
from course_tools.viewers.ngviewer import open_in_neuroglancer
from helpers.catalog import REMOTE_BASE
from helpers.cloud import Cloud

LIGHTSHEET_OME = {
    "omero": {
        "channels": [
            {
                "label": "tdTomato",
                "color": "FFFFFF",
                "window": {"min": 0, "max": 65535, "start": 90, "end": 1200},
            }
        ],
        "rdefs": {"defaultZ": 10},
    }
}
NUCLEI_OME = {
    "omero": {
        "channels": [
            {"label": "LaminB1", "color": "0000FF", "window": {"start": 0, "end": 1500}},
            {"label": "DAPI", "color": "FFFF00", "window": {"start": 0, "end": 1500}},
        ],
        "rdefs": {"defaultZ": 118},
    }
}


def test_a_sharded_3d_image_is_one_grey_layer_on_its_default_plane() -> None:
    plan = view_plan(
        "http://127.0.0.1:9000/course-data/v0.5/idr0066/ExpA_VIP_ASLM_on.zarr/",
        3,
        ["z", "y", "x"],
        (20, 2048, 2048),
        LIGHTSHEET_OME,
        scales=(2.0, 0.4, 0.4),
        units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        fit_px=512,
    )
    assert (
        plan.source
        == "zarr3://http://127.0.0.1:9000/course-data/v0.5/idr0066/ExpA_VIP_ASLM_on.zarr"
    )
    assert plan.layers == (
        LayerPlan("tdTomato", None, "#ffffff", (90.0, 1200.0), (0.0, 65535.0), True),
    )
    assert plan.dimensions == (("z", 2e-6, "m"), ("y", 4e-7, "m"), ("x", 4e-7, "m"))
    assert plan.display_dimensions == ("x", "y", "z")
    assert plan.position == (10.5, 1024.0, 1024.0)  # the centre of plane 10, the centre in y/x
    assert plan.cross_section_scale == 4.0  # 2048 pixels in 512 screen pixels


def test_channels_become_coloured_layers_and_the_zoom_follows_the_physical_size() -> None:
    plan = view_plan(
        "http://h/n.zarr",
        2,
        ["c", "z", "y", "x"],
        (2, 236, 200, 100),
        NUCLEI_OME,
        scales=(1.0, 0.5, 0.25, 0.5),  # x pixels twice as wide as y pixels
        units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        fit_px=100,
    )
    assert [(la.name, la.channel, la.color) for la in plan.layers] == [
        ("LaminB1", 0, "#0000ff"),
        ("DAPI", 1, "#ffff00"),
    ]
    assert plan.source.startswith("zarr2://")
    assert plan.position == (118.5, 100.0, 50.0)  # no position on the channel axis
    assert plan.cross_section_scale == 2.0  # 50 µm on both sides = 200 y pixels, in 100 px


def test_without_omero_channels_get_distinct_colours_and_the_dtype_range() -> None:
    plan = view_plan("https://h/x.zarr", 2, ["c", "y", "x"], (3, 10, 10), {}, value_range=(0, 255))
    assert [la.name for la in plan.layers] == ["channel 0", "channel 1", "channel 2"]
    assert len({la.color for la in plan.layers}) == 3
    assert {la.window for la in plan.layers} == {(0.0, 255.0)}
    assert plan.dimensions == (("y", 1.0, ""), ("x", 1.0, ""))
    single = view_plan("https://h/x.zarr", 2, ["y", "x"], (10, 10), {}, value_range=(0, 255))
    assert [(la.name, la.color) for la in single.layers] == [("image", "#ffffff")]


def test_duplicate_channel_names_are_made_unique() -> None:
    ome = {"omero": {"channels": [{"label": "GFP"}, {"label": "GFP"}]}}
    plan = view_plan("https://h/x.zarr", 2, ["c", "y", "x"], (2, 10, 10), ome)
    assert [la.name for la in plan.layers] == ["GFP (0)", "GFP (1)"]


def test_the_shader_draws_the_window_in_the_channel_colour() -> None:
    shader = layer_shader(LayerPlan("DAPI", 1, "#ffff00", (5.0, 90.0), (0.0, 255.0)))
    assert "invlerp normalized(range=[5, 90], window=[0, 255])" in shader
    assert 'color(default="#ffff00")' in shader and "emitRGB(color * normalized())" in shader


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: neuroglancer_source("s3://b/a.zarr", 3), "http"),
        (lambda: neuroglancer_source("/data/a.zarr", 2), "http"),
        (lambda: neuroglancer_source("http://h/a.zarr", 4), "zarr_format"),
        (lambda: view_plan("http://h/a", 2, ["z", "y"], (2, 2), {}), "y and x"),
        (lambda: view_plan("http://h/a", 2, ["y", "x"], (2, 2, 2), {}), "do not match"),
        (lambda: view_plan("http://h/a", 2, ["y", "x"], (2, 2), {}, scales=(0, 1)), "> 0"),
        (lambda: view_plan("http://h/a", 2, ["y", "x"], (2, 2), {}, fit_px=0), "fit_px"),
        (lambda: open_in_neuroglancer("nuclei", layout="2x2"), "unknown layout"),
        (lambda: open_in_neuroglancer("nuclei", port=70000), "port"),
        (lambda: image_http_url("/no/such/folder.zarr"), "cannot read the local folder"),
        (lambda: image_http_url("s3://some-bucket/a.zarr"), "endpoint"),
    ],
)
def test_bad_input_is_one_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_urls_a_browser_can_read() -> None:
    assert image_http_url("https://example.org/a.zarr/") == "https://example.org/a.zarr"
    assert image_http_url("s3://idr/zarr/v0.4/x.zarr") == f"{REMOTE_BASE}/v0.4/x.zarr"
    assert (
        image_http_url("s3://b/k/a.zarr", endpoint="http://127.0.0.1:1/")
        == "http://127.0.0.1:1/b/k/a.zarr"
    )
    with pytest.raises(KeyError, match="known datasets"):
        image_http_url("nucleii")


def test_a_catalog_name_is_read_from_the_local_cloud(cloud: Cloud) -> None:
    assert image_http_url("lightsheet") == cloud.url("v0.5/idr0066/ExpA_VIP_ASLM_on.zarr")


def test_neuroglancer_serves_its_own_client_no_cdn() -> None:
    import neuroglancer.static

    source = neuroglancer.static.get_static_content_source()
    assert isinstance(source, neuroglancer.static.ImportlibResourcesContentSource)
    client = importlib.resources.files("neuroglancer.static").joinpath("client")
    html = client.joinpath("index.html").read_text()
    scripts = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert scripts and all("//" not in s for s in scripts), scripts  # all served from the package
    assert all(client.joinpath(s).is_file() for s in scripts)


def test_the_command_prints_the_url_serves_it_and_stops_on_ctrl_c(cloud: Cloud) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "course_tools", "viewers", "neuroglancer", "nuclei"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "COURSE_ENDPOINT": cloud.endpoint},
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(x.startswith("URL ") for x in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        said = dict(
            x.rstrip("\n").split(" ", 1) for x in lines if x[:4] in ("IMAG", "SOUR", "URL ")
        )
        assert said["IMAGE"] == cloud.url("v0.4/idr0062A/6001240.zarr"), lines
        assert said["SOURCE"] == f"zarr2://{said['IMAGE']}"
        with urllib.request.urlopen(said["URL"], timeout=10) as answer:
            assert answer.status == 200 and b"<script" in answer.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_command_refuses_bad_input_in_one_line() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "course_tools", "viewers", "neuroglancer", "nope"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert answer.returncode == 2
    assert answer.stderr.startswith("error: unknown dataset 'nope'")
    assert len(answer.stderr.strip().splitlines()) == 1
