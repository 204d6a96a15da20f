"""helpers.segment: the blockwise pipeline equals the in-memory one, errors, labels, CLI; scores
(course_tools.scoring)."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi

from course_tools import scoring
from course_tools.cluster import segment_to_zarr
from helpers import segment as pipeline
from helpers import segment as seg
from helpers._compat import buffer_prototype, run_sync
from helpers.catalog import open_image

NUCLEI_KEY = "v0.4/idr0062A/6001240.zarr"


def rings_and_blobs(shape=(12, 64, 64), seed: int = 1) -> np.ndarray:
    """A uint16 volume with bright rings (holes to fill) and blobs, some crossing block borders."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    volume = rng.integers(0, 40, size=shape).astype(np.uint16)
    # A thick ring centred on the y/x block corner (32, 32) of 32 x 32 tiles, through planes 2..9:
    r = np.hypot(y - 32, x - 32)
    volume[2:10][np.broadcast_to((r >= 6) & (r <= 10), (8, *shape[1:]))] = 200
    # A ball crossing z-blocks of 3 planes, and small specks to be removed.
    volume[((z - 6) ** 2 + (y - 12) ** 2 + (x - 50) ** 2) <= 16] = 180
    volume[0, 55, 5] = volume[11, 60, 60] = 220
    return volume


def mask_in_memory(volume: np.ndarray, threshold: float) -> np.ndarray:
    """Threshold + holes filled in each plane, computed plane by plane with scipy's own filler."""
    return np.stack([ndi.binary_fill_holes(plane > threshold) for plane in volume])


@pytest.mark.parametrize(
    "chunks",
    [(1, 64, 64), (3, 64, 64), (5, 32, 32), (4, 17, 23), (12, 64, 64)],
    ids=["plane", "3-planes", "tiles", "odd-tiles", "one-block"],
)
def test_blockwise_mask_and_labels_equal_in_memory(chunks) -> None:
    volume = rings_and_blobs()
    lazy = da.from_array(volume, chunks=chunks)
    mask = seg.segment_mask(lazy, 100).compute(scheduler="threads")
    expected = mask_in_memory(volume, 100)
    assert expected.sum() > (volume > 100).sum(), "the test volume must have holes to fill"
    np.testing.assert_array_equal(mask, expected)
    labels = seg.segment(lazy, 100, min_size=5).compute(scheduler="threads")
    reference = seg.segment_in_memory(volume, 100, min_size=5)
    np.testing.assert_array_equal(labels, reference)
    assert labels.max() == 2  # the ring and the ball, across blocks; the specks are gone


def test_naive_tile_filling_would_be_wrong() -> None:
    """The check above can fail: filling holes per y/x tile misses a hole split across tiles."""
    volume = rings_and_blobs()
    tiles = da.from_array(volume > 100, chunks=(3, 32, 32))
    naive = tiles.map_blocks(pipeline._fill_holes_in_planes, dtype=bool).compute()
    assert not np.array_equal(naive, mask_in_memory(volume, 100))


def test_fill_holes_2d_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        plane = ndi.binary_opening(rng.random((40, 50)) > 0.45)
        np.testing.assert_array_equal(seg.fill_holes_2d(plane), ndi.binary_fill_holes(plane))


def test_small_objects_are_removed_and_labels_renumbered() -> None:
    mask = np.zeros((3, 10, 10), bool)
    mask[0, 0, 0] = True  # 1 voxel: removed
    mask[:, 2:5, 2:5] = True  # 27 voxels: kept
    mask[1, 8, 8] = True  # removed
    mask[:2, 7:9, 0:3] = True  # 12 voxels: kept
    labels = seg.label_nuclei(da.from_array(mask, chunks=(1, 5, 5)), min_size=10).compute()
    assert labels.dtype == seg.LABEL_DTYPE
    assert sorted(np.unique(labels)) == [0, 1, 2]
    assert (labels > 0).sum() == 27 + 12
    np.testing.assert_array_equal(labels, seg.segment_in_memory(mask.astype(np.uint8), 0, 10))


def test_compare_with_truth() -> None:
    truth = np.zeros((4, 4), np.uint16)
    truth[:2, :2] = 1
    truth[2:, 2:] = 2
    found = np.zeros((4, 4), np.uint32)
    found[:2, :3] = 5  # 4 of 6 pixels on object 1
    score = scoring.compare_with_truth(found, truth[None])  # singleton channel axis is ignored
    assert score.dice == pytest.approx(2 * 4 / (6 + 8))
    assert score.iou == pytest.approx(4 / 10)
    assert (score.count, score.true_count, score.count_error) == (1, 2, -1)
    assert "Dice 0.571" in str(score) and "1 object found" in str(score)
    assert score.merged == 0 and "hold" not in str(score)  # 1 true nucleus in object 5, not 2
    with pytest.raises(ValueError, match="shapes differ"):
        scoring.compare_with_truth(found, truth[:3])
    found[2:, 2:] = 5  # now object 5 covers both nuclei: two touching nuclei merged
    merged = scoring.compare_with_truth(found, truth)
    assert (merged.count, merged.merged) == (1, 1)
    assert str(merged).endswith("; 1 object holds 2 or more true nuclei")
    found[2:, 2:] = 7  # split again: the best match of each true nucleus is another object
    assert scoring.compare_with_truth(found, truth).merged == 0


def test_count_steps_counts_what_each_step_changed() -> None:
    volume = np.zeros((3, 12, 12), np.uint16)
    volume[:, 1:7, 1:7] = 100  # a nucleus in 3 planes ...
    volume[1, 3:5, 3:5] = 10  # ... with a nucleolus (a hole) in the middle plane
    volume[0, 10, 10] = 100  # a speck
    volume[:, 9:12, 1:4] = 100  # a small object of 27 voxels
    steps = scoring.count_steps(volume, 50, min_size=28)
    assert (steps.threshold_objects, steps.holes_filled, steps.small_removed, steps.objects) == (
        3,
        4,
        2,
        1,
    )
    assert steps.foreground == 3 * 36 - 4 + 1 + 27
    assert steps.objects == seg.segment_in_memory(volume, 50, min_size=28).max()
    assert (
        str(steps).splitlines()[-1]
        == "remove objects under 28 voxels: 2 objects gone, 1 object left"
    )
    with pytest.raises(ValueError, match="min_size"):
        scoring.count_steps(volume, 50, min_size=-1)


@pytest.fixture(scope="module")
def nuclei(cloud):
    return open_image(cloud.s3_url(NUCLEI_KEY), endpoint=cloud.endpoint)


def test_threshold_on_coarse_level_costs_fewer_requests_and_agrees(nuclei, cloud) -> None:
    cloud.reset_stats()
    coarse = seg.compute_threshold(nuclei, "DAPI", level=-1, plane_step=4)
    requests = cloud.status().requests
    n_planes = nuclei.shape[nuclei.axis("z")]
    assert requests == -(-n_planes // 4)  # one GET per plane read, nothing else
    with zarr.config.set({"async.concurrency": 64}):
        full = seg.compute_threshold(nuclei, "DAPI", level=0)
    assert abs(coarse - full) < 0.05 * full
    assert seg.compute_threshold(nuclei, 1, level=-1, plane_step=4) == coarse


def test_blockwise_on_the_sample_image_equals_in_memory(nuclei) -> None:
    threshold = seg.compute_threshold(nuclei, "DAPI", level=-1, plane_step=4)
    volume = seg.channel_volume(nuclei, "DAPI", level=0)
    assert volume.chunks[0][0] == seg.PLANES_PER_TASK
    with dask.config.set(scheduler="threads", num_workers=8):
        labels = seg.segment(volume, threshold).compute()
    with zarr.config.set({"async.concurrency": 64}):  # whole-array reads: many chunks at once
        pixels = np.asarray(nuclei.level(0)[seg.channel_selection(nuclei, "DAPI")])
        truth = np.asarray(nuclei.open_labels().level(0))
    np.testing.assert_array_equal(labels, seg.segment_in_memory(pixels, threshold))
    score = scoring.compare_with_truth(labels, truth)
    # A crowded field: thresholding cannot split the nuclei that touch, nothing else goes wrong.
    assert score.dice > 0.95
    assert 0 < score.merged <= 0.1 * score.true_count
    assert score.true_count - score.merged - 3 <= score.count <= score.true_count
    steps = scoring.count_steps(pixels, threshold)
    assert steps.objects == score.count
    assert steps.holes_filled > 0.005 * steps.foreground  # the nucleoli are holes
    assert steps.small_removed > 30  # noise and debris specks


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda im: seg.compute_threshold(im, "GFP"), "no channel named 'GFP'"),
        (lambda im: seg.compute_threshold(im, 5), "out of range"),
        (lambda im: seg.compute_threshold(im, level=3), "level 3 does not exist"),
        (lambda im: seg.compute_threshold(im, method="magic"), "otsu, li, triangle"),
        (lambda im: seg.compute_threshold(im, plane_step=0), "plane_step"),
        (lambda im: seg.channel_volume(im, planes_per_task=0), "planes_per_task"),
        (lambda im: seg.label_nuclei(da.zeros((2, 2, 2), bool), min_size=-1), "min_size"),
        (lambda im: seg.segment_mask(np.zeros((2, 2)), 1), "dask array"),
    ],
)
def test_invalid_parameters_get_clear_errors(nuclei, call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(nuclei)


# --- writing labels -----------------------------------------------------------------------------
@pytest.fixture()
def local_nuclei(samples):
    return open_image(samples / NUCLEI_KEY)


def test_write_labels_round_trip_and_overwrite(local_nuclei, empty_cloud) -> None:
    from ome_zarr_models.v05.image_label import ImageLabel

    truth = np.asarray(local_nuclei.open_labels().level(0))[0].astype(seg.LABEL_DTYPE)
    url = empty_cloud.s3_url("me/nuclei_labels.zarr", bucket=empty_cloud.scratch_bucket)
    lazy = da.from_array(truth, chunks=(8, *truth.shape[1:]))
    # First an image with a different chunking (stale keys must go), then the real one.
    seg.write_labels(lazy, url, local_nuclei, endpoint=empty_cloud.endpoint, planes_per_chunk=7)
    written = seg.write_labels(
        lazy, url, local_nuclei, endpoint=empty_cloud.endpoint, provenance={"method": "truth"}
    )
    assert written == url
    back = open_image(url, endpoint=empty_cloud.endpoint)
    ImageLabel.from_zarr(back.group)  # valid OME-NGFF 0.5 label image
    assert back.version == "0.5" and back.axes == local_nuclei.axes
    assert back.attributes["course"]["method"] == "truth"
    assert len(back.levels) == len(local_nuclei.levels)
    for k, level in enumerate(back.levels):
        assert level.shape[1:] == local_nuclei.level(k).shape[1:]
        assert back.scales[k] == (1.0, *local_nuclei.scales[k][1:])
        np.testing.assert_array_equal(
            np.asarray(level)[0], truth[:, :: 2**k, :: 2**k][:, : level.shape[2], : level.shape[3]]
        )
    assert {level.chunks[1] for level in back.levels} == {seg.PLANES_PER_LABEL_CHUNK}
    # Nothing stale from the first image: 4 metadata documents + the non-empty chunks.
    step = seg.PLANES_PER_LABEL_CHUNK
    non_empty = sum(
        int(truth[z : z + step, :: 2**k, :: 2**k].any())
        for k in range(len(back.levels))
        for z in range(0, truth.shape[0], step)
    )
    objects = run_sync(back.group.store.fs._find(back.group.store.path))
    assert len(objects) == 1 + len(back.levels) + non_empty


def test_write_to_public_bucket_is_refused_clearly(local_nuclei, cloud) -> None:
    labels = da.zeros(local_nuclei.level(0).shape[1:], dtype=seg.LABEL_DTYPE)
    with pytest.raises(seg.ReadOnlyBucketError, match="read-only.*course-scratch"):
        seg.write_labels(labels, cloud.s3_url("mine.zarr"), local_nuclei, endpoint=cloud.endpoint)
    # The bucket itself refuses too (403), so the check above is not the only guard.
    store = seg.writable_store(cloud.s3_url("x", bucket=cloud.scratch_bucket), cloud.endpoint)
    public = zarr.storage.FsspecStore(store.fs, path=f"{cloud.public_bucket}/mine.zarr")
    with pytest.raises(PermissionError):
        run_sync(public.set("zarr.json", buffer_prototype().buffer.from_bytes(b"{}")))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.org/labels.zarr", "read-only"),
        ("s3://course-scratch", "give a key below the bucket"),
    ],
)
def test_bad_destinations(url, message) -> None:
    with pytest.raises(ValueError, match=message):
        seg.writable_store(url, "http://127.0.0.1:9")


def test_write_labels_checks_the_shape(local_nuclei, tmp_path) -> None:
    with pytest.raises(ValueError, match="level 0 of the image needs"):
        seg.write_labels(
            da.zeros((3, 4, 5), dtype=np.uint32), str(tmp_path / "x.zarr"), local_nuclei
        )


def test_segment_to_local_folder_matches_in_memory(local_nuclei, tmp_path) -> None:
    threshold = seg.compute_threshold(local_nuclei, "DAPI", level=-1)
    out = str(tmp_path / "labels.zarr")
    with dask.config.set(scheduler="threads"):
        segment_to_zarr(local_nuclei, out, threshold)
    pixels = np.asarray(local_nuclei.level(0)[seg.channel_selection(local_nuclei, "DAPI")])
    back = open_image(out)
    np.testing.assert_array_equal(
        np.asarray(back.level(0))[0], seg.segment_in_memory(pixels, threshold)
    )
    assert back.attributes["course"]["threshold"] == pytest.approx(threshold)


def test_the_v05_copy_with_tiled_chunks_gives_the_same_labels(samples) -> None:
    """256 x 256 chunks split each plane into 4: blocks are joined into whole planes first."""
    v04 = open_image(samples / NUCLEI_KEY)
    v05 = open_image(samples / "v0.5/idr0062A/6001240_labels.zarr")
    assert v05.levels[0].chunks[-2:] != v05.shape[-2:]  # tiles, not planes
    threshold = seg.compute_threshold(v04, "DAPI", level=-1)
    assert seg.compute_threshold(v05, "DAPI", level=-1) == threshold
    volume = seg.channel_volume(v05, "DAPI", level=0)
    assert volume.chunks[1][0] < v05.shape[2]  # blocks of tiles, as stored
    with dask.config.set(scheduler="threads"):
        labels = seg.segment(volume, threshold).compute()
        reference = seg.segment(seg.channel_volume(v04, "DAPI"), threshold).compute()
    np.testing.assert_array_equal(labels, reference)
    pixels = np.asarray(v05.level(0)[seg.channel_selection(v05, "DAPI")])
    np.testing.assert_array_equal(labels, seg.segment_in_memory(pixels, threshold))
