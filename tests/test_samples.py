"""Tests for course_tools.samples: the synthetic sample OME-Zarr stores (and the old name helpers.data).

The real build (~15-20 s) runs once per session; the determinism test builds a second time.
Stamp and interruption logic is tested with a fast stand-in for the pixel writer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from ome_zarr_models import v04, v05
from scipy import ndimage
from skimage.filters import threshold_otsu

import course_tools.samples as hs
from course_tools import REPO_ROOT, ngff
from course_tools.samples import build
from course_tools.samples import manifest as manifest_module

NUCLEI_SHAPES = [(2, 236, 275, 271), (2, 236, 137, 135), (2, 236, 68, 67)]
TISSUE_CHUNKS_PER_LEVEL = [768, 192, 48, 12, 3, 3]


def open_store(samples: Path, key: str) -> zarr.Group:
    return zarr.open_group(samples / hs.DATASETS[key].path, mode="r")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def chunk_files(array_dir: Path) -> list[Path]:
    """Chunk objects of one array (everything but the metadata files)."""
    meta = {".zarray", ".zattrs", ".zgroup", "zarr.json"}
    return [p for p in array_dir.rglob("*") if p.is_file() and p.name not in meta]


def all_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


# --- layout ----------------------------------------------------------------------------------


def test_datasets_mapping() -> None:
    assert set(hs.DATASETS) == {
        "nuclei",
        "nuclei_v05",
        "tissue",
        "lightsheet",
        "lightsheet_unsharded",
    }
    assert hs.DATASETS["nuclei"].path == "v0.4/idr0062A/6001240.zarr"
    assert hs.DATASETS["nuclei_v05"].path == "v0.5/idr0062A/6001240_labels.zarr"
    assert hs.DATASETS["tissue"].path == "synthetic/tissue.zarr"
    assert hs.DATASETS["lightsheet"].path == "v0.5/idr0066/ExpA_VIP_ASLM_on.zarr"
    assert hs.DATASETS["lightsheet_unsharded"].path == "synthetic/lightsheet_unsharded.zarr"
    assert hs.DATASETS["lightsheet_unsharded"].mirrors == hs.DATASETS["lightsheet"].mirrors
    for ds in hs.DATASETS.values():
        assert ds.description and "\n" not in ds.description
    assert hs.dataset_path("tissue", Path("/x")) == Path("/x/synthetic/tissue.zarr")


def test_build_writes_all_stores_and_stamp(samples: Path) -> None:
    for ds in hs.DATASETS.values():
        assert (samples / ds.path).is_dir()
    stamp = read_json(samples / hs.STAMP_NAME)
    assert stamp == hs.expected_stamp()
    assert stamp["zarr"] == zarr.__version__
    assert hs.is_up_to_date(samples)
    # the temporary build folder is gone
    assert not list(samples.parent.glob(f".{samples.name}.build-*"))


@pytest.mark.parametrize("key", list(hs.DATASETS))
def test_course_flag_marks_data_synthetic(samples: Path, key: str) -> None:
    root = samples / hs.DATASETS[key].path
    v3 = (root / "zarr.json").is_file()
    attrs = read_json(root / "zarr.json")["attributes"] if v3 else read_json(root / ".zattrs")
    course = attrs["course"]
    assert course["synthetic"] is True
    assert course["generator"] == "course_tools.samples"
    assert course["description"] == hs.DATASETS[key].description
    assert "idr00" in course["mirrors"]
    if v3:
        assert "course" not in attrs["ome"]


def test_nuclei_v04_layout(samples: Path) -> None:
    path = samples / hs.DATASETS["nuclei"].path
    assert read_json(path / ".zgroup") == {"zarr_format": 2}
    assert not (path / "zarr.json").exists()
    attrs = read_json(path / ".zattrs")
    (ms,) = attrs["multiscales"]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"]
    assert ms["axes"][0]["type"] == "channel"
    assert all(a["type"] == "space" and a["unit"] == "micrometer" for a in ms["axes"][1:])
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
    for f, d in zip((1, 2, 4), ms["datasets"], strict=True):
        (ct,) = d["coordinateTransformations"]
        assert ct["type"] == "scale"
        assert ct["scale"] == pytest.approx([1, 0.5002, 0.3604 * f, 0.3604 * f])
    channels = attrs["omero"]["channels"]
    assert [c["label"] for c in channels] == ["LaminB1", "DAPI"]
    for c in channels:
        w = c["window"]
        assert w["min"] <= w["start"] < w["end"] <= w["max"]

    root = open_store(samples, "nuclei")
    for level, shape in enumerate(NUCLEI_SHAPES):
        arr = root[str(level)]
        assert arr.metadata.zarr_format == 2
        assert arr.shape == shape and arr.dtype == np.uint16
        assert arr.chunks == (1, 1, shape[2], shape[3])
        zarray = read_json(path / str(level) / ".zarray")
        assert zarray["dimension_separator"] == "/"
        assert zarray["compressor"]["id"] == "blosc"
        assert zarray["compressor"]["cname"] == "zstd"
        assert (path / str(level) / "1" / "118" / "0" / "0").is_file()
        assert len(chunk_files(path / str(level))) == 2 * 236


def test_nuclei_v04_labels_layout(samples: Path) -> None:
    path = samples / hs.DATASETS["nuclei"].path
    assert read_json(path / "labels" / ".zattrs") == {"labels": ["0"]}
    label_attrs = read_json(path / "labels" / "0" / ".zattrs")
    assert label_attrs["image-label"]["version"] == "0.4"
    assert label_attrs["image-label"]["source"] == {"image": "../../"}
    assert label_attrs["multiscales"][0]["version"] == "0.4"
    image_ms = read_json(path / ".zattrs")["multiscales"][0]
    assert label_attrs["multiscales"][0]["axes"] == image_ms["axes"]
    scales = [d["coordinateTransformations"] for d in image_ms["datasets"]]
    assert [d["coordinateTransformations"] for d in label_attrs["multiscales"][0]["datasets"]] == (
        scales
    )

    label = open_store(samples, "nuclei")["labels/0"]
    levels = [label[str(i)] for i in range(3)]
    for arr, shape in zip(levels, NUCLEI_SHAPES, strict=True):
        assert arr.shape == (1, *shape[1:])
        assert arr.dtype in (np.uint16, np.uint32)
        assert arr.chunks == (1, 1, shape[2], shape[3])
    lab0 = levels[0][:]
    values = np.unique(lab0)
    n = int(values.max())
    assert hs.nuclei.NUCLEI_COUNT[0] <= n < hs.nuclei.NUCLEI_COUNT[1]
    assert values.tolist() == list(range(n + 1))  # 0 = background, 1..N one per nucleus
    colors = label_attrs["image-label"]["colors"]
    assert [c["label-value"] for c in colors] == list(range(1, n + 1))
    # nearest-neighbour downsampling: every 2nd pixel
    lab1 = levels[1][:]
    assert np.array_equal(lab1, lab0[..., :274:2, :270:2])
    assert np.array_equal(levels[2][:], lab1[..., :136:2, :134:2])


def test_nuclei_field_is_crowded_like_the_real_one(samples: Path) -> None:
    labels = open_store(samples, "nuclei")["labels/0/0"][0]
    per_plane = [np.unique(plane).size - 1 for plane in labels]
    assert np.median(per_plane) >= 15 and max(per_plane) >= 25
    touching = set()  # pairs of different nuclei that share a face
    for axis in range(3):
        a, b = (np.moveaxis(labels, axis, 0)[s] for s in (np.s_[1:], np.s_[:-1]))
        both = (a > 0) & (b > 0) & (a != b)
        touching |= {tuple(sorted(p)) for p in zip(a[both].tolist(), b[both].tolist(), strict=True)}
    assert 3 <= len(touching) <= 0.1 * labels.max()
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.min() > 1000  # every nucleus, even one cut by the border, outlives the size filter


def test_nuclei_v05_layout(samples: Path) -> None:
    path = samples / hs.DATASETS["nuclei_v05"].path
    assert not (path / ".zgroup").exists()
    meta = read_json(path / "zarr.json")
    assert meta["zarr_format"] == 3 and meta["node_type"] == "group"
    ome = meta["attributes"]["ome"]
    assert ome["version"] == "0.5"
    (ms,) = ome["multiscales"]
    assert "version" not in ms
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"]
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
    assert [c["label"] for c in ome["omero"]["channels"]] == ["LaminB1", "DAPI"]

    root = open_store(samples, "nuclei_v05")
    for level, shape in enumerate(NUCLEI_SHAPES):
        arr = root[str(level)]
        assert arr.metadata.zarr_format == 3
        assert arr.shape == shape and arr.dtype == np.uint16
        assert arr.chunks == (1, 1, 256, 256)
        assert arr.shards is None
        assert arr.metadata.dimension_names == ("c", "z", "y", "x")
        array_meta = read_json(path / str(level) / "zarr.json")
        assert array_meta["chunk_key_encoding"]["name"] == "default"
        assert array_meta["chunk_key_encoding"]["configuration"]["separator"] == "/"
        assert array_meta["codecs"][-1]["name"] in ("blosc", "zstd")
        assert (path / str(level) / "c" / "1" / "118" / "0" / "0").is_file()

    labels_meta = read_json(path / "labels" / "zarr.json")["attributes"]["ome"]
    assert labels_meta == {"version": "0.5", "labels": ["0"]}
    label_ome = read_json(path / "labels" / "0" / "zarr.json")["attributes"]["ome"]
    assert label_ome["version"] == "0.5"
    assert label_ome["image-label"]["source"] == {"image": "../../"}
    assert "version" not in label_ome["multiscales"][0]


def test_v04_and_v05_hold_the_same_pixels(samples: Path) -> None:
    a, b = open_store(samples, "nuclei"), open_store(samples, "nuclei_v05")
    for level in ("0", "1", "2", "labels/0/0", "labels/0/2"):
        assert np.array_equal(a[level][:], b[level][:]), level


def test_nuclei_levels_are_2x2_means(samples: Path) -> None:
    root = open_store(samples, "nuclei")
    lev0 = root["0"][:, 100:110].astype(np.float64)
    lev1 = root["1"][:, 100:110]
    expected = lev0[..., :274, :270].reshape(2, 10, 137, 2, 135, 2).mean(axis=(3, 5))
    assert np.abs(lev1 - expected).max() <= 0.5 + 1e-9


def test_tissue_layout(samples: Path) -> None:
    path = samples / hs.DATASETS["tissue"].path
    attrs = read_json(path / ".zattrs")
    (ms,) = attrs["multiscales"]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert [d["path"] for d in ms["datasets"]] == [str(i) for i in range(6)]
    for level, d in enumerate(ms["datasets"]):
        assert d["coordinateTransformations"][0]["scale"] == [1.0, 0.5 * 2**level, 0.5 * 2**level]
    assert len(attrs["omero"]["channels"]) == 3

    root = open_store(samples, "tissue")
    for level, n_chunks in enumerate(TISSUE_CHUNKS_PER_LEVEL):
        arr = root[str(level)]
        size = 8192 >> level
        assert arr.metadata.zarr_format == 2
        assert arr.shape == (3, size, size) and arr.dtype == np.uint8
        assert arr.chunks == (1, 512, 512)
        assert arr.nchunks == n_chunks
        assert len(chunk_files(path / str(level))) == n_chunks
        assert read_json(path / str(level) / ".zarray")["dimension_separator"] == "/"


def test_tissue_is_structured_at_every_level(samples: Path) -> None:
    root = open_store(samples, "tissue")
    coarse = root["5"][:]
    assert np.array_equal(coarse, hs.downsample_mean(root["4"][:]))
    # the channels differ, and a tile in the middle of the slide shows contrast at every level
    assert not np.array_equal(coarse[0], coarse[1])
    for level in range(6):
        arr = root[str(level)]
        c, h = arr.shape[-1] // 2, min(128, arr.shape[-1] // 2)
        tile = arr[:, c - h : c + h, c - h : c + h]
        assert tile.std(axis=(1, 2)).min() > 5, level


# --- validation with ome-zarr-models ---------------------------------------------------------


def test_v04_stores_validate(samples: Path) -> None:
    root = open_store(samples, "nuclei")
    image = v04.Image.from_zarr(root)
    assert image.labels is not None
    v04.Labels.from_zarr(root["labels"])
    v04.ImageLabel.from_zarr(root["labels/0"])
    tissue = v04.Image.from_zarr(open_store(samples, "tissue"))
    assert len(tissue.attributes.multiscales[0].datasets) == 6


def test_v05_store_validates(samples: Path) -> None:
    root = open_store(samples, "nuclei_v05")
    image = v05.Image.from_zarr(root)
    assert image.labels is not None and image.labels.label_paths == ["0"]
    v05.Labels.from_zarr(root["labels"])
    v05.ImageLabel.from_zarr(root["labels/0"])


# --- pixels match the labels -----------------------------------------------------------------


def test_labels_match_the_pixels(samples: Path) -> None:
    root = open_store(samples, "nuclei")
    dapi = root["0"][1]
    lamin = root["0"][0]
    inside = root["labels/0/0"][0] > 0
    assert dapi[inside].mean() > 4 * dapi[~inside].mean()
    # Otsu on DAPI segments the nuclei
    seg = dapi > threshold_otsu(dapi)
    dice = 2 * np.count_nonzero(seg & inside) / (np.count_nonzero(seg) + np.count_nonzero(inside))
    assert dice > 0.85
    # LaminB1 is a shell: brighter at the boundary than in the nucleus interior
    interior = ndimage.binary_erosion(inside, iterations=4)
    boundary = inside & ~ndimage.binary_erosion(inside, iterations=2)
    assert lamin[boundary].mean() > 1.5 * lamin[interior].mean()
    assert lamin[boundary].mean() > 2 * lamin[~inside].mean()


# --- size, determinism, stamp ----------------------------------------------------------------


def test_total_size_under_500_mb(samples: Path) -> None:
    total = sum(hs.store_stats(samples / ds.path)[0] for ds in hs.DATASETS.values())
    assert 20e6 < total < 500e6


def test_second_build_is_a_noop(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {k: p.stat().st_mtime_ns for k, p in all_files(samples).items()}
    started = time.perf_counter()
    assert hs.build_samples(samples) == samples
    assert time.perf_counter() - started < 5
    assert "sample data up to date" in capsys.readouterr().out
    assert {k: p.stat().st_mtime_ns for k, p in all_files(samples).items()} == before


def test_build_is_deterministic(samples: Path) -> None:
    """Every build is the same bytes: this one equals the build recorded in the manifest.

    The manifest was written by ``python -m course_tools samples manifest`` in another process (and
    another run, on another machine): same generator, same library versions, same SHA-256 per file.
    """
    manifest = json.loads(manifest_module.MANIFEST.read_text())
    assert manifest["stamp"] == build.expected_stamp(), (
        "the sample generator or a library changed since course_tools/samples/manifest.json was made: "
        "check the new samples, then run python -m course_tools samples manifest"
    )
    digests = manifest_module.store_digests(samples)
    assert digests.keys() == manifest["stores"].keys() == {ds.path for ds in hs.DATASETS.values()}
    differ = [path for path, digest in digests.items() if manifest["stores"][path] != digest]
    assert differ == [], f"these stores differ from the manifest: {differ}"


def test_manifest_records_a_build(tmp_path: Path, fake_writer: list[Path]) -> None:
    manifest = manifest_module.write_manifest(tmp_path / "out", tmp_path / "manifest.json")
    record = json.loads(manifest.read_text())
    assert record["stamp"] == build.expected_stamp()
    assert record["stores"] == manifest_module.store_digests(tmp_path / "out")
    changed = tmp_path / "out" / hs.DATASETS["tissue"].path / "build"
    changed.write_text("another build")
    assert manifest_module.store_digests(tmp_path / "out") != record["stores"]


# --- stamp / rebuild logic with a fast stand-in writer -----------------------------------------


@pytest.fixture
def fake_writer(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the slow pixel writer by one that writes tiny stores; returns its call log."""
    calls: list[Path] = []

    def write_all(tmp: Path, progress: bool) -> None:
        calls.append(tmp)
        for ds in hs.DATASETS.values():
            (tmp / ds.path).mkdir(parents=True)
            (tmp / ds.path / ".zgroup").write_text('{"zarr_format": 2}')
            (tmp / ds.path / "build").write_text(str(len(calls)))

    monkeypatch.setattr(build, "_write_all", write_all)
    return calls


def build_number(out: Path) -> str:
    return (out / hs.DATASETS["tissue"].path / "build").read_text()


def test_stamp_skips_and_force_rebuilds(fake_writer: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "samples"
    (out / "unrelated.txt").parent.mkdir()
    (out / "unrelated.txt").write_text("keep me")
    hs.build_samples(out, progress=False)
    assert len(fake_writer) == 1 and hs.is_up_to_date(out)
    hs.build_samples(out, progress=False)
    assert len(fake_writer) == 1  # stamp matches: nothing to do
    hs.build_samples(out, force=True, progress=False)
    assert len(fake_writer) == 2 and build_number(out) == "2"
    assert (out / "unrelated.txt").read_text() == "keep me"
    # the temporary sibling folders are cleaned up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]


def test_changed_stamp_or_missing_store_rebuilds(fake_writer: list[Path], tmp_path: Path) -> None:
    out = hs.build_samples(tmp_path / "s", progress=False)
    stamp = read_json(out / hs.STAMP_NAME)
    stamp["source_sha256"] = "0" * 64  # as if the generator changed
    (out / hs.STAMP_NAME).write_text(json.dumps(stamp))
    assert not hs.is_up_to_date(out)
    hs.build_samples(out, progress=False)
    assert len(fake_writer) == 2 and hs.is_up_to_date(out)

    (out / hs.DATASETS["nuclei"].path / ".zgroup").unlink()
    assert not hs.is_up_to_date(out)
    hs.build_samples(out, progress=False)
    assert len(fake_writer) == 3 and hs.is_up_to_date(out)


def test_interrupted_build_leaves_no_complete_looking_data(
    fake_writer: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = hs.build_samples(tmp_path / "s", progress=False)
    good = build._write_all

    def crash(tmp: Path, progress: bool) -> None:
        good(tmp, progress)
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "_write_all", crash)
    with pytest.raises(KeyboardInterrupt):
        hs.build_samples(out, force=True, progress=False)
    assert not (out / hs.STAMP_NAME).exists()
    assert not hs.is_up_to_date(out)
    assert build_number(out) == "1"  # the old stores were not touched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_cli_help_and_info(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        hs.main(["--help"])
    assert exc.value.code == 0
    assert "build" in capsys.readouterr().out
    assert hs.main(["info", "--out", str(samples)]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out
    for ds in hs.DATASETS.values():
        assert ds.path in out


def test_python_m_info_and_build(samples: Path) -> None:
    """``python -m course_tools samples info|build`` (the one name of the command)."""

    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "course_tools", "samples", *args, "--out", str(samples)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr
        return result.stdout

    info = run("info")
    assert info.splitlines()[0] == f"samples folder: {samples} (up to date)"
    for ds in hs.DATASETS.values():
        assert ds.path in info and ds.description in info
    assert run("build") == f"sample data up to date in {samples}\n"


# --- metadata details and the stamp's reach ----------------------------------------------------


def test_levels_say_how_they_were_made(samples: Path) -> None:
    nuclei = samples / hs.DATASETS["nuclei"].path
    image = read_json(nuclei / ".zattrs")
    (ms,) = image["multiscales"]
    assert ms["type"] == "mean"
    assert ms["metadata"] == {
        "description": "downsampled by mean of 2x2 blocks in y/x",
        "method": "course_tools.samples",
    }
    assert image["omero"]["version"] == "0.4"
    assert image["omero"]["rdefs"]["defaultZ"] == 118
    (label_ms,) = read_json(nuclei / "labels" / "0" / ".zattrs")["multiscales"]
    assert label_ms["type"] == "nearest"
    assert label_ms["metadata"]["description"] == "downsampled by every 2nd pixel in y/x"
    ome = read_json(samples / hs.DATASETS["nuclei_v05"].path / "zarr.json")["attributes"]["ome"]
    assert "version" not in ome["omero"]
    assert ome["multiscales"][0]["metadata"] == ms["metadata"]


def test_stamp_hashes_every_generator_source() -> None:
    sources = build.source_files()
    package = Path(hs.__file__).resolve().parent
    on_demand = package / "microscope.py"  # lesson 09's file: its own stamp, not the samples'
    assert set(package.glob("*.py")) - {on_demand} <= set(sources)
    assert on_demand not in sources
    assert Path(ngff.__file__).resolve() in sources


# --- the light-sheet sample: sharded and unsharded copies --------------------------------------

LIGHTSHEET_KEYS = ("lightsheet", "lightsheet_unsharded")
LIGHTSHEET_SHAPES = [(20, 2048, 2048), (20, 1024, 1024), (20, 512, 512)]


@pytest.mark.parametrize("key", LIGHTSHEET_KEYS)
def test_lightsheet_layout(samples: Path, key: str) -> None:
    path = samples / hs.DATASETS[key].path
    ome = read_json(path / "zarr.json")["attributes"]["ome"]
    assert ome["version"] == "0.5"
    (ms,) = ome["multiscales"]
    assert [(a["name"], a["type"], a["unit"]) for a in ms["axes"]] == [
        (axis, "space", "micrometer") for axis in "zyx"
    ]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[2.0, 0.4 * 2**k, 0.4 * 2**k] for k in range(3)]
    sharded = key == "lightsheet"
    for level, shape in enumerate(LIGHTSHEET_SHAPES):
        meta = read_json(path / str(level) / "zarr.json")
        assert meta["shape"] == list(shape) and meta["data_type"] == "uint16"
        assert meta["dimension_names"] == ["z", "y", "x"]
        grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
        codecs = meta["codecs"]
        if sharded:  # one object = 10 whole planes, holding 1 x 256 x 256 inner chunks
            assert grid == [10, shape[1], shape[2]]
            (sharding,) = codecs
            assert sharding["name"] == "sharding_indexed"
            assert sharding["configuration"]["chunk_shape"] == [1, 256, 256]
            codecs = sharding["configuration"]["codecs"]
        else:
            assert grid == [1, 256, 256]
        assert codecs[-1]["name"] == "blosc"
        assert codecs[-1]["configuration"]["cname"] == "zstd"
        objects = sorted(
            str(p.relative_to(path / str(level))) for p in chunk_files(path / str(level))
        )
        if sharded:
            assert objects == ["c/0/0/0", "c/1/0/0"]
        else:
            assert len(objects) == 20 * (shape[1] // 256) * (shape[2] // 256)
        arr = open_store(samples, key)[str(level)]
        assert arr.chunks == (1, 256, 256)
        assert arr.shards == ((10, shape[1], shape[2]) if sharded else None)


def test_lightsheet_copies_hold_the_same_pixels(samples: Path) -> None:
    sharded, unsharded = (
        open_store(samples, "lightsheet"),
        open_store(samples, "lightsheet_unsharded"),
    )
    for level in ("0", "1", "2"):
        for z in (0, 10):  # one shard at a time
            assert np.array_equal(sharded[level][z : z + 10], unsharded[level][z : z + 10]), level
    # the levels are 2 x 2 means in y/x, and the attributes are the same but for the description
    assert np.array_equal(sharded["2"][:], hs.downsample_mean(sharded["1"][:]))
    a, b = (dict(store.attrs) for store in (sharded, unsharded))
    assert a["ome"] == b["ome"]
    assert a["course"]["description"] != b["course"]["description"]


def test_lightsheet_looks_like_a_light_sheet(samples: Path) -> None:
    plane = open_store(samples, "lightsheet")["1"][10].astype(np.float64)
    background = np.median(plane)
    assert 100 <= background < 200  # camera offset plus faint autofluorescence
    assert np.percentile(plane, 99.9) > background + 300  # sparse bright cells and neurites
    assert np.mean(plane > background + 100) < 0.05
    left, right = np.median(plane[:, :128]), np.median(plane[:, -128:])
    assert left > right + 3  # the sheet comes from the left


def test_sharding_divides_the_object_count(samples: Path) -> None:
    sharded = hs.store_stats(samples / hs.DATASETS["lightsheet"].path)
    unsharded = hs.store_stats(samples / hs.DATASETS["lightsheet_unsharded"].path)
    assert sharded.files == 4 + 3 * 2  # zarr.json of the group and 3 levels, 2 shards per level
    assert unsharded.files == 4 + 20 * (64 + 16 + 4)
    assert unsharded.files >= 100 * sharded.files
    assert sharded.bytes + unsharded.bytes <= 200e6


@pytest.mark.parametrize("key", LIGHTSHEET_KEYS)
def test_lightsheet_validates_as_ome_ngff_05(samples: Path, key: str) -> None:
    image = v05.Image.from_zarr(open_store(samples, key))
    assert image.labels is None
    assert len(image.attributes.ome.multiscales[0].datasets) == 3


def test_lightsheet_same_seed_same_shard_bytes(tmp_path: Path) -> None:
    from course_tools.samples.lightsheet import check_shape, lightsheet_volume, write_lightsheet

    shape = (10, 1024, 1024)  # a small volume: one shard per level
    volume = lightsheet_volume(7, shape)
    shards = []
    for run, image in enumerate((volume, lightsheet_volume(7, shape))):
        store = tmp_path / f"run{run}.zarr"
        write_lightsheet(store, image, {}, sharded=True)
        shards.append((store / "0" / "c" / "0" / "0" / "0").read_bytes())
    assert shards[0] == shards[1]
    assert not np.array_equal(volume, lightsheet_volume(8, shape))
    with pytest.raises(ValueError, match="multiple of 10"):
        check_shape((12, 1024, 1024))
    with pytest.raises(ValueError, match="multiples of 1024"):
        write_lightsheet(
            tmp_path / "bad.zarr", np.zeros((10, 1000, 1024), np.uint16), {}, sharded=True
        )
