"""Build the course site with Sphinx, offline, and the command ``python -m course_tools site``.

:func:`build_site` gathers the pages into a temporary source folder (:mod:`.stage`), then runs
Sphinx in this process with :mod:`.conf`. A warning fails the build (a broken link, a missing
anchor, an image Sphinx cannot find), so what the build writes has none of them.

Examples
--------
>>> build = build_site(Path("build/site"))  # doctest: +SKIP
>>> build.pages[:2], build.executed  # doctest: +SKIP
(('index.html', 'course/module.html'), ())
"""

from __future__ import annotations

import argparse
import html
import io
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from warnings import catch_warnings, simplefilter

from course_tools import REPO_ROOT
from course_tools.site.config import BINDERHUB, SiteConfig, read_config
from course_tools.site.mermaid import mermaid_settings
from course_tools.site.stage import stage

__all__ = ["EXECUTED", "SiteBuild", "build_site", "main", "overrides"]

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).parent
EXECUTED = REPO_ROOT / "test-artifacts" / "executed"
"""Where the test run saves the executed notebooks (and the build looks for them)."""


@dataclass(frozen=True)
class SiteBuild:
    """What :func:`build_site` wrote: the pages (relative to ``out``), the notebooks it executed.

    Attributes
    ----------
    out : Path
        The site's folder (open ``index.html``).
    pages : tuple of str
        ``index.html``, then one HTML page per configured page, in course order.
    executed : tuple of str
        The notebooks executed for this build (they had no executed copy).
    seconds : float
        How long the build took.
    """

    out: Path
    pages: tuple[str, ...]
    executed: tuple[str, ...]
    seconds: float


def overrides(config: SiteConfig) -> dict[str, Any]:
    """The Sphinx settings that depend on ``config``: title, and the launch links if published.

    Examples
    --------
    >>> overrides(SiteConfig("A course", ()))["html_theme_options"]["launch_buttons"]
    {}
    >>> options = overrides(SiteConfig("A course", (), "org/repo"))["html_theme_options"]
    >>> options["repository_url"], options["launch_buttons"]["binderhub_url"]
    ('https://github.com/org/repo', 'https://mybinder.org')
    """
    from course_tools.site import conf

    options = dict(conf.html_theme_options)
    options["launch_buttons"] = {}
    if config.repository_url:
        options |= {
            "repository_url": config.repository_url,
            "repository_branch": config.branch,
            "path_to_docs": "",
            "use_repository_button": True,
            "launch_buttons": {"binderhub_url": BINDERHUB, "notebook_interface": "jupyterlab"},
        }
    return {
        "project": config.title,
        "html_title": config.title,
        "html_theme_options": options,
        "root_doc": Path(config.pages[0]).with_suffix("").as_posix() if config.pages else "index",
    }


def _write_index(path: Path, title: str, first: str) -> None:
    """``index.html``: the way in, which sends the browser on to the first page (the root)."""
    name = html.escape(title)
    path.write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="0; url={first}"></head>\n'
        f'<body><main><h1>{name}</h1><p><a href="{first}">Open the course</a></p></main>'
        "</body></html>\n"
    )


def build_site(
    out: Path,
    executed_dir: Path | None = None,
    execute: bool = False,
    config: SiteConfig | None = None,
) -> SiteBuild:
    """Write the course site into ``out``: ``index.html`` and one HTML page per configured page.

    A notebook is shown with the outputs of its copy in ``executed_dir`` when there is one; otherwise it
    is executed there first if ``execute`` (against the local cloud), else shown without outputs.

    Raises
    ------
    ValueError
        A page links to a missing file, or Sphinx warned (the message quotes the warnings).
    FileNotFoundError
        A page has a mermaid diagram and mermaid-cli or Chromium is not installed.
    """
    from sphinx.application import Sphinx
    from sphinx.deprecation import RemovedInSphinx11Warning
    from sphinx.util.console import nocolor
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    from course_tools.site import conf

    config = config or read_config()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-site-") as work:
        src, doctrees = Path(work) / "src", Path(work) / "doctrees"
        src.mkdir()
        staged = stage(config, src, executed_dir, execute)
        settings = overrides(config)
        # Linked Markdown files that are not pages are downloads, not documents.
        sources = [e for e in staged.extras if Path(e).suffix in (".md", ".ipynb")]
        settings["exclude_patterns"] = [*conf.exclude_patterns, *sources]
        if staged.mermaid:
            settings |= mermaid_settings(Path(work))
        status, warnings = io.StringIO(), io.StringIO()
        nocolor()
        with patch_docutils(CONF_DIR), docutils_namespace(), catch_warnings():
            # The pinned extensions use Sphinx APIs that Sphinx 11 removes: their business, not ours.
            simplefilter("ignore", RemovedInSphinx11Warning)
            app = Sphinx(
                src, CONF_DIR, out, doctrees, "html", settings, status, warnings, freshenv=True
            )
            app.build()
        if warnings.getvalue().strip():
            text = warnings.getvalue().replace(str(src) + "/", "")
            raise ValueError(f"the site build warned:\n{text.strip()}")
    pages = tuple(f"{name}.html" for name in staged.docnames)
    _write_index(out / "index.html", config.title, pages[0])
    pages = ("index.html", *pages)
    seconds = time.monotonic() - start
    return SiteBuild(out, pages, tuple(staged.executed), seconds)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m course_tools site build OUT [--executed DIR] [--execute]``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_tools site",
        description="Build the course as a static HTML site (Sphinx, myst-nb, the book theme), "
        "offline, from the notebooks' executed copies.",
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--executed", type=Path, default=EXECUTED)
    parser.add_argument(
        "--execute", action="store_true", help="execute notebooks with no executed copy"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build = build_site(args.out, args.executed, args.execute)
    log.info(
        "%d pages in %s (%.1f s, executed: %d); open %s",
        len(build.pages),
        build.out,
        build.seconds,
        len(build.executed),
        build.out / "index.html",
    )
