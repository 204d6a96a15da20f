"""A notebook made ready for myst-nb: widgets as what they show, solutions folded, figures' alt text.

myst-nb renders a notebook's saved outputs, but an ipywidgets output only as a placeholder that
JavaScript from a CDN fills in from the saved widget state: offline, a reader would see nothing (or
the widget's repr, ``Accordion(children=...``). No library turns saved widget state into static
outputs, so this module does, for the widgets the course shows (hand-written, small, pure):

- an ``Output`` widget becomes the outputs it captured (a solution's ``hidden_answer`` accordion:
  its printed text and figures);
- an ``Image`` widget becomes the picture (lesson 04's viewers), ``HTML`` and ``Label`` widgets
  their content, a row of text and progress bars (tqdm) one line of text;
- boxes and accordions become their children's outputs; controls (sliders, buttons) nothing, as
  they do nothing without a kernel.

Solution cells (tag ``solution``) get myst-nb's ``hide-cell`` tag, so the page folds their code and
outputs; a discussion after a solution (a collapsed ``DISCUSSION`` heading and the cells under it, tagged
``discussion``) becomes one folded admonition; every image gets its caption as alt text: the text of
the ``*Figure:*`` cell after it (for a solution's figure, the first cell under the discussion
heading after it), or for a viewer, the readout it shows.

Examples
--------
>>> state = {"h": {"model_name": "HTMLModel", "state": {"value": "<b>Level 2</b>"}}}
>>> [o.data["text/html"] for o in widget_outputs("h", state)]
['<b>Level 2</b>']
>>> plain_text("*Figure:* a `zarr` chunk, [see](x.md)")
'Figure: a zarr chunk, see'
>>> plain_text("<b>Level 2</b> of 0&ndash;5: `<image URL>/0`")
'Level 2 of 0–5: <image URL>/0'
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import nbformat
from markdown_it import MarkdownIt
from nbformat import NotebookNode

__all__ = [
    "CAPTION",
    "DISCUSSION",
    "DISCUSSION_TAG",
    "HEADING_COLLAPSED",
    "SOLUTION_HIDE",
    "SOLUTION_SHOW",
    "WIDGET_STATE",
    "WIDGET_VIEW",
    "caption_alt",
    "fold_discussions",
    "plain_text",
    "prepare_notebook",
    "widget_outputs",
]

log = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
"""The MIME type of a widget's output in a notebook (a reference to its saved state)."""
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
"""The key of the saved widget state in a notebook's metadata."""
CAPTION = "*Figure:*"
"""How the Markdown cell after a figure starts; its text is the figure's alt text."""
DISCUSSION = "#### Discussion (open after trying the exercise)"
"""The heading after a solution that folds its discussion (the cells under it, up to the next
heading). JupyterLab unfolds a Markdown cell's hidden input when Run All renders it, but it keeps a
collapsed heading (metadata ``HEADING_COLLAPSED``) collapsed, so this fold stays closed."""
DISCUSSION_TAG = "discussion"
"""The tag of a discussion's heading and of the Markdown cells under it."""
HEADING_COLLAPSED = "jp-MarkdownHeadingCollapsed"
"""JupyterLab's cell metadata for a collapsed heading."""
SOLUTION_SHOW = "Show the solution (try the exercise first)"
"""The label of a folded solution."""
SOLUTION_HIDE = "Hide the solution"
"""The label of an unfolded solution."""
_TEXT_WIDGETS = {
    "HTMLModel",
    "HTMLMathModel",
    "LabelModel",
    "FloatProgressModel",
    "IntProgressModel",
}
_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
_MARKDOWN = MarkdownIt("commonmark")


def plain_text(markdown: str) -> str:
    """Markdown (or HTML) as one line of plain text: markup dropped, entities decoded."""
    rendered = _MARKDOWN.render(markdown)  # HTML passes through as it is
    text = html.unescape(re.sub(r"<[^>]+>", " ", rendered))
    text = " ".join(text.replace("\u2007", " ").split())
    return re.sub(r" ([,.;:)])", r"\1", text)


def _display(data: dict[str, Any]) -> NotebookNode:
    return nbformat.v4.new_output("display_data", data=data)


def _text(model: dict[str, Any]) -> str:
    state = model["state"]
    if model["model_name"] in ("FloatProgressModel", "IntProgressModel"):
        return ""  # the numbers are in the text beside the bar (tqdm: "64/64 [00:06<00:00]")
    return plain_text(str(state.get("value", "")))


def widget_outputs(model_id: str, state: dict[str, Any]) -> list[NotebookNode]:
    """The static outputs that show what the widget ``model_id`` showed (see the module docstring).

    Parameters
    ----------
    model_id : str
        The widget's model id (from its output's ``application/vnd.jupyter.widget-view+json``).
    state : dict
        The notebook's saved widget state: model id -> ``{"model_name", "state", "buffers"}``.

    Returns
    -------
    list of NotebookNode
        Notebook outputs (streams, display data); empty for a control or an unsaved widget.
    """
    model = state.get(model_id.removeprefix("IPY_MODEL_"))
    if model is None:
        return []
    name, values = model["model_name"], model["state"]
    if name == "OutputModel":
        return [nbformat.from_dict(output) for output in values.get("outputs", [])]
    if name == "ImageModel":
        buffers = {tuple(b["path"]): b["data"] for b in model.get("buffers", [])}
        data = buffers.get(("value",))
        kind = {"jpg": "jpeg", "svg": "svg+xml"}.get(values.get("format", "png"), "png")
        return [_display({f"image/{kind}": data})] if data else []
    if name in ("HTMLModel", "HTMLMathModel"):
        return [_display({"text/html": values.get("value", "")})]
    if name == "LabelModel":
        return [_display({"text/plain": values.get("value", "")})]
    children = [c.removeprefix("IPY_MODEL_") for c in values.get("children", [])]
    models = [state[c] for c in children if c in state]
    if models and all(m["model_name"] in _TEXT_WIDGETS for m in models):
        line = " ".join(t for t in map(_text, models) if t)  # a progress bar: one line of text
        return [_display({"text/plain": line})] if line else []
    return [output for child in children for output in widget_outputs(child, state)]


def _static_outputs(outputs: list[NotebookNode], state: dict[str, Any]) -> list[NotebookNode]:
    static = []
    for output in outputs:
        view = output.get("data", {}).get(WIDGET_VIEW)
        if view is None:
            static.append(output)
        else:
            static.extend(widget_outputs(view["model_id"], state))
    return static


def caption_alt(cell: NotebookNode | None) -> str | None:
    """The alt text that the Markdown ``cell`` (the one after a figure) gives, or ``None``.

    Examples
    --------
    >>> caption_alt(nbformat.v4.new_markdown_cell("*Figure:* two **bars**: 3 s and 1 s."))
    'two bars: 3 s and 1 s.'
    """
    if cell is None or cell.cell_type != "markdown" or not cell.source.startswith(CAPTION):
        return None
    return plain_text(cell.source).removeprefix("Figure:").strip()


def fold_discussions(cells: list[NotebookNode]) -> None:
    r"""Each discussion (heading and cells under it) as one folded admonition, in place.

    Examples
    --------
    >>> cells = [nbformat.v4.new_markdown_cell(s) for s in (DISCUSSION, "Level 2.", "## Summary")]
    >>> for cell in cells[:2]:
    ...     cell.metadata["tags"] = [DISCUSSION_TAG]
    >>> fold_discussions(cells)
    >>> print(cells[0].source)
    `````{admonition} Discussion (open after trying the exercise)
    :class: dropdown
    <BLANKLINE>
    Level 2.
    `````
    >>> [cell.source for cell in cells[1:]]
    ['', '## Summary']
    """
    heading = None
    body: list[str] = []
    for cell in [*cells, None]:
        is_discussion = cell is not None and DISCUSSION_TAG in cell.metadata.get("tags", [])
        if heading is not None and (not is_discussion or cell.source == DISCUSSION):
            title = DISCUSSION.lstrip("# ")
            text = "\n\n".join(body)
            heading.source = f"`````{{admonition}} {title}\n:class: dropdown\n\n{text}\n`````"
            heading, body = None, []
        if cell is None or not is_discussion:
            continue
        if cell.source == DISCUSSION:
            heading = cell
        else:
            body.append(cell.source.strip())
            cell.source = ""


def _has_image(outputs: list[NotebookNode]) -> bool:
    return any(mime in o.get("data", {}) for o in outputs for mime in _IMAGES)


def prepare_notebook(notebook: NotebookNode, name: str) -> NotebookNode:
    """``notebook`` ready for myst-nb (changed in place and returned); see the module docstring.

    Raises
    ------
    ValueError
        An image with no alt text: no ``*Figure:*`` cell after it, and not a viewer's picture.
    """
    metadata = notebook.metadata
    state = metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        widgets = [o for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
        cell.outputs = _static_outputs(cell.outputs, state)
        tags = cell.metadata.setdefault("tags", [])
        if "solution" in tags:
            tags.append("hide-cell")
            options = cell.metadata.setdefault("mystnb", {})
            options.update(code_prompt_show=SOLUTION_SHOW, code_prompt_hide=SOLUTION_HIDE)
        if not _has_image(cell.outputs):
            continue
        following = notebook.cells[index + 1] if index + 1 < len(notebook.cells) else None
        if following is not None and following.source == DISCUSSION:  # a solution's figure
            following = notebook.cells[index + 2] if index + 2 < len(notebook.cells) else None
        alt = caption_alt(following)
        if alt is None and widgets:  # a viewer: its readout says what the picture shows
            readout = [
                plain_text(o.data["text/html"])
                for o in cell.outputs
                if "text/html" in o.get("data", {})
            ]
            alt = "The viewer's picture. " + " ".join(readout) if readout else None
        if alt is None:
            raise ValueError(
                f"{name}: cell {index} shows an image but the cell after it does not start with "
                f"{CAPTION} (its alt text)"
            )
        cell.metadata.setdefault("mystnb", {})["image"] = {"alt": alt}
    fold_discussions(notebook.cells)  # after the alt texts: they read the discussions' captions
    metadata.pop("widgets", None)  # nothing left for a widget manager to load
    return notebook
