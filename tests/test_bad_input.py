"""Bad input gets one clear line, from the API and from every command line (issue 9).

Each test feeds one bad input and asserts the message's key words. Command lines run as real
``python -m ...`` subprocesses with a timeout (a hang fails the test instead of blocking it), all
started at once by one fixture; the other flags of the same commands are checked in-process through
:func:`course_tools.cli.run_cli` (argparse refuses them before anything starts, so nothing can hang).
Nothing here starts a cloud or a cluster: the images are small local stores.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from course_tools import REPO_ROOT
from course_tools.bench import browse as bench_browse
from course_tools.bench import cli as bench_cli
from course_tools.bench import cloud as bench_cloud
from course_tools.bench import segment as bench_segment
from course_tools.cli import error_message, is_user_error, run_cli
from course_tools.cluster import SCHEDULER_ENV, start_or_connect
from course_tools.ngff import image_attributes, multiscale_metadata, omero_metadata, pyramid_scales
from helpers.browse import View, ViewReader
from helpers.catalog import open_image
from helpers.chunks import chunk_keys, chunk_urls
from helpers.image import (
    SUPPORTED_VERSIONS,
    NotOmeZarrError,
    OmeImage,
    UnsupportedVersionError,
    check_version,
)
from helpers.model import (
    MAX_CONCURRENCY,
    check_bandwidth,
    check_concurrency,
    check_non_negative,
    model_time_s,
)
from helpers.segment import channel_selection

SHAPE = (2, 4, 32, 32)  # c, z, y, x
CLI_TIMEOUT_S = 90  # generous: a refused argument answers in ~2 s, a hang never does


def write_image(path: Path, version: str | None, layout: str = "0.4") -> Path:
    """A tiny c, z, y, x image (2 levels) whose metadata declares ``version`` in ``layout``."""
    group = zarr.open_group(path, mode="w", zarr_format=2 if layout == "0.4" else 3)
    data = np.arange(math.prod(SHAPE), dtype="uint16").reshape(SHAPE)
    for level in range(2):
        step = 2**level
        group.create_array(
            str(level), data=data[..., ::step, ::step], chunks=(1, 1, 16 // step, 16 // step)
        )
    entry = multiscale_metadata(
        "tiny", "czyx", pyramid_scales([1.0, 1.0, 0.5, 0.5], "czyx", 2), version=version
    )
    omero = omero_metadata("tiny", [("LaminB1", "00FF00"), ("DAPI", "0000FF")], (0, 2**16, 0, 1000))
    if layout == "0.4":
        group.attrs.update(image_attributes("0.4", multiscales=[entry], omero=omero))
    else:  # 0.5 layout, the version under "ome" (possibly one the helpers do not read)
        attrs: dict[str, Any] = {"multiscales": [entry], "omero": omero}
        group.attrs.update({"ome": {"version": version, **attrs} if version else attrs})
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Local images: a good 0.4 one, one declaring 0.9 (0.5 layout), 0.3, and none."""
    root = tmp_path_factory.mktemp("bad-input")
    return {
        "good": write_image(root / "good.zarr", "0.4"),
        "0.9": write_image(root / "new.zarr", "0.9", layout="0.5"),
        "0.3": write_image(root / "old.zarr", "0.3"),
        "none": write_image(root / "none.zarr", None),
    }


@pytest.fixture(scope="module")
def image(stores: dict[str, Path]) -> OmeImage:
    return open_image(stores["good"])


# --- command lines, as real subprocesses (all started at once) ----------------------------------
def cli_cases(stores: dict[str, Path], file: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments after ``python -m``, regex the stderr must match)."""
    int_range = r"must be an integer from 1 to 1024, got"
    return {
        "bench download --concurrency": (
            ["course_tools", "bench", "--concurrency", "1,4,2000"],
            rf"error: argument --concurrency: {int_range} 2000$",
        ),
        "bench browse --screen": (
            ["course_tools", "bench", "browse", "--screen", "8"],
            r"error: argument --screen: must be an integer from 16 to 8192, got 8$",
        ),
        "bench segment --workers": (
            ["course_tools", "bench", "segment", "--workers", "0"],
            r"error: argument --workers: must be an integer from 1 to 64, got 0$",
        ),
        "bench cloud --latency-ms nan": (
            ["course_tools", "bench", "cloud", "--latency-ms", "nan"],
            r"error: (argument )?--latency-ms:? must be a (finite )?number >= 0, got '?nan'?$",
        ),
        "bench shards --latency-ms": (
            ["course_tools", "bench", "shards", "--latency-ms", "-1"],
            r"error: argument --latency-ms: must be a finite number >= 0, got -1\.0$",
        ),
        "samples build --out FILE": (
            ["course_tools", "samples", "build", "--out", str(file)],
            r"^error: --out .*a-file\.txt is a file: give a folder for the samples$",
        ),
    }


@pytest.fixture(scope="module")
def cli_runs(
    stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[subprocess.CompletedProcess[str], str]]]:
    """Every case of :func:`cli_cases`, run in parallel: name -> (finished process, regex)."""
    file = tmp_path_factory.mktemp("cli") / "a-file.txt"
    file.write_text("not a folder")
    env = {**os.environ, "COURSE_ENDPOINT": "http://127.0.0.1:9"}  # never start a cloud
    cases = cli_cases(stores, file)
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, _) in cases.items()
    }
    done = {}
    try:
        for name, process in started.items():
            try:
                out, err = process.communicate(timeout=CLI_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                err += f"\nHUNG: no answer within {CLI_TIMEOUT_S} s"
            done[name] = (
                subprocess.CompletedProcess(process.args, process.returncode, out, err),
                cases[name][1],
            )
        yield done
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()


CLI_NAMES = list(cli_cases({k: Path(k) for k in ("good", "0.9", "0.3", "none")}, Path("f")))


@pytest.mark.parametrize("name", CLI_NAMES)
def test_cli_bad_input_is_one_line_and_exit_code_2(cli_runs, name: str) -> None:
    done, pattern = cli_runs[name]
    assert "HUNG" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, done.stderr
    assert any(re.search(pattern, line) for line in done.stderr.splitlines()), done.stderr


# --- the other numeric flags, in-process (argparse refuses them before anything starts) ----------
def run_in_process(
    main: Callable[[list[str] | None], int], argv: list[str], capsys
) -> tuple[int, str]:
    try:
        code = run_cli(main, argv)
    except SystemExit as exit_:  # argparse's exit for a bad option
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


CONCURRENCY = r"must be an integer from 1 to 1024, got"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("main", "argv", "message"),
    [
        (bench_cli.main, ["--concurrency", "0"], rf"--concurrency: {CONCURRENCY} 0"),
        (bench_cli.main, ["--concurrency", "a"], rf"--concurrency: {CONCURRENCY} 'a'"),
        (bench_cli.main, ["--chunks", "0"], r"--chunks: must be an integer >= 1, got 0"),
        (bench_cli.main, ["--repeats", "0"], r"--repeats: must be an integer >= 1, got 0"),
        (bench_cli.main, ["--latency-ms", "-5"], r"--latency-ms: must be a finite number >= 0"),
        (bench_cli.main, ["--bandwidth-mbps", "-1"], r"--bandwidth-mbps: must be a finite"),
        (bench_cli.main, ["--min-time", "inf"], r"--min-time: must be a finite number >= 0"),
        (bench_browse.main, ["--screen", "100000"], r"--screen: must be an integer from 16 to"),
        (bench_browse.main, ["--latency-ms", "x"], r"--latency-ms: must be a finite .* got 'x'"),
        (bench_segment.main, ["--workers", "1000"], r"--workers: must be an integer from 1 to 64"),
        (bench_segment.main, ["--threads", "0"], rf"--threads: {CONCURRENCY} 0"),
        (bench_segment.main, ["--latency-ms", "-1"], r"--latency-ms: must be a finite number"),
        (bench_segment.main, ["--bandwidth-mbps", "-1"], r"--bandwidth-mbps: must be a finite"),
        (bench_segment.main, ["--planes-per-task", "0"], r"--planes-per-task: must be an integer"),
        (bench_segment.main, ["--repeats", "0"], r"--repeats: must be an integer >= 1, got 0"),
        (bench_cloud.main, ["--repeats", "0"], r"--repeats: must be an integer >= 1, got 0"),
        (
            bench_cloud.main,
            ["--latency-ms", "-5"],
            r"--latency-ms:? must be a (finite )?number >= 0",
        ),
        (bench_cloud.main, ["--jitter-ms", "-1"], r"--jitter-ms:? must be a (finite )?number >= 0"),
        (
            bench_cloud.main,
            ["--bandwidth-mbps", "-1"],
            r"--bandwidth-mbps:? must be (a (finite )?number )?> 0",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v.__module__ if callable(v) else "",
)
def test_cli_numbers_are_checked_before_anything_starts(main, argv, message, capsys) -> None:
    code, err = run_in_process(main, argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert re.search(message, err, flags=re.MULTILINE), err


@pytest.mark.timeout(60)
def test_cli_user_errors_after_parsing_are_one_line(stores, tmp_path, capsys) -> None:
    for main, argv, message in (
        (
            bench_browse.main,
            ["--dataset", "nope"],
            r"^error: unknown dataset 'nope'; known datasets: nuclei",
        ),
    ):
        code, err = run_in_process(main, argv, capsys)
        assert code == 2 and re.search(message, err, flags=re.MULTILINE), err


def test_run_cli_turns_user_errors_into_one_line_and_lets_bugs_through(capsys) -> None:
    def fails(error: BaseException) -> Callable[[list[str] | None], int]:
        def main(argv: list[str] | None) -> int:
            raise error

        return main

    assert run_cli(fails(KeyError("unknown dataset 'x'")), []) == 2
    assert capsys.readouterr().err == "error: unknown dataset 'x'\n"
    assert run_cli(fails(ConnectionError("cannot reach 127.0.0.1:9\nIs it running?")), []) == 2
    assert capsys.readouterr().err == "error: cannot reach 127.0.0.1:9 Is it running?\n"
    assert run_cli(fails(NotOmeZarrError("no Zarr metadata")), []) == 2
    assert run_cli(fails(FileNotFoundError("no file")), []) == 2
    with pytest.raises(TypeError):  # a bug keeps its traceback
        run_cli(fails(TypeError("bug")), [])
    assert is_user_error(UnsupportedVersionError("x")) and error_message(KeyError("k")) == "k"


# --- the API ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_concurrency(0), rf"concurrency {CONCURRENCY} 0$"),
        (lambda: check_concurrency(MAX_CONCURRENCY + 1), rf"concurrency {CONCURRENCY} 1025$"),
        (lambda: check_concurrency("8"), rf"concurrency {CONCURRENCY} '8'$"),
        (lambda: check_concurrency(2.5), rf"concurrency {CONCURRENCY} 2\.5$"),
        (lambda: check_concurrency(True), rf"concurrency {CONCURRENCY} True$"),
        (lambda: model_time_s(10, 0, 0.1), r"concurrency must be an integer >= 1, got 0"),
        (lambda: model_time_s(10, "2", 0.1), r"concurrency must be an integer >= 1, got '2'"),
        (lambda: model_time_s(0, 1, 0.1), r"n_requests must be an integer >= 1, got 0"),
        (lambda: model_time_s(10, 2, -0.1), r"latency_s must be a finite number >= 0, got -0\.1"),
        (lambda: model_time_s(10, 2, math.nan), r"latency_s must be a finite number >= 0, got nan"),
        (lambda: model_time_s(10, 2, 0.1, 100, -5), r"bandwidth_mbps must be > 0 .* got -5"),
        (lambda: model_time_s(10, 2, 0.1, -1), r"total_bytes must be a finite number >= 0"),
        (lambda: check_non_negative("1", "latency_ms"), r"latency_ms must be a finite .* '1'"),
        (lambda: check_bandwidth(0), r"bandwidth_mbps must be > 0 \(Mbit/s\) or None"),
    ],
)
def test_model_and_concurrency_checks(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_view_reader_refuses_bad_concurrency(image) -> None:
    for bad, shown in (("8", "'8'"), (0, "0"), (10**6, "1000000"), (2.5, "2.5"), (None, "None")):
        with pytest.raises(ValueError, match=rf"^concurrency {CONCURRENCY} {shown}$"):
            ViewReader(image, concurrency=bad)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda im: im.level(9), r"^level 9 does not exist: this image has levels 0 to 1$"),
        (lambda im: im.level(-3), r"^level -3 does not exist: this image has levels 0 to 1$"),
        (lambda im: im.channel_index(5), r"^channel 5 out of range: this image has 2 channels$"),
        (lambda im: im.channel_index("GFP"), r"^no channel named 'GFP'; channels: \['LaminB1'"),
        (lambda im: im.axis("t"), r"^this image has no 't' axis; its axes are \['c', 'z', 'y'"),
        (
            lambda im: ViewReader(im).read(View(level=2, center_yx=(0.0, 0.0))),
            r"^level 2 does not exist: this image has levels 0 to 1$",
        ),
        (
            lambda im: ViewReader(im).read(View(level=0, center_yx=(1.0, 1.0), channel=2)),
            r"^c = 2 out of range: this level has 2$",
        ),
        (
            lambda im: ViewReader(im).read(View(level=0, center_yx=(1.0, 1.0), z=4)),
            r"^z = 4 out of range: this level has 4$",
        ),
        (
            lambda im: ViewReader(im).read_region(0, (slice(0, 1), slice(0, 1), slice(0, 99))),
            r"^region has 3 axes but the array has 4$",
        ),
        (
            lambda im: ViewReader(im).read_region(
                0, (slice(0, 1), slice(0, 1), slice(0, 99), slice(0, 8))
            ),
            r"^axis 2: region 0:99 is empty or outside the array \(size 32\)$",
        ),
        (
            lambda im: channel_selection(im, "DAPI", plane_step=0),
            r"^plane_step must be an integer >= 1, got 0$",
        ),
    ],
)
def test_level_channel_axis_region_out_of_range(image, call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(image)


def test_browser_refuses_a_bad_screen(image) -> None:
    from course_tools.viewers.browser import Browser

    for bad, message in (
        (
            512,
            r"^screen must be a pair of pixel sizes \(height, width\), e\.g\. \(512, 512\); got 512$",
        ),
        ((8, 512), r"^screen size must be an integer from 16 to 8192, got 8$"),
        ((512, 10**5), r"^screen size must be an integer from 16 to 8192, got 100000$"),
    ):
        with pytest.raises(ValueError, match=message):
            Browser(image, screen=bad)


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ((1, 300), r"^axis 1: index 300 is out of range for size 236$"),
        (
            (1, slice(230, 240)),
            r"^axis 1: region 230:240 is empty or outside the array \(size 236\)$",
        ),
        ((2,), r"^axis 0: index 2 is out of range for size 2$"),
        ((0, 0, 0, 0, 0), r"^region has 5 axes but the array has 4$"),
    ],
)
def test_chunk_keys_and_urls_outside_the_image_name_axis_index_and_size(region, message) -> None:
    meta = {
        "zarr_format": 2,
        "shape": [2, 236, 275, 271],
        "chunks": [1, 1, 275, 271],
        "dtype": "<u2",
    }
    with pytest.raises(ValueError, match=message):
        chunk_keys(meta, region)
    with pytest.raises(ValueError, match=message):
        chunk_urls("http://127.0.0.1:9/course-data/n.zarr/0", region, meta)


def test_cluster_sizes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with pytest.raises(ValueError, match=r"^n_workers must be an integer from 1 to 64, got 1000$"):
        start_or_connect(n_workers=1000)
    with pytest.raises(ValueError, match=rf"^threads_per_worker {CONCURRENCY} 0$"):
        start_or_connect(threads_per_worker=0)


# --- OME-NGFF versions --------------------------------------------------------------------------
def test_an_unsupported_ngff_version_is_refused_by_name(stores) -> None:
    with pytest.raises(
        UnsupportedVersionError,
        match=r"new\.zarr declares OME-NGFF version '0\.9'; the helpers read only 0\.4 and 0\.5: "
        r"open a 0\.4 or 0\.5 copy",
    ):
        open_image(stores["0.9"])
    with pytest.raises(ValueError, match=r"version '0\.3'; .*: convert it to 0\.4 or newer"):
        open_image(stores["0.3"])  # older versions lack what the helpers rely on


def test_a_missing_ngff_version_reads_as_its_layout_with_a_warning(stores, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="course_tools.ngff"):
        image = open_image(stores["none"])
    assert image.version == "0.4" and image.level(1).shape == (2, 4, 16, 16)
    assert "declares no OME-NGFF version; reading it as 0.4" in caplog.text


def test_check_version() -> None:
    assert SUPPORTED_VERSIONS == ("0.4", "0.5")
    assert check_version("0.4") == "0.4" and check_version(None, missing="0.5") == "0.5"
    for bad in ("0.9", "0.6", "1.0", "0.1", "", "latest", 0.9):
        with pytest.raises(UnsupportedVersionError, match=r"the helpers read only 0\.4 and 0\.5"):
            check_version(bad)
