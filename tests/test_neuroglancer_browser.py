"""Neuroglancer in a real browser (Chromium via Playwright), reading images from the local cloud, offline.

``open_in_neuroglancer`` serves Neuroglancer's web client from this machine; the browser then reads
the chunks itself from the local cloud, across origins (so the cloud's CORS headers are needed).
For the nuclei image (OME-NGFF 0.4, two channels) and the sharded light-sheet image (0.5, read with
byte ranges), the test opens the viewer and waits until

- the cloud counted chunk requests from the browser (more GETs than the metadata objects, and
  byte-range GETs for the sharded image),
- the data panel is not blank (its pixels vary: overlays are hidden so only data can vary),

with every host but 127.0.0.1 unreachable for the browser and no request to one (Neuroglancer's
client is the one the Python package ships: no CDN). Screenshots go to
``test-artifacts/neuroglancer.png`` (nuclei) and ``test-artifacts/neuroglancer-sharded.png``.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlparse

import numpy as np
import pytest
from browser_support import CHROMIUM_ARGS, chromium_or_skip

from course_tools import REPO_ROOT
from helpers.cloud import Cloud, CloudStatus

ARTIFACTS = REPO_ROOT / "test-artifacts"
WEBGL_ARGS = [
    "--use-angle=swiftshader",  # WebGL 2 on the CPU: Neuroglancer draws with it, no GPU here
    "--enable-unsafe-swiftshader",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",  # offline
]
LOAD_TIMEOUT_S = 20.0
MIN_DISTINCT_VALUES = 16  # a blank panel has one or two grey levels; data has many


def panel_pixels(page) -> np.ndarray:
    """The central half of Neuroglancer's first data panel, as grey levels."""
    from PIL import Image

    panel = page.locator(".neuroglancer-rendered-data-panel").first
    picture = Image.open(io.BytesIO(panel.screenshot())).convert("L")
    pixels = np.asarray(picture)
    h, w = pixels.shape
    return pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]


def is_blank(pixels: np.ndarray) -> bool:
    return np.unique(pixels).size < MIN_DISTINCT_VALUES or float(pixels.std()) < 2.0


def wait_until_drawn(page, cloud: Cloud, loaded) -> tuple[CloudStatus, np.ndarray]:
    """Poll until ``loaded(status)`` holds and the panel is not blank; fail after LOAD_TIMEOUT_S."""
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while True:
        status = cloud.status()
        pixels = panel_pixels(page)
        if loaded(status) and not is_blank(pixels):
            return status, pixels
        if time.monotonic() > deadline:
            pytest.fail(
                f"Neuroglancer did not draw within {LOAD_TIMEOUT_S:.0f} s: cloud {status.requests_by_method}, "
                f"{status.range_requests} ranges; panel {np.unique(pixels).size} grey levels"
            )
        page.wait_for_timeout(250)


def open_view(name: str):
    """Open catalog image ``name`` in Neuroglancer, overlays hidden (only data can vary)."""
    from course_tools.viewers import open_in_neuroglancer

    view = open_in_neuroglancer(name)
    with view.viewer.txn() as state:
        state.show_axis_lines = False
        state.show_scale_bar = False
        state.show_default_annotations = False
    return view


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_neuroglancer_reads_local_cloud_images_offline(cloud: Cloud) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from helpers.catalog import open_image

    started = time.monotonic()
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[*CHROMIUM_ARGS, *WEBGL_ARGS],
            headless=True,
            timeout=60_000,
        )
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.on(
            "request",
            lambda r: (
                outside.append(r.url)
                if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None)
                and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        try:
            # Nuclei: OME-NGFF 0.4 / Zarr v2, two channels (two layers), one chunk per plane.
            view = open_view("nuclei")
            assert view.source.startswith("zarr2://http://127.0.0.1:")
            assert view.layers == ("LaminB1", "DAPI")
            with open_image("nuclei") as nuclei:
                metadata = 2 + 2 * len(nuclei.levels)  # .zattrs, the .zarray probe, 2 per level
            before = cloud.status()
            page.goto(view.url, timeout=30_000)
            gets = lambda s: s.requests_by_method.get("GET", 0)  # noqa: E731
            after, _ = wait_until_drawn(
                page, cloud, lambda s: gets(s) - gets(before) >= metadata + len(view.layers)
            )
            assert after.requests > before.requests
            page.screenshot(path=str(ARTIFACTS / "neuroglancer.png"))
            view.close()

            # Light-sheet: OME-NGFF 0.5 / Zarr v3 sharded: inner chunks are byte ranges of shards.
            view = open_view("lightsheet")
            assert view.source.startswith("zarr3://http://127.0.0.1:")
            before = cloud.status()
            page.goto(view.url, timeout=30_000)
            after, _ = wait_until_drawn(
                page, cloud, lambda s: s.range_requests - before.range_requests >= 2
            )
            assert after.range_bytes > before.range_bytes
            page.screenshot(path=str(ARTIFACTS / "neuroglancer-sharded.png"))
            view.close()
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "neuroglancer-failure.png"))
            raise
        finally:
            browser.close()
    assert not outside, f"the viewer fetched from other hosts (not offline): {outside[:5]}"
    assert time.monotonic() - started < 40, "the Neuroglancer browser test should take < 40 s"
