"""The rendered course site (``make book``): built offline from the test run's executed notebooks.

Waits for the notebooks' Binder-shaped session (``tests/binder_session.py``), which saves each executed
notebook into ``test-artifacts/executed/``; the build reuses those outputs and never starts a kernel. Every internal link,
anchor and image of the HTML must resolve, and the build must not touch the network.
"""

from __future__ import annotations

import html
import socket
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from course_tools import REPO_ROOT
from course_tools.site import SiteConfig, build_site, read_config

EXECUTED = REPO_ROOT / "test-artifacts" / "executed"


class Page(HTMLParser):
    """The ids, links and image sources of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("id", "name"):
            if found.get(key):
                self.ids.add(str(found[key]))
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in ("img", "script", "iframe", "source") and found.get("src"):
            self.sources.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.sources.append(str(found["href"]))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


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
    assert build.pages == (
        "index.html",
        *(Path(p).with_suffix(".html").as_posix() for p in config.pages),
    )
    assert config.pages[0] == "course/module.md"
    assert config.pages[-2:] == ("course/instructor_notes.md", "course/glossary.md")
    notebooks = [p for p in config.pages if p.endswith(".ipynb")]
    assert notebooks == sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    assert len(list(out.rglob("*.html"))) == len(build.pages) == len(config.pages) + 1
    assert build.executed == ()  # no notebook executed a second time


def broken_links(out: Path) -> list[str]:
    """Every relative link, anchor or image source in the HTML under ``out`` that does not resolve."""
    pages = {path.resolve(): parse(path) for path in sorted(out.rglob("*.html"))}
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
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{name}: {url} (no such anchor)")
    return broken


def test_every_internal_link_anchor_and_image_resolves(site: tuple[Path, object]) -> None:
    out, _ = site
    broken = broken_links(out)
    assert not broken, "\n".join(broken)


def test_no_page_loads_anything_from_the_internet(site: tuple[Path, object]) -> None:
    out, _ = site
    remote = [
        f"{path.relative_to(out)}: {src}"
        for path in out.rglob("*.html")
        for src in parse(path).sources
        if urlsplit(src).scheme in ("http", "https") or src.startswith("//")
    ]
    assert not remote, "\n".join(remote)


def test_every_page_has_a_binder_launch_link(site: tuple[Path, object]) -> None:
    out, _ = site
    config = read_config()
    for page in config.pages:
        links = parse(out / Path(page).with_suffix(".html")).links
        assert config.binder_url(page) in links, page


def test_solutions_are_folded_and_executed_outputs_are_shown(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        solutions = sum("solution" in c.metadata.get("tags", []) for c in notebook.cells)
        text = (out / "notebooks" / path.with_suffix(".html").name).read_text()
        assert text.count("<details>") == solutions, path.name
        executed = EXECUTED / path.name
        if executed.is_file():  # the test run's outputs are on the page
            outputs = nbformat.read(executed, as_version=4)
            streams = [
                o.text.strip()
                for c in outputs.cells
                for o in c.get("outputs", [])
                if o.output_type == "stream"
                and o.text.strip()
                and "<" not in o.text
                and "&" not in o.text
            ]
            if streams:
                assert html.escape(streams[0].splitlines()[0]) in text, path.name


def test_bad_configuration_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\ntitle = "t"\ngithub_repo = "o/r"\npages = ["course/nope.md"]\n')
    with pytest.raises(ValueError, match="pages not found in the repository: course/nope.md"):
        read_config(bad)
    bad.write_text('[site]\ntitle = "t"\ngithub_repo = "not a repo"\npages = []\n')
    with pytest.raises(ValueError, match="github_repo must be 'owner/name'"):
        read_config(bad)


def test_a_link_to_a_missing_file_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# A page\n\n[gone](nowhere.md)\n")
    config = SiteConfig("t", ("page.md",), "o/r", root=tmp_path)
    with pytest.raises(ValueError, match=r"page.md: link to a missing file: nowhere.md"):
        build_site(tmp_path / "out", config=config)


def test_the_link_check_finds_a_broken_anchor_and_a_missing_image(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n[to b](b.md) [to b](b.md#b)\n")
    (tmp_path / "b.md").write_text("# B\n")
    out = tmp_path / "out"
    build_site(out, config=SiteConfig("t", ("a.md", "b.md"), "o/r", root=tmp_path))
    assert broken_links(out) == []
    page = out / "a.html"
    page.write_text(page.read_text().replace("b.html#b", "b.html#gone") + '<img src="x.png">')
    assert broken_links(out) == [
        "a.html: b.html#gone (no such anchor)",
        "a.html: x.png (no such file)",
    ]
