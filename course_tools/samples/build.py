"""Building the sample stores: which stores exist, the build stamp, the build itself.

:func:`build_samples` writes every store of :data:`DATASETS` into a temporary sibling folder, moves
them into place and then writes a stamp (``.build-stamp.json``) recording what generated them: a
hash of the generator's source (this package and :mod:`course_tools.ngff`), the library versions and
the dataset layout. A build whose stamp still matches is skipped.

Examples
--------
>>> DATASETS["tissue"].path
'synthetic/tissue.zarr'
>>> build_samples()  # doctest: +SKIP
PosixPath('.../data/samples')
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numcodecs
import numpy as np
import scipy
import zarr
from tqdm.auto import tqdm

from course_tools import ngff
from course_tools.samples.lightsheet import lightsheet_volume, write_lightsheet
from course_tools.samples.nuclei import nuclei_volume, write_nuclei
from course_tools.samples.tissue import CHANNELS_TISSUE, write_tissue
from helpers.catalog import CATALOG, remote_url, samples_dir

__all__ = [
    "DATASETS",
    "STAMP_NAME",
    "SampleDataset",
    "StoreStats",
    "build_samples",
    "course_attrs",
    "dataset_path",
    "expected_stamp",
    "is_up_to_date",
    "print_info",
    "source_files",
    "store_stats",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleDataset:
    """One generated sample store.

    Attributes
    ----------
    path : str
        Store path relative to the samples folder (also the object-key prefix in the bucket).
    description : str
        One-line description.
    mirrors : str
        URL of the public dataset whose layout it imitates.
    """

    path: str
    description: str
    mirrors: str


def _sample(key: str, description: str, like: str | None = None) -> SampleDataset:
    """A sample store at ``key``'s local path, imitating the public dataset of ``like or key``."""
    local, remote = CATALOG[key].local_path, CATALOG[like or key].remote_path
    if local is None or remote is None:
        raise ValueError(f"catalog entry {key!r}: no local path or no public dataset to imitate")
    return SampleDataset(local, description, remote_url(remote))


DATASETS: dict[str, SampleDataset] = {
    "nuclei": _sample(
        "nuclei", "3D nuclei, 2 channels (LaminB1, DAPI) + labels; OME-NGFF 0.4 on Zarr v2"
    ),
    "nuclei_v05": _sample(
        "nuclei_v05", "The same nuclei and labels as OME-NGFF 0.5 on Zarr v3, 256 x 256 chunks"
    ),
    "tissue": _sample(
        "tissue",
        "2D tissue-like pyramid, 3 channels, 8192 x 8192 uint8, 6 levels; OME-NGFF 0.4 on Zarr v2",
    ),
    "lightsheet": _sample(
        "lightsheet",
        "3D light-sheet volume, 20 x 2048 x 2048 uint16, 3 levels; OME-NGFF 0.5, every level in"
        " shards of 10 planes holding 256 x 256 chunks",
    ),
    "lightsheet_unsharded": _sample(
        "lightsheet_unsharded",
        "The same light-sheet pixels unsharded: one object per 256 x 256 chunk",
        like="lightsheet",
    ),
}
"""The sample stores, by key. ``DATASETS[key].path`` is relative to the samples folder."""

STAMP_NAME = ".build-stamp.json"
"""File in the samples folder that records what generated its content."""

COURSE_GENERATOR = "course_tools.samples"
"""The ``"course"`` attribute's ``generator``: the command that builds the samples
(``python -m course_tools samples build``)."""


def dataset_path(key: str, out: Path | None = None) -> Path:
    """Local path of the sample store ``key`` inside ``out``.

    Parameters
    ----------
    key : str
        A key of :data:`DATASETS`.
    out : pathlib.Path, optional
        The samples folder; default :func:`helpers.catalog.samples_dir`.

    Returns
    -------
    pathlib.Path
        ``out / DATASETS[key].path``.

    Examples
    --------
    >>> dataset_path("tissue", Path("/x"))
    PosixPath('/x/synthetic/tissue.zarr')
    """
    return (samples_dir() if out is None else Path(out)) / DATASETS[key].path


def course_attrs(description: str, mirrors: str) -> dict[str, Any]:
    """The ``"course"`` attribute that marks a store as synthetic course data.

    Parameters
    ----------
    description : str
        One line saying what the store holds.
    mirrors : str
        URL of the public dataset it imitates.

    Returns
    -------
    dict
        ``{"synthetic": True, "generator": ..., "description": ..., "mirrors": ...}``.
    """
    return {
        "synthetic": True,
        "generator": COURSE_GENERATOR,
        "description": description,
        "mirrors": mirrors,
    }


class StoreStats(NamedTuple):
    """Size of a store on disk."""

    bytes: int
    """Total size of its files."""
    files: int
    """Number of files."""


def store_stats(path: Path) -> StoreStats:
    """Total bytes and number of files below ``path``.

    Parameters
    ----------
    path : pathlib.Path
        A store folder.

    Returns
    -------
    StoreStats
        ``(bytes, files)``; ``(0, 0)`` if ``path`` does not exist.
    """
    if not path.exists():
        return StoreStats(0, 0)
    sizes = [f.stat().st_size for f in path.rglob("*") if f.is_file()]
    return StoreStats(sum(sizes), len(sizes))


# --- the stamp ------------------------------------------------------------------------------------
def source_files() -> list[Path]:
    """The source files whose content decides the bytes of the samples.

    Returns
    -------
    list of pathlib.Path
        Every module of :mod:`course_tools.samples` but ``microscope.py`` (lesson 09's file, built on
        demand with a stamp of its own), then ``course_tools/ngff.py`` (the metadata builders).
    """
    modules = Path(__file__).resolve().parent.glob("*.py")
    return [*sorted(p for p in modules if p.name != "microscope.py"), Path(ngff.__file__).resolve()]


def _source_sha256() -> str:
    digest = hashlib.sha256()
    for path in source_files():
        content = path.read_bytes()
        digest.update(f"{path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def expected_stamp() -> dict[str, Any]:
    """What ``.build-stamp.json`` must contain for the samples to count as up to date.

    Returns
    -------
    dict
        A hash of :func:`source_files`, the zarr, numcodecs, numpy and scipy versions, and each
        store's path and mirrored URL.
    """
    return {
        "generator": "course_tools.samples",
        "source_sha256": _source_sha256(),
        "zarr": zarr.__version__,
        "numcodecs": numcodecs.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "datasets": {key: ds.path for key, ds in DATASETS.items()},
        "mirrors": {key: ds.mirrors for key, ds in DATASETS.items()},
    }


def _store_exists(store: Path) -> bool:
    return (store / ".zgroup").is_file() or (store / "zarr.json").is_file()


def is_up_to_date(out: Path | None = None) -> bool:
    """Whether ``out`` holds all sample stores and a stamp matching this generator.

    Parameters
    ----------
    out : pathlib.Path, optional
        The samples folder; default :func:`helpers.catalog.samples_dir`.

    Returns
    -------
    bool
        True if the stamp equals :func:`expected_stamp` and every store has its root group.
    """
    out = samples_dir() if out is None else Path(out)
    try:
        stamp = json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    return stamp == expected_stamp() and all(
        _store_exists(out / ds.path) for ds in DATASETS.values()
    )


# --- the build ------------------------------------------------------------------------------------
def _move_into_place(tmp: Path, out: Path) -> None:
    """Replace each store in ``out`` by the freshly built one from ``tmp`` (same filesystem)."""
    trash = tmp / ".replaced"
    for ds in DATASETS.values():
        src, dst = tmp / ds.path, out / ds.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            old = trash / ds.path
            old.parent.mkdir(parents=True, exist_ok=True)
            dst.rename(old)
        src.rename(dst)


def _course(key: str) -> dict[str, Any]:
    ds = DATASETS[key]
    return course_attrs(ds.description, ds.mirrors)


def _write_all(tmp: Path, progress: bool) -> None:
    """Generate and write every store of :data:`DATASETS` below ``tmp``."""
    with tqdm(total=9, unit="step", disable=not progress, desc="sample data") as bar:
        bar.set_postfix_str("rendering nuclei")
        image, labels = nuclei_volume()
        bar.update()
        for key, version in (("nuclei", "0.4"), ("nuclei_v05", "0.5")):
            bar.set_postfix_str("writing " + DATASETS[key].path)
            write_nuclei(tmp / DATASETS[key].path, image, labels, _course(key), version)
            bar.update()
        del image, labels
        bar.set_postfix_str("rendering tissue")

        def channel_written(channel: int) -> None:
            bar.set_postfix_str(f"tissue channel {channel + 1}/{len(CHANNELS_TISSUE)} written")
            bar.update()

        write_tissue(tmp / DATASETS["tissue"].path, _course("tissue"), channel_written)
        bar.set_postfix_str("rendering light-sheet volume")
        volume = lightsheet_volume()
        bar.update()
        for key, sharded in (("lightsheet", True), ("lightsheet_unsharded", False)):
            bar.set_postfix_str("writing " + DATASETS[key].path)
            write_lightsheet(tmp / DATASETS[key].path, volume, _course(key), sharded=sharded)
            bar.update()


def _report(message: str, progress: bool) -> None:
    """Print ``message`` when ``progress`` (the command line's summary line), else log it."""
    if progress:
        print(message)
    else:
        logger.info(message)


def build_samples(out: Path | None = None, force: bool = False, progress: bool = True) -> Path:
    """Build all sample stores into ``out`` unless they are up to date.

    Does nothing if ``out`` already holds every store and its ``.build-stamp.json`` matches
    :func:`expected_stamp`, unless ``force``. Otherwise all stores are written into a temporary
    sibling folder and then renamed into place; the stamp is removed before and written after, so
    an interrupted build is never mistaken for a complete one. Files in ``out`` that are not
    sample stores are left alone.

    Parameters
    ----------
    out : pathlib.Path, optional
        The samples folder; default :func:`helpers.catalog.samples_dir`.
    force : bool
        Rebuild even if the stamp matches.
    progress : bool
        Show a progress bar and print one summary line.

    Returns
    -------
    pathlib.Path
        ``out``, resolved.

    Examples
    --------
    >>> build_samples(force=False)  # doctest: +SKIP
    sample data up to date in .../data/samples
    """
    out = (samples_dir() if out is None else Path(out)).resolve()
    if not force and is_up_to_date(out):
        _report(f"sample data up to date in {out}", progress)
        return out

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP_NAME).unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    logger.info("building sample data in %s (temporary folder %s)", out, tmp)
    try:
        _write_all(tmp, progress)
        _move_into_place(tmp, out)
        stamp = json.dumps(expected_stamp(), indent=2, sort_keys=True) + "\n"
        (out / STAMP_NAME).write_text(stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    total = sum(store_stats(out / ds.path).bytes for ds in DATASETS.values())
    elapsed = time.perf_counter() - started
    summary = (
        f"built {len(DATASETS)} sample stores in {out} in {elapsed:.1f} s, {total / 1e6:.1f} MB"
    )
    _report(summary, progress)
    return out


def print_info(out: Path | None = None) -> None:
    """Print each sample store's key, path, size, file count and whether it is built.

    Parameters
    ----------
    out : pathlib.Path, optional
        The samples folder; default :func:`helpers.catalog.samples_dir`.

    Examples
    --------
    >>> print_info()  # doctest: +SKIP
    samples folder: .../data/samples (up to date)
      nuclei               v0.4/idr0062A/6001240.zarr ...
    """
    out = (samples_dir() if out is None else Path(out)).resolve()
    state = "up to date" if is_up_to_date(out) else "not built or out of date"
    print(f"samples folder: {out} ({state})")
    for key, ds in DATASETS.items():
        size, files = store_stats(out / ds.path)
        built = "built" if _store_exists(out / ds.path) else "missing"
        print(f"  {key:<20} {ds.path:<36} {built:<8} {size / 1e6:8.1f} MB {files:6d} files")
        print(f"  {'':<20} {ds.description}")
