"""Browser viewers for the course's images: Neuroglancer, served from this machine, works offline.

- :mod:`course_tools.viewers.ngstate` -- what Neuroglancer shows for an image: data source, one layer
  per channel, the first view (pure, no I/O)
- :mod:`course_tools.viewers.ngviewer` -- :func:`open_in_neuroglancer`: serve Neuroglancer's web client
  locally and open an image of the local cloud (or a public one) in it
- ``python -m course_tools viewers neuroglancer DATASET`` -- the same from a shell: prints the URL and
  serves until Ctrl-C

The browser reads the chunks itself, from the image's http:// URL; the local cloud answers with CORS
headers (:mod:`course_tools.cloud.cors`), which a page on another origin needs to read them.

Examples
--------
>>> from course_tools.viewers import open_in_neuroglancer
>>> view = open_in_neuroglancer("nuclei")  # doctest: +SKIP
>>> view.url  # doctest: +SKIP
'http://127.0.0.1:41357/v/0f3c.../'
"""

from course_tools.viewers.ngstate import LayerPlan, ViewPlan, neuroglancer_source, view_plan
from course_tools.viewers.ngviewer import (
    LAYOUTS,
    NeuroglancerView,
    image_http_url,
    open_in_neuroglancer,
)

__all__ = [
    "LAYOUTS",
    "LayerPlan",
    "NeuroglancerView",
    "ViewPlan",
    "image_http_url",
    "neuroglancer_source",
    "open_in_neuroglancer",
    "view_plan",
]
