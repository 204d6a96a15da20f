"""The site's settings, from ``course/site.toml``: title, pages in course order, repository.

``repository`` is the one place that names the GitHub repository the Binder launch links open. While ``repository`` is empty (the course is not published yet) the site has no launch link and no
link to GitHub at all, rather than links that point at a placeholder and fail.

Examples
--------
>>> config = read_config()
>>> config.pages[0], config.pages[-1]
('course/module.md', 'course/glossary.md')
>>> SiteConfig("t", (), "org/repo").binder_url("notebooks/00_welcome.ipynb")
'https://mybinder.org/v2/gh/org/repo/HEAD?urlpath=lab/tree/notebooks/00_welcome.ipynb'
>>> SiteConfig("t", ()).binder_url("notebooks/00_welcome.ipynb") is None
True
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from course_tools import REPO_ROOT

__all__ = ["BINDERHUB", "CONFIG_PATH", "SiteConfig", "read_config"]

CONFIG_PATH = REPO_ROOT / "course" / "site.toml"
"""The site's settings file."""
BINDERHUB = "https://mybinder.org"
"""The BinderHub that the launch links open."""
_REPOSITORY = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class SiteConfig:
    """The site's title, its pages (repository paths, in order) and the GitHub repository.

    Attributes
    ----------
    title : str
        The site's title.
    pages : tuple of str
        The pages, as paths relative to ``root`` (``.md`` or ``.ipynb``), in course order.
    repository : str
        GitHub ``owner/name`` of the course's repository; empty: not published, no launch links.
    branch : str
        The branch or tag the launch links open.
    root : Path
        The folder the page paths are relative to (the repository).
    """

    title: str
    pages: tuple[str, ...]
    repository: str = ""
    branch: str = "HEAD"
    root: Path = REPO_ROOT

    @property
    def repository_url(self) -> str | None:
        """The repository's GitHub URL, or ``None`` while ``repository`` is unset."""
        return f"https://github.com/{self.repository}" if self.repository else None

    def binder_url(self, page: str) -> str | None:
        """The mybinder.org link that opens the notebook ``page`` in JupyterLab (``None``: unset)."""
        if not self.repository:
            return None
        return f"{BINDERHUB}/v2/gh/{self.repository}/{self.branch}?urlpath=lab/tree/{page}"


def read_config(path: Path = CONFIG_PATH, root: Path = REPO_ROOT) -> SiteConfig:
    """The site configuration in ``path`` (``course/site.toml``), checked; pages are paths under ``root``.

    Raises
    ------
    ValueError
        A page that is not in the repository, a page that is neither Markdown nor a notebook, or a
        ``repository`` that is not ``owner/name``.
    """
    site = tomllib.loads(path.read_text())["site"]
    pages = tuple(site["pages"])
    missing = [p for p in pages if not (root / p).is_file()]
    if missing:
        raise ValueError(f"{path.name}: pages not found in the repository: {', '.join(missing)}")
    other = [p for p in pages if Path(p).suffix not in (".md", ".ipynb")]
    if other:
        raise ValueError(
            f"{path.name}: only .md and .ipynb pages are supported: {', '.join(other)}"
        )
    repository = str(site.get("repository", "")).strip()
    if repository and not _REPOSITORY.fullmatch(repository):
        raise ValueError(
            f"{path.name}: repository must be GitHub's 'owner/name' (or empty), got {repository!r}"
        )
    return SiteConfig(site["title"], pages, repository, site.get("branch", "HEAD"), root)
