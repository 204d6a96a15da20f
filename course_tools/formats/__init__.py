"""OME-Zarr, tiled TIFF and HDF5 side by side: the same image, read one tile at a time over the network.

The lesson "Why not just put my TIFF on S3?" (notebook 02) and ``python -m course_tools bench formats``
reproduce the OME-NGFF paper's latency benchmark (Moore et al. 2021) against the local cloud:

- :mod:`.spec` -- the benchmark image: size, tiles, pixels (pure);
- :mod:`.build` -- write it as OME-Zarr, tiled OME-TIFF and chunked HDF5, once, cached, each laid out
  as the paper's writers laid out theirs;
- :mod:`.bigtiff` -- a tiled BigTIFF with every IFD after the pixels (the paper's ``raw2ometiff``);
- :mod:`.imaris` -- an HDF5 file in the Imaris layout, in ImarisWriter's order (the paper's HDF5);
- :mod:`.remote` -- serve the files from a (private) local cloud, change its conditions for a while;
- :mod:`.readers` -- read one tile of each format the paper's way, from a URL or a local path;
- :mod:`.trace` -- the reads one tile costs in a local file, and the range requests they become;
- :mod:`.measure` -- time the reads and count the requests and bytes each costs at the cloud;
- :mod:`.paper` -- the paper's figures, to set ours beside;
- :mod:`.report` -- our table next to the paper's, ratios, the whole-file download, the figure.

Examples
--------
>>> from course_tools.formats import SMALL, Tile, build_formats, serve_formats, measure_formats
>>> files = build_formats(SMALL)  # doctest: +SKIP
>>> with serve_formats(files, latency_ms=10) as served:  # doctest: +SKIP
...     run = measure_formats(files, served, latencies=[10], rounds=5)
>>> print(format_figures(run))  # doctest: +SKIP
"""

from course_tools.formats.build import FormatFiles, build_formats, formats_dir
from course_tools.formats.measure import (
    DEFAULT_LATENCIES_MS,
    FormatsRun,
    LinkFigure,
    ReadFigure,
    check_latencies,
    measure_formats,
)
from course_tools.formats.paper import PAPER, PAPER_2D_MS, paper_column, paper_ratio
from course_tools.formats.readers import FORMATS, TileReader, check_formats, open_reader
from course_tools.formats.remote import (
    RemoteFormats,
    ServedFormats,
    cloud_conditions,
    serve_formats,
    upload_formats,
)
from course_tools.formats.report import (
    DownloadEstimate,
    download_estimates,
    format_downloads,
    format_figures,
    format_ratios,
    plot_read_times,
    ratios,
)
from course_tools.formats.spec import (
    FULL,
    SMALL,
    SPECS,
    FormatSpec,
    Tile,
    random_tiles,
    synthetic_image,
    tile_region,
)
from course_tools.formats.trace import Trace, traced_reads

__all__ = [
    "DEFAULT_LATENCIES_MS",
    "FORMATS",
    "FULL",
    "PAPER",
    "PAPER_2D_MS",
    "SMALL",
    "SPECS",
    "DownloadEstimate",
    "FormatFiles",
    "FormatSpec",
    "FormatsRun",
    "LinkFigure",
    "ReadFigure",
    "RemoteFormats",
    "ServedFormats",
    "Tile",
    "TileReader",
    "Trace",
    "build_formats",
    "check_formats",
    "check_latencies",
    "cloud_conditions",
    "download_estimates",
    "format_downloads",
    "format_figures",
    "format_ratios",
    "formats_dir",
    "measure_formats",
    "open_reader",
    "paper_column",
    "paper_ratio",
    "plot_read_times",
    "random_tiles",
    "ratios",
    "serve_formats",
    "synthetic_image",
    "tile_region",
    "traced_reads",
    "upload_formats",
]
