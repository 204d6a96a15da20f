"""The manifest: one SHA-256 per sample store, recorded once, so every later build can be checked.

The samples are generated from seeds, so every build (on any machine, with the locked library
versions) must give the same bytes. ``python -m course_tools samples manifest`` builds the samples and
writes :data:`MANIFEST` (the build stamp and a digest per store); the test suite compares its own
build with it. Run it after changing a generator, and commit the file.

Examples
--------
>>> sorted(json.loads(MANIFEST.read_text()))
['stamp', 'stores']
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from course_tools.samples.build import DATASETS, build_samples, expected_stamp
from helpers.catalog import samples_dir

__all__ = ["MANIFEST", "store_digests", "write_manifest"]

MANIFEST = Path(__file__).resolve().parent / "manifest.json"
"""The SHA-256 of every sample store as built by this generator (``python -m course_tools samples manifest``)."""


def store_digests(out: Path | None = None) -> dict[str, str]:
    """One SHA-256 per sample store, over the relative path and bytes of each of its files.

    Parameters
    ----------
    out : pathlib.Path, optional
        The samples folder (default :func:`helpers.catalog.samples_dir`).

    Returns
    -------
    dict
        ``{"v0.4/idr0062A/6001240.zarr": "<hex digest>", ...}``: equal digests, equal stores.
    """
    out = samples_dir() if out is None else Path(out)
    digests = {}
    for ds in DATASETS.values():
        digest = hashlib.sha256()
        for path in sorted(p for p in (out / ds.path).rglob("*") if p.is_file()):
            content = path.read_bytes()
            digest.update(f"{path.relative_to(out).as_posix()}\0{len(content)}\0".encode())
            digest.update(content)
        digests[ds.path] = digest.hexdigest()
    return digests


def write_manifest(out: Path | None = None, manifest: Path = MANIFEST) -> Path:
    """Record :func:`expected_stamp` and :func:`store_digests` of a build in ``manifest``.

    Run after changing a generator: the test suite checks every later build against it, so the
    samples are the same bytes on every machine and in every run (same seeds, same library versions).

    Parameters
    ----------
    out : pathlib.Path, optional
        Where to build (default :func:`helpers.catalog.samples_dir`); built if not up to date.
    manifest : pathlib.Path, optional
        The file to write (default :data:`MANIFEST`).

    Returns
    -------
    pathlib.Path
        ``manifest``.
    """
    out = build_samples(out, progress=False)
    record = {"stamp": expected_stamp(), "stores": store_digests(out)}
    manifest.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return manifest
