"""The rendered course site (``make book``): Sphinx with myst-nb, built offline from the executed notebooks.

Waits for the notebooks' Binder-shaped session (``tests/binder_session.py``), which saves each executed
notebook into ``test-artifacts/executed/``; the build reuses those outputs and never starts a kernel, and
must not touch the network. Then the pages are checked as files (order, links, anchors, images, alt text,
folded solutions, launch links, nothing loaded from the internet) and in Chromium, opened from disk as
``make book`` tells a learner to: axe-core on every page, no request leaving the machine, no page wider
than a phone, the search page finding a word.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import socket
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml
from browser_support import CHROMIUM_ARGS, chromium_or_skip

from course_tools import REPO_ROOT
from course_tools.answers import ANSWER_TITLE
from course_tools.cli import run_cli
from course_tools.quiz import QUESTIONS
from course_tools.site import EXECUTED, SiteConfig, build_site, mermaid, read_config
from course_tools.site.mermaid import describe
from course_tools.site.notebooks import (
    SOLUTION_SHOW,
    WIDGET_STATE,
    WIDGET_VIEW,
    caption_alt,
    widget_outputs,
)

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPRS = ("Accordion(children", "HBox(children", "VBox(children", "Output()", "Image(value=")
PHONE = {"width": 390, "height": 844}
# On a phone: what in the page's text sticks out on the right, outside any box that scrolls
# sideways (code, wide tables), and whether the page itself scrolls sideways.
SIDEWAYS_JS = """() => {
  const width = window.innerWidth;
  const article = document.querySelector('article') || document.body;
  const out = [];
  for (const e of article.querySelectorAll('*')) {
    const box = e.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    let scrolls = false;
    for (let a = e.parentElement; a && a !== article.parentElement; a = a.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) { scrolls = true; break; }
    }
    if (!scrolls) out.push(e.tagName + ': ' + (e.textContent || '').trim().slice(0, 60));
  }
  window.scrollTo(10000, window.scrollY);
  return {scrollX: window.scrollX, outside: out.slice(0, 3)};
}"""


class Page(HTMLParser):
    """The ids, links, loaded sources, images and meta tags of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("id", "name"):
            if found.get(key):
                self.ids.add(str(found[key]))
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        for key in ("src", "data", "poster"):
            if found.get(key) and tag != "a":
                self.sources.append(str(found[key]))
        if tag == "link" and found.get("href"):
            self.sources.append(str(found["href"]))
        if tag == "img":
            self.images.append(found)
        if tag == "meta":
            self.meta.append(found)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def site_pages(out: Path) -> list[Path]:
    """Every HTML page of the site (not the theme's template fragments in ``_static``)."""
    return sorted(p for p in out.rglob("*.html") if not p.relative_to(out).parts[0] == "_static")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, binder_session) -> tuple[Path, object]:
    binder_session.wait()  # the executed notebooks
    out = tmp_path_factory.mktemp("site")
    real_connect = socket.socket.connect

    def offline(self: socket.socket, address: object) -> None:
        raise AssertionError(f"the site build opened a connection to {address}")

    from nbclient import NotebookClient

    def no_kernel(*args: object, **kwargs: object) -> None:
        raise AssertionError("the site build executed a notebook")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", offline)
        patch.setattr(NotebookClient, "execute", no_kernel)
        start = time.monotonic()
        build = build_site(out, EXECUTED, execute=False)
        elapsed = time.monotonic() - start
    assert socket.socket.connect is real_connect
    print(f"site: {len(build.pages)} pages in {elapsed:.1f} s")
    return out, build


def test_one_page_per_configured_page_in_course_order(site: tuple[Path, object]) -> None:
    out, build = site
    config = read_config()
    pages = tuple(Path(p).with_suffix(".html").as_posix() for p in config.pages)
    assert build.pages == ("index.html", *pages)
    assert config.pages[0] == "course/module.md"
    assert config.pages[-2:] == ("course/instructor_notes.md", "course/glossary.md")
    notebooks = [p for p in config.pages if p.endswith(".ipynb")]
    assert notebooks == [p.relative_to(REPO_ROOT).as_posix() for p in NOTEBOOKS]
    found = {p.relative_to(out).as_posix() for p in site_pages(out)}
    assert found == {*build.pages, "search.html", "genindex.html"}
    assert build.executed == ()  # no notebook executed a second time
    assert "course/module.html" in (out / "index.html").read_text()  # the way in


def test_navigation_follows_the_course_order(site: tuple[Path, object]) -> None:
    out, build = site
    pages = [out / name for name in build.pages[1:]]
    for i, path in enumerate(pages):
        text = path.read_text()

        def neighbour(css: str, text: str = text, path: Path = path) -> Path | None:
            found = re.search(rf'<a class="{css}"\s+href="([^"]+)"', text)
            return (path.parent / found[1]).resolve() if found else None

        previous = pages[i - 1].resolve() if i else None
        following = pages[i + 1].resolve() if i + 1 < len(pages) else None
        assert neighbour("left-prev") == previous, f"{path.name}: previous"
        assert neighbour("right-next") == following, f"{path.name}: next"
        nav = text[
            text.index('<nav class="bd-links') : text.index("</nav>", text.index("bd-links"))
        ]
        current = re.findall(r'<li class="toctree-l1 current active">\s*<a [^>]*href="#"', nav)
        assert len(current) == 1, f"{path.name}: the current page is not marked in the navigation"


def broken_links(out: Path) -> list[str]:
    """Every relative link, anchor or loaded file in the HTML under ``out`` that does not resolve."""
    pages = {path.resolve(): parse(path) for path in site_pages(out)}
    broken = []
    for path, page in pages.items():
        name = path.relative_to(out.resolve()).as_posix()
        for url in page.links + page.sources:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto", "data"):
                continue
            assert not parts.scheme and not parts.netloc, f"{name}: unexpected URL {url}"
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if out.resolve() not in target.parents or not target.is_file():
                broken.append(f"{name}: {url} (no such file)")
            elif parts.fragment and target.suffix == ".html" and target in pages:
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{name}: {url} (no such anchor)")
    return broken


def test_every_internal_link_anchor_and_image_resolves(site: tuple[Path, object]) -> None:
    out, _ = site
    broken = broken_links(out)
    assert not broken, "\n".join(broken)


def test_no_page_or_stylesheet_loads_anything_from_the_internet(site: tuple[Path, object]) -> None:
    out, _ = site
    remote = [
        f"{path.relative_to(out)}: {src}"
        for path in site_pages(out)
        for src in parse(path).sources
        if urlsplit(src).scheme in ("http", "https") or src.startswith("//")
    ]
    for css in sorted(out.rglob("*.css")):
        for url in re.findall(
            r"""url\(\s*['"]?([^'")]+)|@import\s+(?:url\()?['"]?([^'")\s;]+)""", css.read_text()
        ):
            address = url[0] or url[1]
            if re.match(r"(https?:)?//", address):
                remote.append(f"{css.relative_to(out)}: {address}")
    scripts = "\n".join(p.read_text() for p in site_pages(out))
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "fonts.googleapis", "mathjax", "require.js"):
        if cdn in scripts.lower():
            remote.append(f"a page names {cdn}")
    assert not remote, "\n".join(remote)


def test_launch_links_come_from_the_one_repository_setting(
    site: tuple[Path, object], tmp_path: Path
) -> None:
    out, _ = site
    config = read_config()
    assert config.repository == ""  # not published yet: no launch link, no placeholder
    for path in site_pages(out):
        text = path.read_text()
        assert "mybinder.org" not in text and "OWNER" not in text, path.name
    published = SiteConfig(
        "t", ("course/glossary.md", "notebooks/00_welcome.ipynb"), "some-org/the-course"
    )
    build_site(tmp_path / "out", EXECUTED, config=published)
    notebook = parse(tmp_path / "out" / "notebooks" / "00_welcome.html").links
    assert published.binder_url("notebooks/00_welcome.ipynb") in notebook
    assert "https://github.com/some-org/the-course" in notebook
    glossary = parse(tmp_path / "out" / "course" / "glossary.html").links
    assert not [link for link in glossary if "mybinder" in link]  # a Markdown page runs nothing


def widget_state(notebook: nbformat.NotebookNode) -> dict:
    return notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def test_solutions_are_folded_and_show_their_real_outputs(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in NOTEBOOKS:
        source = nbformat.read(path, as_version=4)
        solutions = sum("solution" in c.metadata.get("tags", []) for c in source.cells)
        text = (out / "notebooks" / path.with_suffix(".html").name).read_text()
        folded = re.findall(
            r'<div class="cell tag_solution[^"]*">\s*<details class="[^"]*hide', text
        )
        assert len(folded) == solutions and text.count(SOLUTION_SHOW) == solutions, path.name
        for marker in REPRS:
            assert marker not in text, f"{path.name}: a widget's repr: {marker}"
        assert ANSWER_TITLE not in text  # the accordion is gone, its outputs are in the fold
        executed = EXECUTED / path.name
        if not executed.is_file():
            continue
        notebook = nbformat.read(executed, as_version=4)
        state = widget_state(notebook)
        for cell in notebook.cells:
            if "solution" not in cell.metadata.get("tags", []):
                continue
            views = [o.data[WIDGET_VIEW] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
            assert views, f"{path.name}: a solution without its accordion"
            shown = [o for v in views for o in widget_outputs(v["model_id"], state)]
            streams = [
                o.text.strip() for o in shown if o.output_type == "stream" and o.text.strip()
            ]
            first = streams[0].splitlines()[0] if streams else None
            if first:
                assert html.escape(first, quote=False) in text, f"{path.name}: {first!r} missing"


def test_lesson_04_viewers_show_their_pictures(site: tuple[Path, object]) -> None:
    out, _ = site
    notebook = nbformat.read(EXECUTED / "04_multiscale_browsing.ipynb", as_version=4)
    pictures = [
        base64.b64decode(buffer["data"])
        for model in widget_state(notebook).values()
        if model["model_name"] == "ImageModel"
        for buffer in model.get("buffers", [])
    ]
    page = parse(out / "notebooks" / "04_multiscale_browsing.html")
    shown = [str(img["src"]) for img in page.images if str(img.get("alt")).startswith("The viewer")]
    assert len(shown) == 2
    names = {Path(src).name for src in shown}
    assert names <= {f"{hashlib.sha256(p).hexdigest()}.png" for p in pictures}
    for src in shown:
        assert (out / "notebooks" / src).resolve().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_figure_has_its_caption_as_alt_text(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in NOTEBOOKS:
        page = parse(out / "notebooks" / path.with_suffix(".html").name)
        for image in page.images:
            assert image.get("alt") and image["alt"] != "output", f"{path.name}: {image}"
        executed = EXECUTED / path.name
        if not executed.is_file():
            continue
        cells = nbformat.read(executed, as_version=4).cells
        alts = {image["alt"] for image in page.images}
        captions = [caption_alt(cells[i + 1]) for i in range(len(cells) - 1)]
        for caption in filter(None, captions):
            assert caption in alts, f"{path.name}: no image has the alt text {caption[:60]!r}"


def test_the_concept_map_is_drawn_at_build_time(site: tuple[Path, object]) -> None:
    out, _ = site
    text = (REPO_ROOT / "course" / "module.md").read_text()
    concept_map = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))["concept_map"]
    page = parse(out / "course" / "module.html")
    drawn = [img for img in page.images if "mermaid" in str(img.get("class", ""))]
    assert len(drawn) == 1
    picture = (out / "course" / str(drawn[0]["src"])).resolve()
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert drawn[0]["alt"] == describe(concept_map)
    for label in re.findall(r'\["([^"]+)"\]', concept_map):
        assert label in str(drawn[0]["alt"])
    html_text = (out / "course" / "module.html").read_text()
    assert '<pre class="mermaid"' not in html_text and "mermaid.esm" not in html_text  # no script


def test_the_assessment_page_folds_every_answer(site: tuple[Path, object]) -> None:
    out, _ = site
    text = (out / "course" / "assessment.html").read_text()
    page = parse(out / "course" / "assessment.html")
    for question in QUESTIONS:
        assert question.id in page.ids, question.id
        solution = re.search(
            rf'<div class="([^"]*)" id="{re.escape(question.id)}-solution">(.*?)</section>',
            text,
            re.S,
        )
        assert solution and "dropdown" in solution[1].split(), question.id  # folded
        answer = (
            question.solution.split("**")[1] if "**" in question.solution else question.solution
        )
        shown = html.unescape(re.sub(r"<[^>]+>", "", solution[2])).replace("\u2019", "'")
        assert answer in shown, question.id


def test_every_page_fits_a_phone_meta(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in site_pages(out):
        viewports = [m for m in parse(path).meta if m.get("name") == "viewport"]
        assert viewports and "width=device-width" in str(viewports[0]["content"]), path.name


def test_every_page_in_chromium_axe_offline_and_phone_width(site: tuple[Path, object]) -> None:
    """axe-core: no serious or critical violation; no request leaves the machine; no sideways scroll."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    out, _ = site
    executable = chromium_or_skip()
    problems: list[str] = []
    remote: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_page(viewport={"width": 1280, "height": 900})
            phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
            for page in (desktop, phone):
                page.on(
                    "request",
                    lambda r: (
                        remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                    ),
                )
            axe = Axe()
            for path in site_pages(out):
                name = path.relative_to(out).as_posix()
                if name == "index.html":  # it sends the browser on: check it as it is, staying
                    text = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", path.read_text())
                    desktop.set_content(text, wait_until="load")
                else:
                    desktop.goto(path.as_uri(), wait_until="load")
                result = axe.run(desktop)
                for violation in result.response["violations"]:
                    if violation["impact"] in ("serious", "critical"):
                        where = [n["target"] for n in violation["nodes"][:3]]
                        problems.append(
                            f"{name}: {violation['id']} ({violation['impact']}) {where}"
                        )
                if name == "index.html":
                    continue
                phone.goto(path.as_uri(), wait_until="load")
                sideways = phone.evaluate(SIDEWAYS_JS)
                if sideways["scrollX"] or sideways["outside"]:
                    problems.append(f"{name}: wider than a {PHONE['width']} px phone: {sideways}")
        finally:
            browser.close()
    assert not remote, "requests that left the machine:\n" + "\n".join(sorted(set(remote)))
    assert not problems, "\n".join(problems)


def test_the_search_page_finds_a_word(site: tuple[Path, object]) -> None:
    from playwright.sync_api import sync_playwright

    out, _ = site
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto((out / "search.html").as_uri() + "?q=shard", wait_until="load")
            page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
            found = page.eval_on_selector_all(
                "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))"
            )
        finally:
            browser.close()
    assert "notebooks/08_shards_and_byte_ranges.html" in found, found


def test_answers_stay_folded_until_opened(site: tuple[Path, object]) -> None:
    from playwright.sync_api import sync_playwright

    out, _ = site
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto((out / "course" / "assessment.html").as_uri(), wait_until="load")
            answer = page.locator("#speedup-solution section")
            assert not answer.is_visible()
            page.locator("#speedup-solution .toggle-button").click()
            answer.wait_for(state="visible", timeout=5_000)
            page.goto((out / "notebooks" / "01_one_chunk_one_url.html").as_uri(), wait_until="load")
            fold = page.locator("div.tag_solution details").first
            output = fold.locator(".cell_output")
            assert not output.is_visible()
            fold.locator("summary").click()
            output.wait_for(state="visible", timeout=5_000)
        finally:
            browser.close()


def test_widgets_become_what_they_showed() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n...").decode()
    state = {
        "acc": {"model_name": "AccordionModel", "state": {"children": ["IPY_MODEL_out"]}},
        "out": {
            "model_name": "OutputModel",
            "state": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}]},
        },
        "view": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_img", "IPY_MODEL_ui"]},
        },
        "img": {
            "model_name": "ImageModel",
            "state": {"format": "png"},
            "buffers": [{"data": png, "encoding": "base64", "path": ["value"]}],
        },
        "ui": {
            "model_name": "VBoxModel",
            "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_s"]},
        },
        "label": {"model_name": "HTMLModel", "state": {"value": "<b>Level 2</b>"}},
        "s": {"model_name": "IntSliderModel", "state": {"value": 2}},
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_t", "IPY_MODEL_p"]}},
        "t": {
            "model_name": "HTMLModel",
            "state": {"value": "loop:\u2007100%\u200764/64 [00:06&lt;00:00]"},
        },
        "p": {"model_name": "FloatProgressModel", "state": {"value": 64.0, "max": 64.0}},
    }
    assert [o.text for o in widget_outputs("acc", state)] == ["42\n"]
    picture, readout = widget_outputs("view", state)
    assert picture.data == {"image/png": png} and readout.data == {"text/html": "<b>Level 2</b>"}
    assert [o.data for o in widget_outputs("bar", state)] == [
        {"text/plain": "loop: 100% 64/64 [00:06<00:00]"}
    ]
    assert widget_outputs("s", state) == [] and widget_outputs("gone", state) == []


def test_bad_configuration_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\ntitle = "t"\nrepository = "o/r"\npages = ["course/nope.md"]\n')
    with pytest.raises(ValueError, match="pages not found in the repository: course/nope.md"):
        read_config(bad)
    bad.write_text('[site]\ntitle = "t"\nrepository = "not a repo"\npages = []\n')
    with pytest.raises(ValueError, match="repository must be GitHub's 'owner/name'"):
        read_config(bad)
    bad.write_text('[site]\ntitle = "t"\npages = ["README.md"]\n')
    assert read_config(bad).binder_url("notebooks/00_welcome.ipynb") is None


def test_a_notebook_without_an_executed_copy_is_executed_once(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.kernelspec = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# N"),
        nbformat.v4.new_code_cell("print(6 * 7)"),
    ]
    nbformat.write(notebook, tmp_path / "n.ipynb")
    config = SiteConfig("t", ("n.ipynb",), root=tmp_path)
    executed = tmp_path / "executed"
    build = build_site(tmp_path / "out", executed, execute=True, config=config)
    assert build.executed == ("n.ipynb",) and (executed / "n.ipynb").is_file()
    assert "42" in (tmp_path / "out" / "n.html").read_text()
    again = build_site(tmp_path / "out", executed, execute=True, config=config)
    assert again.executed == ()  # the copy is reused


def test_a_link_to_a_missing_file_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# A page\n\n[gone](nowhere.md)\n")
    config = SiteConfig("t", ("page.md",), root=tmp_path)
    with pytest.raises(ValueError, match=r"page.md: link to a missing file: nowhere.md"):
        build_site(tmp_path / "out", config=config)


def test_a_missing_mermaid_cli_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.md").write_text("# A\n\n```mermaid\ngraph LR\n  A -->|to| B\n```\n")
    monkeypatch.setattr(mermaid, "mmdc_path", lambda: None)
    config = SiteConfig("t", ("a.md",), root=tmp_path)
    err = io.StringIO()
    assert run_cli(lambda argv: build_site(tmp_path / "out", config=config), [], stderr=err) == 2
    assert err.getvalue().startswith("error: mermaid-cli (mmdc) is not installed: run `make ")
    assert err.getvalue().count("\n") == 1


def test_a_missing_anchor_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n[to b](b.md#nowhere)\n")
    (tmp_path / "b.md").write_text("# B\n")
    config = SiteConfig("t", ("a.md", "b.md"), root=tmp_path)
    with pytest.raises(ValueError, match=r"the site build warned:\n.*a.md.*nowhere"):
        build_site(tmp_path / "out", config=config)


def test_the_link_check_finds_a_broken_anchor_and_a_missing_image(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n[to b](b.md) [to b](b.md#b)\n")
    (tmp_path / "b.md").write_text("# B\n")
    out = tmp_path / "out"
    build_site(out, config=SiteConfig("t", ("a.md", "b.md"), root=tmp_path))
    assert broken_links(out) == []
    page = out / "a.html"
    page.write_text(page.read_text().replace("b.html#b", "b.html#gone") + '<img src="x.png">')
    assert broken_links(out) == [
        "a.html: b.html#gone (no such anchor)",
        "a.html: x.png (no such file)",
    ]
