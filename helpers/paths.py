"""Where the course keeps its files on disk.

Everything generated (sample data, the running local cloud's state file, benchmark output) lives under
one git-ignored folder, ``data/`` at the top of the repository, unless ``COURSE_DATA_DIR`` names
another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "data_dir", "samples_dir"]

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
"""The folder that holds ``helpers/`` and ``notebooks/``."""


def data_dir() -> Path:
    """The folder for generated files (``$COURSE_DATA_DIR`` or ``<repo>/data``)."""
    return Path(os.environ.get("COURSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def samples_dir() -> Path:
    """The folder holding the generated sample OME-Zarr stores (served by the local cloud)."""
    return data_dir() / "samples"
