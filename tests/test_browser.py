"""Notebook 04 in a real browser: JupyterLab + Chromium (Playwright), against the test cloud.

The test opens a temporary copy of the notebook, runs all cells, then uses the tissue viewer like a
learner: zoom in with the "+" button, pan with the arrow buttons, come back to a view seen before, and
zoom with the level slider (keyboard). After each action it checks, from what the page shows, that

- the image changed (and is pixel-identical when a view is revisited),
- the view moved as asked (level, or by half a view in y/x, read from the physical coordinates shown),
- the read-out's requests equal the chunks the view maths says are new (the test clears the
  viewer's cache first, then keeps its own list of chunks already fetched), and a revisit says
  "served from cache: 0 requests".

After Run All it also checks that the exercise solutions show neither their code nor their output
(only the closed "Show the answer's output" accordion).

A screenshot is saved to test-artifacts/04_multiscale_browsing.png.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    JupyterLab,
    check_answers_stay_hidden,
    chromium_or_skip,
    open_notebook,
    run_all_cells,
)

from course_tools import REPO_ROOT
from helpers.chunks import chunks_for_region

NOTEBOOK = "04_multiscale_browsing.ipynb"
ARTIFACTS = REPO_ROOT / "test-artifacts"
ACTION_TIMEOUT_MS = 30_000

READOUT = re.compile(
    r"Level (?P<level>\d+) of .*?"
    r"y (?P<y0>[\d.]+)–(?P<y1>[\d.]+) µm, x (?P<x0>[\d.]+)–(?P<x1>[\d.]+) µm.*?"
    r"chunks needed: (?P<needed>\d+) → "
    r"(?:requests: (?P<requests>\d+), bytes: (?P<bytes>[\d.]+) (?P<unit>k?M?G?B)"
    r"|(?P<cached>served from cache: 0 requests)).*?"
    r"Views so far: (?P<views>\d+),",
    re.S,
)


@dataclass
class Shown:
    """What the viewer's read-out says about the view on screen."""

    level: int
    y: tuple[float, float]
    x: tuple[float, float]
    needed: int
    requests: int
    bytes: float
    cached: bool
    views: int


def parse_readout(text: str) -> Shown:
    match = READOUT.search(text)
    assert match, f"unexpected read-out: {text!r}"
    g = match.groupdict()
    return Shown(
        level=int(g["level"]),
        y=(float(g["y0"]), float(g["y1"])),
        x=(float(g["x0"]), float(g["x1"])),
        needed=int(g["needed"]),
        requests=int(g["requests"] or 0),
        bytes=float(g["bytes"] or 0),
        cached=g["cached"] is not None,
        views=int(g["views"]),
    )


class ViewerDriver:
    """Clicks and keys on the first viewer of the page, and what it shows afterwards."""

    def __init__(self, page, image) -> None:
        self.page = page
        self.image = image  # the same dataset, opened in the test, for the view maths
        self.widget = page.locator(".browse-widget").first
        self.readout = self.widget.locator(".browse-readout")
        self.img = self.widget.locator("img.browse-image")
        self.seen: set[tuple[int, tuple[int, ...]]] = set()

    def shown(self) -> Shown:
        return parse_readout(self.readout.text_content() or "")

    def picture(self) -> bytes:
        return self.img.screenshot()

    def act(self, action) -> tuple[Shown, bytes]:
        """Do ``action``, wait until the viewer has drawn the next view, return it."""
        from playwright.sync_api import expect

        before = self.shown()
        src = self.img.get_attribute("src")
        action()
        expect(self.readout).to_contain_text(
            f"Views so far: {before.views + 1},", timeout=ACTION_TIMEOUT_MS
        )
        self.page.wait_for_function(
            "([img, old]) => img.getAttribute('src') !== old && img.complete",
            arg=[self.img.element_handle(), src],
            timeout=ACTION_TIMEOUT_MS,
        )
        return self.shown(), self.picture()

    def check_cost(self, shown: Shown) -> None:
        """Requests shown == chunks of the view not fetched before (per the view maths)."""
        level = self.image.levels[shown.level]
        _, sy, sx = self.image.scales[shown.level]
        region = (
            slice(0, 1),  # channel 0, the viewer's default
            slice(round(shown.y[0] / sy), round(shown.y[1] / sy)),
            slice(round(shown.x[0] / sx), round(shown.x[1] / sx)),
        )
        keys = {(shown.level, i) for i in chunks_for_region(region, level.shape, level.chunks)}
        new = keys - self.seen
        self.seen |= keys
        assert shown.needed == len(keys), (shown, len(keys))
        if new:
            assert not shown.cached and shown.requests == len(new) and shown.bytes > 0, (shown, new)
        else:
            assert shown.cached and shown.requests == 0, shown


def clear_viewer_cache(page) -> None:
    """Empty the tile cache of the notebook's `viewer`, by running one line in its kernel."""
    status = page.evaluate(
        """async (code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await kernel.requestExecute({code, store_history: false}).done;
          return reply.content.status;
        }""",
        "viewer.reader.cache.clear()",
    )
    assert status == "ok", status


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_multiscale_browsing_notebook_in_chromium(cloud, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    from helpers.catalog import open_image
    from helpers.cloud import PUBLIC_BUCKET

    tissue = open_image(f"s3://{PUBLIC_BUCKET}/synthetic/tissue.zarr", endpoint=cloud.endpoint)
    ARTIFACTS.mkdir(exist_ok=True)
    lab = JupyterLab(REPO_ROOT / "notebooks", tmp_path, env={"COURSE_ENDPOINT": cloud.endpoint})
    with lab, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_notebook(page, lab, NOTEBOOK)
            run_all_cells(page)
            check_answers_stay_hidden(page)
            viewer = ViewerDriver(page, tissue)
            viewer.widget.scroll_into_view_if_needed()
            expect(viewer.readout).to_contain_text("Views so far", timeout=ACTION_TIMEOUT_MS)
            overview = viewer.shown()
            assert overview.views == 1, "the learner should meet the viewer's fresh overview"
            assert overview.level >= 3, "the overview should be a coarse level"
            # Zoom in twice, pan right and back first (what the notebook's demonstration does to its
            # own viewer), so that the zooming and panning below have room inside the image.
            for name in ("zoom-in", "zoom-in", "pan-right", "pan-left"):
                start, _ = viewer.act(lambda n=name: viewer.widget.locator(f".browse-{n}").click())
            assert start.level == overview.level - 2 >= 1
            clear_viewer_cache(page)
            picture = viewer.picture()

            # Zoom in with the "+" button: one level finer, same centre, all its chunks fetched.
            zoomed, zoomed_picture = viewer.act(
                lambda: viewer.widget.locator(".browse-zoom-in").click()
            )
            assert zoomed.level == start.level - 1
            assert zoomed.needed >= 1 and zoomed.requests == zoomed.needed
            viewer.check_cost(zoomed)
            assert zoomed_picture != picture
            width = zoomed.x[1] - zoomed.x[0]
            height = zoomed.y[1] - zoomed.y[0]

            # Pan right twice by half a view: a whole view further, so new chunks are needed
            # (the view is as wide as a chunk here, and moved by that much).
            click = lambda name: viewer.widget.locator(f".browse-{name}").click()  # noqa: E731
            right, right_picture = viewer.act(lambda: click("pan-right"))
            assert right.level == zoomed.level and right.y == zoomed.y
            assert right.x[0] == pytest.approx(zoomed.x[0] + width / 2, abs=1)
            viewer.check_cost(right)
            assert right_picture != zoomed_picture
            further, further_picture = viewer.act(lambda: click("pan-right"))
            assert further.x[0] == pytest.approx(zoomed.x[0] + width, abs=1)
            viewer.check_cost(further)
            assert further.requests > 0 and further_picture != right_picture

            # Back left: a view seen before, served from the cache, the same picture.
            back, back_picture = viewer.act(lambda: click("pan-left"))
            assert (back.x, back.y) == (right.x, right.y)
            assert back.cached and back.requests == 0
            assert "served from cache: 0 requests" in (viewer.readout.text_content() or "")
            assert back_picture == right_picture

            # Down by half a view.
            down, down_picture = viewer.act(lambda: click("pan-down"))
            assert down.x == back.x
            assert down.y[0] == pytest.approx(back.y[0] + height / 2, abs=1)
            viewer.check_cost(down)
            assert down_picture != back_picture

            # The level slider, from the keyboard: one more level finer.
            handle = viewer.widget.locator(".noUi-handle").first
            handle.focus()
            finer, finer_picture = viewer.act(lambda: page.keyboard.press("ArrowLeft"))
            assert finer.level == down.level - 1
            viewer.check_cost(finer)
            assert finer_picture != down_picture

            viewer.widget.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "04_multiscale_browsing.png"))
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "04_multiscale_browsing-failure.png"))
            print("JupyterLab log:\n" + lab.log_tail())
            raise
        finally:
            browser.close()


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must not be skipped in CI"):
        chromium_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium_or_skip()
