r"""Mermaid diagrams drawn when the site is built, so that a page needs no script to show them.

sphinxcontrib-mermaid either loads mermaid.js from a CDN when a page is viewed (not offline) or runs
mermaid-cli (``mmdc``) at build time. We take the second: mermaid-cli (pinned in
``requirements/npm/``, installed into ``.venv/node`` by ``make``) draws each diagram as a PNG with
Debian's Chromium, and the page shows it as an ``<img>`` with alt text. The alt text says what the
diagram says: :func:`describe` reads a flowchart's nodes and labelled edges into sentences (a small
hand-written reader: mermaid itself has no way to export a text description).

Examples
--------
>>> describe('graph TD\n  A["URL"] -->|"spoken in"| B["HTTP"]\n  B -->|"answered by"| C["Object store"]')
'Diagram, from top to bottom: URL, spoken in HTTP. HTTP, answered by Object store.'
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM_ARGS", "FENCE", "describe", "mermaid_settings", "mmdc_path", "to_directive"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Chromium's flags for drawing offline (no background connections, no first-run pages)."""
FENCE = re.compile(r"^```mermaid\n(.*?)^```$", re.S | re.M)
"""A Markdown code fence holding a mermaid diagram (how GitHub shows one too)."""
_NODE = r"(\w+)(?:\[\"?([^\]\"]*)\"?\])?"
_EDGE = re.compile(rf"{_NODE}\s*-->\s*(?:\|\"?([^|\"]*)\"?\|)?\s*{_NODE}")
_DIRECTIONS = {"TD": "top to bottom", "TB": "top to bottom", "BT": "bottom to top"}
_DIRECTIONS |= {"LR": "left to right", "RL": "right to left"}


def describe(code: str) -> str:
    """A flowchart in words: each edge as ``"source, label target."``; other diagrams: the code.

    Parameters
    ----------
    code : str
        The diagram's mermaid source.
    """
    header = re.match(r"\s*(?:graph|flowchart)\s+(\w+)", code)
    edges = _EDGE.findall(code)
    if not header or not edges:
        return "Diagram: " + " ".join(code.split())
    names: dict[str, str] = {}
    for source, source_label, _, target, target_label in edges:
        names.setdefault(source, source_label or source)
        names.setdefault(target, target_label or target)
        names[source] = source_label or names[source]
        names[target] = target_label or names[target]
    sentences = [
        f"{names[source]}, {label + ' ' if label else ''}{names[target]}."
        for source, _, label, target, _ in edges
    ]
    direction = _DIRECTIONS.get(header.group(1).upper(), "")
    return f"Diagram{', from ' + direction if direction else ''}: " + " ".join(sentences)


def to_directive(markdown: str) -> str:
    r"""``markdown`` with each mermaid code fence made a ``{mermaid}`` directive with alt text.

    Examples
    --------
    >>> print(to_directive("```mermaid\ngraph LR\n  A -->|to| B\n```"))
    ```{mermaid}
    :alt: Diagram, from left to right: A, to B.
    <BLANKLINE>
    graph LR
      A -->|to| B
    ```
    """

    def directive(match: re.Match[str]) -> str:
        alt = " ".join(describe(match[1]).split())
        return f"```{{mermaid}}\n:alt: {alt}\n\n{match[1]}```"

    return FENCE.sub(directive, markdown)


def mmdc_path() -> Path | None:
    """mermaid-cli's ``mmdc``: ``$COURSE_MMDC``, else ``.venv/node`` (where make installs it)."""
    named = os.environ.get("COURSE_MMDC")
    candidates = [Path(named)] if named else []
    candidates.append(Path(sys.prefix) / "node" / "node_modules" / ".bin" / "mmdc")
    return next((path for path in candidates if path.is_file()), None)


def mermaid_settings(workdir: Path) -> dict[str, Any]:
    """The Sphinx settings that make sphinxcontrib-mermaid draw PNGs with mermaid-cli, offline.

    Writes mermaid-cli's browser settings (Debian's Chromium, offline flags) into ``workdir``.

    Raises
    ------
    FileNotFoundError
        mermaid-cli or Chromium is not installed (the message says how to install them).
    """
    mmdc = mmdc_path()
    if mmdc is None:
        raise FileNotFoundError(
            "mermaid-cli (mmdc) is not installed: run `make site-tools` (it needs node and npm), "
            "or set COURSE_MMDC to an mmdc executable"
        )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError(
            "chromium is not installed (mermaid-cli draws with it): run `make browser`"
        )
    browser = workdir / "puppeteer.json"
    browser.write_text(json.dumps({"executablePath": chromium, "args": CHROMIUM_ARGS}))
    return {
        "mermaid_output_format": "png",
        "mermaid_cmd": str(mmdc),
        "mermaid_params": ["--puppeteerConfigFile", str(browser), "--scale", "2", "-b", "white"],
    }
