"""Sphinx's configuration of the course site (read by Sphinx; the build reads two of its values).

Jupyter Book 1's stack: myst-nb renders the Markdown pages and the notebooks (never executing them:
the build reuses the test run's outputs), sphinx-book-theme lays the pages out, sphinx-togglebutton
and sphinx-exercise fold the answers, sphinxcontrib-mermaid draws the concept map. What depends on
the build (the title, the repository for launch links, mermaid-cli's paths) is passed by
:func:`course_tools.site.build.build_site` as overrides; everything here holds for every build.

Nothing a page loads comes from the internet: the theme ships its fonts and icons, no extension is
asked for a CDN script (no MathJax: the course has no formulas; no ipywidgets manager: widgets are
made static, see :mod:`course_tools.site.notebooks`), and mermaid diagrams are drawn at build time.
"""

__all__: list[str] = []  # nothing to import: Sphinx reads the names below

project = "Course"
author = ""  # no "By ..." footer
root_doc = "index"  # the first page (build_site says which)
language = "en"
extensions = [
    "myst_nb",
    "sphinx_togglebutton",
    "sphinx_exercise",
    "sphinxcontrib.mermaid",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# MyST: GitHub-style anchors for links such as glossary.md#zarr-v2--v3.
myst_heading_anchors = 3

# myst-nb: reuse the saved outputs; no widget manager from a CDN.
nb_execution_mode = "off"
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_merge_streams = True
nb_output_stderr = "show"

html_theme = "sphinx_book_theme"
html_static_path = ["static"]
html_css_files = ["course.css"]
html_title = project
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
# No page summaries under search results: they are fetched, which a page opened from disk cannot do.
html_show_search_summary = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navbar_persistent": [],
}

# sphinx-exercise: solutions fold with sphinx-togglebutton (the `dropdown` class).
hide_solutions = False
togglebutton_hint = "Show the answer"
togglebutton_hint_hide = "Hide the answer"
