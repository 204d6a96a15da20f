"""Render the course as a static HTML site, offline, from the notebooks' executed copies.

The pages and their order come from ``course/site.toml``. Markdown pages are rendered with
markdown-it-py, notebooks cell by cell (code highlighted by Pygments, outputs as the test run saved them,
solutions folded in ``<details>``). Nothing is fetched: no theme, no template, no script from the internet.
Links to other pages become links to their HTML; links to other files of the repository point to GitHub;
images are copied next to the page. Every page carries a Binder launch link.

Run ``python -m course_tools site build OUT [--executed DIR] [--execute]``.
"""

from __future__ import annotations

import argparse
import base64
import html
import logging
import re
import shutil
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from course_tools import REPO_ROOT

__all__ = ["SiteBuild", "SiteConfig", "build_site", "heading_id", "read_config"]

log = logging.getLogger(__name__)

CONFIG_PATH = REPO_ROOT / "course" / "site.toml"
_LINK = re.compile(r'(href|src)="([^"]*)"')
_IMAGES = {".png", ".svg", ".jpg", ".jpeg", ".gif"}
_HEADING = re.compile(r"<h([1-6])>(.*?)</h\1>", re.S)
_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;line-height:1.5}
nav{font-size:.9rem;border-bottom:1px solid #ccc;margin-bottom:1rem}nav a{margin-right:.6rem}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}.output pre{background:#fff;border-left:3px solid #ddd}
.error pre{background:#fee}img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}
.binder{float:right;font-weight:bold}details{border:1px dashed #999;padding:.3rem;margin:.5rem 0}"""


@dataclass(frozen=True)
class SiteConfig:
    """The site's title, its pages (repository paths, in order) and the GitHub repository."""

    title: str
    pages: tuple[str, ...]
    github_repo: str
    branch: str = "HEAD"
    root: Path = REPO_ROOT

    def binder_url(self, page: str) -> str:
        """The mybinder.org link that opens ``page`` in JupyterLab.

        Examples
        --------
        >>> SiteConfig("t", (), "org/repo").binder_url("notebooks/00_welcome.ipynb")
        'https://mybinder.org/v2/gh/org/repo/HEAD?labpath=notebooks/00_welcome.ipynb'
        """
        return f"https://mybinder.org/v2/gh/{self.github_repo}/{self.branch}?labpath={page}"


@dataclass(frozen=True)
class SiteBuild:
    """What :func:`build_site` wrote: the pages (relative to ``out``), the notebooks it executed."""

    out: Path
    pages: tuple[str, ...]
    executed: tuple[str, ...]
    seconds: float


def read_config(path: Path = CONFIG_PATH, root: Path = REPO_ROOT) -> SiteConfig:
    """The site configuration in ``path`` (``course/site.toml``), checked; pages are paths under ``root``.

    Examples
    --------
    >>> read_config().pages[0]
    'course/module.md'
    """
    site = tomllib.loads(path.read_text())["site"]
    pages = tuple(site["pages"])
    missing = [p for p in pages if not (root / p).is_file()]
    if missing:
        raise ValueError(f"{path.name}: pages not found in the repository: {', '.join(missing)}")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", site["github_repo"]):
        raise ValueError(
            f"{path.name}: github_repo must be 'owner/name', got {site['github_repo']!r}"
        )
    return SiteConfig(site["title"], pages, site["github_repo"], site.get("branch", "HEAD"), root)


def heading_id(text: str) -> str:
    """The anchor of a heading: lower case, punctuation dropped, spaces as dashes (GitHub's style).

    Examples
    --------
    >>> heading_id("206 Partial Content")
    '206-partial-content'
    >>> heading_id("<code>Zarr</code> v2 / v3")
    'zarr-v2--v3'
    """
    plain = html.unescape(re.sub(r"<[^>]+>", "", text)).strip().lower()
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


def _markdown(text: str) -> str:
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return _HEADING.sub(lambda m: f'<h{m[1]} id="{heading_id(m[2])}">{m[2]}</h{m[1]}>', body)


def _front_matter(text: str) -> tuple[dict, str]:
    if text.startswith("---\n"):
        head, _, body = text[4:].partition("\n---\n")
        return yaml.safe_load(head) or {}, body
    return {}, text


def _output(output: nbformat.NotebookNode) -> str:
    kind = output.output_type
    if kind == "stream":
        return f"<pre>{html.escape(output.text)}</pre>"
    if kind == "error":
        text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.traceback))
        return f'<div class="error"><pre>{html.escape(text)}</pre></div>'
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            raw = data[mime].replace("\n", "")
            base64.b64decode(raw, validate=True)
            return f'<img alt="output" src="data:{mime};base64,{raw}">'
    if "image/svg+xml" in data:
        return data["image/svg+xml"]
    if "text/html" in data:
        return data["text/html"]
    if "text/markdown" in data:
        return _markdown(data["text/markdown"])
    return f"<pre>{html.escape(data.get('text/plain', ''))}</pre>"


def _notebook(notebook: nbformat.NotebookNode) -> str:
    parts = []
    lexer, formatter = PythonLexer(), HtmlFormatter(nowrap=True)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(_markdown(cell.source))
        elif cell.cell_type == "code":
            code = f"<pre>{highlight(cell.source, lexer, formatter)}</pre>"
            outputs = "".join(_output(o) for o in cell.get("outputs", []))
            block = f'{code}<div class="output">{outputs}</div>'
            if "solution" in cell.metadata.get("tags", []):
                block = f"<details><summary>Solution (try first)</summary>{block}</details>"
            parts.append(block)
    return "\n".join(parts)


def _execute(path: Path, target: Path) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    log.info("executing %s (no executed copy found)", path.name)
    NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def _rewrite_links(body: str, page: str, config: SiteConfig, out: Path) -> str:
    here = Path(page).parent
    pages = set(config.pages)

    def fix(match: re.Match[str]) -> str:
        attr, url = match[1], match[2]
        if not url or re.match(r"[a-z][a-z0-9+.-]*:|#|/", url):
            return match[0]
        path, _, fragment = url.partition("#")
        root = config.root.resolve()
        target = (root / here / path).resolve()
        if not target.exists() or root not in target.parents:
            raise ValueError(f"{page}: link to a missing file: {url}")
        relative = target.relative_to(root).as_posix()
        if relative in pages:
            new = Path(relative).with_suffix(".html").as_posix()
            url = _relative(new, here) + (f"#{fragment}" if fragment else "")
        elif attr == "src" or target.suffix.lower() in _IMAGES:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, out / relative)
            url = _relative(relative, here)
        else:
            url = f"https://github.com/{config.github_repo}/blob/{config.branch}/{relative}"
        return f'{attr}="{url}"'

    return _LINK.sub(fix, body)


def _relative(target: str, here: Path) -> str:
    depth = len(here.parts)
    return "/".join([".."] * depth + [target]) if depth else target


def _label(page: str) -> str:
    path = Path(page)
    return path.parent.name if path.stem.lower() in ("readme", "index") else path.stem


def _page(config: SiteConfig, page: str, title: str, body: str) -> str:
    here = Path(page).parent
    links = " ".join(
        f'<a href="{_relative(Path(p).with_suffix(".html").as_posix(), here)}">{html.escape(_label(p))}</a>'
        for p in config.pages
    )
    binder = f'<a class="binder" href="{html.escape(config.binder_url(page))}">Launch in Binder</a>'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} '
        f"- {html.escape(config.title)}</title><style>{_CSS}</style></head>\n<body>"
        f"<nav>{binder}{links}</nav>\n<main>{body}</main></body></html>\n"
    )


def build_site(
    out: Path,
    executed_dir: Path | None = None,
    execute: bool = False,
    config: SiteConfig | None = None,
) -> SiteBuild:
    """Write the course site into ``out``: one HTML page per configured page, plus ``index.html``.

    A notebook is shown with the outputs of its copy in ``executed_dir`` when there is one; otherwise it
    is executed there first if ``execute`` (against the local cloud), else shown without outputs.

    Examples
    --------
    >>> build = build_site(Path("build/site"))  # doctest: +SKIP
    >>> len(build.pages), build.executed  # doctest: +SKIP
    (16, ())
    """
    config = config or read_config()
    start = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    written, executed = [], []
    for page in config.pages:
        source = config.root / page
        if source.suffix == ".ipynb":
            copy = executed_dir / source.name if executed_dir else None
            if copy is not None and not copy.is_file() and execute:
                _execute(source, copy)
                executed.append(page)
            use = copy if copy is not None and copy.is_file() else source
            notebook = nbformat.read(use, as_version=4)
            title = next(
                (
                    line.lstrip("# ").strip()
                    for c in notebook.cells
                    if c.cell_type == "markdown"
                    for line in c.source.splitlines()
                    if line.startswith("# ")
                ),
                source.stem,
            )
            body = _notebook(notebook)
        elif source.suffix == ".md":
            meta, text = _front_matter(source.read_text())
            title = str(meta.get("title", source.stem))
            body = _markdown(text if text.lstrip().startswith("# ") else f"# {title}\n\n{text}")
        else:
            raise ValueError(f"{page}: only .md and .ipynb pages are supported")
        target = Path(page).with_suffix(".html").as_posix()
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        html_text = _page(config, page, title, _rewrite_links(body, page, config, out))
        (out / target).write_text(html_text)
        written.append(target)
    first = Path(config.pages[0]).with_suffix(".html").as_posix()
    (out / "index.html").write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(config.title)}'
        f'</title><meta http-equiv="refresh" content="0; url={first}"></head>'
        f'<body><a href="{first}">{html.escape(config.title)}</a></body></html>\n'
    )
    seconds = time.monotonic() - start
    log.info("site: %d pages in %s (%.1f s)", len(written) + 1, out, seconds)
    return SiteBuild(out, ("index.html", *written), tuple(executed), seconds)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m course_tools site build OUT [--executed DIR] [--execute]``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_tools site", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--executed", type=Path, default=REPO_ROOT / "test-artifacts" / "executed")
    parser.add_argument(
        "--execute", action="store_true", help="execute notebooks with no executed copy"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build = build_site(args.out, args.executed, args.execute)
    print(
        f"{len(build.pages)} pages in {build.out} ({build.seconds:.1f} s, executed: {len(build.executed)})"
    )
