"""The Sphinx source folder: the configured pages at their repository paths, and what they link to.

The pages live all over the repository (``course/``, ``notebooks/``, ``activities/``), beside files
that are not pages, so the build gathers them into one folder first:

- each Markdown page, its mermaid fences made directives with alt text (:mod:`.mermaid`);
- each notebook from its executed copy (the test run's), made ready by :mod:`.notebooks`; a
  notebook with no copy is executed once first (``execute``), else shown without outputs;
- every other file a page links to (a figure, a script, the README), so the link resolves and the
  file is offered as a download;
- the table of contents, in course order, at the end of the first page (the site's root).

A relative link to a file that does not exist is an error, raised before Sphinx starts.

Examples
--------
>>> local_links("[a](b.md#x) ![c](figures/d.svg) [e](https://x.org) [f](#here)")
['b.md', 'figures/d.svg']
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from markdown_it import MarkdownIt

from course_tools.site.config import SiteConfig
from course_tools.site.mermaid import FENCE, to_directive
from course_tools.site.notebooks import prepare_notebook

__all__ = ["Staged", "execute_notebook", "local_links", "stage"]

log = logging.getLogger(__name__)

_MARKDOWN = MarkdownIt("commonmark")


@dataclass
class Staged:
    """What :func:`stage` gathered: the pages' document names, the extra files, the notebooks run.

    Attributes
    ----------
    docnames : list of str
        The pages as Sphinx documents (repository paths without suffix), in course order.
    extras : list of str
        Files that pages link to, copied as they are (not pages).
    executed : list of str
        Notebooks executed for this build (no executed copy was found).
    mermaid : bool
        Whether a page has a mermaid diagram.
    """

    docnames: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    mermaid: bool = False


def local_links(markdown: str) -> list[str]:
    """The relative paths that ``markdown`` links to or shows (no URLs, no anchors in the page)."""
    found = []
    for token in _MARKDOWN.parse(markdown):
        for child in token.children or []:
            url = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
            if child.type in ("link_open", "image") and isinstance(url, str):
                path = url.partition("#")[0]
                if path and not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|/", path):
                    found.append(path)
    return found


def execute_notebook(path: Path, target: Path) -> None:
    """Run the notebook ``path`` (in its folder, against the local cloud) and save it as ``target``."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    log.info("executing %s (no executed copy found)", path.name)
    NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def _copy_linked(
    page: str, markdown: str, config: SiteConfig, src: Path, staged: Staged
) -> set[str]:
    """Copy what ``markdown`` links to (not pages) into ``src``; the links to Markdown files."""
    root = config.root.resolve()
    documents = set()
    for url in local_links(markdown):
        target = (root / Path(page).parent / url).resolve()
        if not target.is_file() or root not in target.parents:
            raise ValueError(f"{page}: link to a missing file: {url}")
        relative = target.relative_to(root).as_posix()
        if relative in config.pages:
            continue
        if target.suffix in (".md", ".ipynb"):
            documents.add(url)
        if relative not in staged.extras:
            (src / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, src / relative)
            staged.extras.append(relative)
    return documents


def _as_downloads(markdown: str, urls: set[str]) -> str:
    """``markdown`` with links to Markdown files that are not pages made downloads (MyST's path:)."""
    for url in urls:
        markdown = markdown.replace(f"]({url})", f"](path:{url})")
    return markdown


def _add_toctree(first: Path, docnames: list[str]) -> None:
    """Make the first page the root of the site: a hidden table of contents, in course order."""
    entries = "\n".join(f"/{name}" for name in docnames)  # "/": from the source folder
    toctree = f"```{{toctree}}\n:hidden:\n\n{entries}\n```\n"
    if first.suffix == ".ipynb":
        notebook = nbformat.read(first, as_version=4)
        notebook.cells.append(nbformat.v4.new_markdown_cell(toctree))
        nbformat.write(notebook, first)
    else:
        first.write_text(first.read_text().rstrip("\n") + "\n\n" + toctree)


def stage(
    config: SiteConfig, src: Path, executed_dir: Path | None = None, execute: bool = False
) -> Staged:
    """Gather the site's sources into the empty folder ``src`` (see the module docstring).

    Raises
    ------
    ValueError
        A page links to a file that does not exist, or shows an image with no alt text.
    """
    staged = Staged()
    for page in config.pages:
        source = config.root / page
        (src / page).parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".ipynb":
            copy = executed_dir / source.name if executed_dir else None
            if copy is not None and not copy.is_file() and execute:
                execute_notebook(source, copy)
                staged.executed.append(page)
            use = copy if copy is not None and copy.is_file() else source
            notebook = prepare_notebook(nbformat.read(use, as_version=4), page)
            for cell in notebook.cells:
                if cell.cell_type == "markdown":
                    documents = _copy_linked(page, cell.source, config, src, staged)
                    staged.mermaid |= bool(FENCE.search(cell.source))
                    cell.source = to_directive(_as_downloads(cell.source, documents))
            nbformat.write(notebook, src / page)
        else:
            markdown = source.read_text()
            documents = _copy_linked(page, markdown, config, src, staged)
            staged.mermaid |= bool(FENCE.search(markdown))
            (src / page).write_text(to_directive(_as_downloads(markdown, documents)))
        staged.docnames.append(Path(page).with_suffix("").as_posix())
    _add_toctree(src / config.pages[0], staged.docnames[1:])
    return staged
