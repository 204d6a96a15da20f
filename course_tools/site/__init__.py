"""The course as a static HTML site, built offline with Sphinx, myst-nb and sphinx-book-theme.

``python -m course_tools site build OUT [--executed DIR] [--execute]`` (``make book``: ``build/site/``).
The pages and their order come from ``course/site.toml``; notebooks show the outputs of the test
run's executed copies (``test-artifacts/executed/``), solutions folded; the concept map is drawn at
build time; nothing is fetched from the internet, neither by the build nor by a page.

- :mod:`course_tools.site.config` -- ``course/site.toml``: title, pages, repository
- :mod:`course_tools.site.stage` -- the Sphinx source folder, gathered from the repository
- :mod:`course_tools.site.notebooks` -- widgets made static, solutions folded, alt text
- :mod:`course_tools.site.mermaid` -- diagrams drawn by mermaid-cli, described in words
- :mod:`course_tools.site.conf` -- Sphinx's configuration
- :mod:`course_tools.site.build` -- the build and the command line
"""

from __future__ import annotations

from course_tools.site.build import EXECUTED, SiteBuild, build_site, main
from course_tools.site.config import SiteConfig, read_config

__all__ = ["EXECUTED", "SiteBuild", "SiteConfig", "build_site", "main", "read_config"]
