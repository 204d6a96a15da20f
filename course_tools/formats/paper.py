"""The OME-NGFF paper's figures for reading one chunk, to set ours beside. Data only, no I/O.

Moore et al. 2021, "OME-NGFF: a next-generation file format for expanding bioimaging data-access
strategies", Nature Methods 18:1496 (benchmark code: the ``ome/ngff-latency-benchmark`` repository).
2D case: 65,536 x 65,536 pixels x 8 channels, uint16, uncompressed, 256 x 256 chunks/tiles; one random
chunk per timed call, 100 rounds, one after another; Zarr (array reopened per read), tiled OME-TIFF
(tifffile, parsed again per read), HDF5 (an Imaris ``.ims`` file, h5py over an fsspec file object),
and a one-byte object ("overhead"); from local disk, from an HTTP server on the same machine, and
from S3 in the same region (about 10 ms per request; no latency injected). Median ms per chunk.

Which of our runs compares with which of theirs: our local files with their *local*; our cloud at
0 ms injected latency (a server on the same machine) with their *http*; our cloud at 10 ms with
their *s3*. They had nothing like our 100 ms (a store on another continent).

Examples
--------
>>> PAPER_2D_MS[("zarr", "s3")]
128.7
>>> round(paper_ratio("tiff", "s3"), 1), round(paper_ratio("hdf5", "s3"), 1)
(2.7, 7.8)
>>> paper_column("cloud", 10.0)
's3'
"""

from __future__ import annotations

__all__ = [
    "PAPER",
    "PAPER_2D_MS",
    "PAPER_3D_S3_MS",
    "PAPER_SOURCES",
    "paper_column",
    "paper_ratio",
]

PAPER = (
    "Moore et al. 2021, OME-NGFF: a next-generation file format for expanding bioimaging "
    "data-access strategies, Nature Methods 18:1496"
)
"""The paper the figures come from."""
PAPER_SOURCES = ("local", "http", "s3")
"""The paper's three sources, in its order."""
PAPER_2D_MS: dict[tuple[str, str], float] = {
    ("overhead", "local"): 0.01,
    ("overhead", "http"): 1.09,
    ("overhead", "s3"): 10.7,
    ("zarr", "local"): 6.2,
    ("zarr", "http"): 6.1,
    ("zarr", "s3"): 128.7,
    ("tiff", "local"): 72.5,
    ("tiff", "http"): 138.5,
    ("tiff", "s3"): 351.2,
    ("hdf5", "local"): 0.9,
    ("hdf5", "http"): 204.6,
    ("hdf5", "s3"): 999.9,
}
"""Median ms to read one chunk, 2D case, by (format, source)."""
PAPER_3D_S3_MS = {"overhead": 11.3, "zarr": 96.0, "hdf5": 978.1}
"""Median ms per chunk in the paper's 3D case, from S3 (no TIFF in that case)."""
_COLUMNS = {0.0: "http", 10.0: "s3"}


def paper_column(source: str, latency_ms: float | None) -> str | None:
    """The paper's source that compares with our ``source`` at ``latency_ms`` (``None``: none).

    Examples
    --------
    >>> paper_column("local", None), paper_column("cloud", 0), paper_column("cloud", 100)
    ('local', 'http', None)
    """
    if source == "local":
        return "local"
    return _COLUMNS.get(float(latency_ms)) if latency_ms is not None else None


def paper_ratio(fmt: str, column: str) -> float:
    """The paper's median for ``fmt`` divided by its Zarr median, from source ``column``.

    Raises
    ------
    KeyError
        No such figure in the paper.
    """
    return PAPER_2D_MS[(fmt, column)] / PAPER_2D_MS[("zarr", column)]
