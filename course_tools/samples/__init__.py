"""Synthetic sample OME-Zarr datasets for the course, built locally and deterministically.

The course teaches remote access to big microscopy images stored as OME-Zarr on S3. The real
public datasets live on the IDR's S3 endpoint; to work offline (and in CI) the course serves
look-alike copies from a local cloud. This package generates those copies:

``v0.4/idr0062A/6001240.zarr`` (key ``"nuclei"``)
    Mirrors the layout of the IDR teaching image idr0062A/6001240.zarr: OME-NGFF 0.4 on Zarr v2,
    axes c/z/y/x, 2 channels (LaminB1, DAPI), 3 levels downsampled in y/x only, one chunk per
    plane, plus a ground-truth ``labels/0`` image with one label value per nucleus.
``v0.5/idr0062A/6001240_labels.zarr`` (key ``"nuclei_v05"``)
    The same pixels and labels written as OME-NGFF 0.5 on Zarr v3 with 256 x 256 chunks.
``synthetic/tissue.zarr`` (key ``"tissue"``)
    A large 2D pyramid in the spirit of idr0073A/9798462.zarr: 3 channels, 8192 x 8192 uint8 at
    level 0, 6 levels, 512 x 512 chunks, with tissue-like texture at every zoom level.
``v0.5/idr0066/ExpA_VIP_ASLM_on.zarr`` (key ``"lightsheet"``)
    A sharded OME-NGFF 0.5 light-sheet volume like idr0066's ExpA_VIP_ASLM_on.zarr: axes z/y/x
    (2 um planes, 0.4 um pixels), 20 x 2048 x 2048 uint16, 3 levels halved in y/x, every level in
    shards of 10 whole planes holding 1 x 256 x 256 chunks: sparse neurons on a dark background.
``synthetic/lightsheet_unsharded.zarr`` (key ``"lightsheet_unsharded"``)
    The same pixels and metadata unsharded: one object per 256 x 256 chunk (168 x more objects).

The pixels are synthetic (random ellipsoidal nuclei, smooth random fields, sprite-rendered
cells, splatted neurites) but shaped so the course exercises behave like on the real data: an
Otsu threshold segments the DAPI channel well, and coarse pyramid levels really need fewer chunks.
Every root group carries a ``"course"`` attribute marking the data as synthetic.

Everything is seeded, so two builds give byte-identical files. :func:`build_samples` writes a
stamp (``.build-stamp.json``) with a hash of the generator's source and the library versions,
and skips the build when nothing changed. Build from the command line with::

    python -m course_tools samples build [--out DIR] [--force]
    python -m course_tools samples info [--out DIR]

The modules, one idea each:

- :mod:`~course_tools.samples.pyramid` -- halving an image level after level (pure NumPy)
- :mod:`~course_tools.samples.noise` -- the smooth random fields the images are made of
- :mod:`~course_tools.samples.nuclei` -- the nuclei volume, its labels and its 0.4 and 0.5 stores
- :mod:`~course_tools.samples.tissue` -- the tissue pyramid and its store
- :mod:`~course_tools.samples.lightsheet` -- the light-sheet volume and its sharded and unsharded stores
- :mod:`~course_tools.samples.writing` -- compressors, chunk keys and level writing shared by the stores
- :mod:`~course_tools.samples.build` -- the list of stores, the build stamp and :func:`build_samples`
- :mod:`~course_tools.samples.cli` -- the command line

Examples
--------
>>> from course_tools.samples import DATASETS, build_samples
>>> sorted(DATASETS)
['lightsheet', 'lightsheet_unsharded', 'nuclei', 'nuclei_v05', 'tissue']
>>> build_samples()  # doctest: +SKIP
sample data up to date in .../data/samples
"""

from __future__ import annotations

from course_tools.samples.build import (
    DATASETS,
    STAMP_NAME,
    SampleDataset,
    StoreStats,
    build_samples,
    course_attrs,
    dataset_path,
    expected_stamp,
    is_up_to_date,
    print_info,
    store_stats,
)
from course_tools.samples.cli import main
from course_tools.samples.lightsheet import lightsheet_volume, write_lightsheet
from course_tools.samples.nuclei import nuclei_volume, write_nuclei
from course_tools.samples.pyramid import downsample_mean, downsample_nearest, pyramid
from course_tools.samples.tissue import tissue_channels, write_tissue

__all__ = [
    "DATASETS",
    "STAMP_NAME",
    "SampleDataset",
    "StoreStats",
    "build_samples",
    "course_attrs",
    "dataset_path",
    "downsample_mean",
    "downsample_nearest",
    "expected_stamp",
    "is_up_to_date",
    "lightsheet_volume",
    "main",
    "nuclei_volume",
    "print_info",
    "pyramid",
    "store_stats",
    "tissue_channels",
    "write_lightsheet",
    "write_nuclei",
    "write_tissue",
]
