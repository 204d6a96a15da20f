"""Run the segmentation pipeline on a ``dask.distributed`` cluster and measure it against its limits.

A run that reads a remote image can never be faster than the largest of three limits:

* **request-bound**: every request waits one latency, and only so many are in flight at once:
  ``ceil(requests / requests in flight) x latency``;
* **bandwidth-bound**: ``bytes / bandwidth`` (only when the link has a cap);
* **compute-bound**: the same pipeline on data already in the workers' memory.

Requests in flight on a cluster = sum over workers of ``threads x min(chunks per task,
async.concurrency)`` (each task reads several chunks at once through zarr), capped by each worker's
connection pool (``helpers.storage.MAX_CONNECTIONS``).

Not a limit, but printed next to them: the CPU seconds a run used (workers, client and the local
cloud, which all share this computer's cores; see :func:`cpu_seconds`). On a small machine the
serving and HTTP work for every request can make that the real floor.

:func:`start_or_connect` starts a local cluster (worker processes on 127.0.0.1, told where the local
cloud is) or connects to the scheduler named by ``$DASK_SCHEDULER_ADDRESS``. :func:`run_pipeline`
times one segmentation run, :func:`compute_limit` the in-memory version, :func:`benchmark` does it
all with a private local cloud. Command line: ``python -m helpers.distributed --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import zarr

from . import segment as seg
from .bench.model import model_time_s
from .cloud.client import ENDPOINT_ENV
from .omezarr import OmeImage
from .storage import MAX_CONNECTIONS

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from .cloud import Cloud

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""Environment variable naming a running scheduler, e.g. ``tcp://10.0.0.5:8786``."""
CONNECT_TIMEOUT_S = 30.0
READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("PUT", "POST", "DELETE")


# --- the cluster -----------------------------------------------------------------------------------
def start_or_connect(
    n_workers: int = 2,
    threads_per_worker: int = 4,
    endpoint: str | None = None,
    address: str | None = None,
) -> tuple[Client, LocalCluster | None]:
    """A ``(client, cluster)`` pair: a new local cluster, or ``cluster=None`` when connecting.

    Connects to ``address`` or ``$DASK_SCHEDULER_ADDRESS`` when either is set. Otherwise starts a
    ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1 (dashboard on 127.0.0.1 too), whose
    workers get ``COURSE_ENDPOINT=endpoint`` and this process's zarr ``async.concurrency``.
    Close both with :func:`shutdown` (or use :func:`cluster_client`).
    """
    from distributed import Client, LocalCluster

    address = address or os.environ.get(SCHEDULER_ENV)
    if address:
        return Client(address, timeout=CONNECT_TIMEOUT_S), None
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    # donfig: nested key "async.concurrency" -> ZARR_ASYNC__CONCURRENCY (two underscores)
    env = {"ZARR_ASYNC__CONCURRENCY": str(zarr.config.get("async.concurrency"))}
    if endpoint:
        env[ENDPOINT_ENV] = endpoint
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        env=env,
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
    except BaseException:
        cluster.close()
        raise
    return client, cluster


def shutdown(client: Client, cluster: LocalCluster | None) -> None:
    """Close the client, and the cluster if this process started it."""
    with contextlib.suppress(Exception):
        client.close(timeout=10)
    if cluster is not None:
        cluster.close(timeout=20)


@contextlib.contextmanager
def cluster_client(
    n_workers: int = 2,
    threads_per_worker: int = 4,
    endpoint: str | None = None,
    address: str | None = None,
) -> Iterator[Client]:
    """:func:`start_or_connect` as a context manager that always shuts down what it started."""
    client, cluster = start_or_connect(n_workers, threads_per_worker, endpoint, address)
    try:
        yield client
    finally:
        shutdown(client, cluster)


def _worker_concurrency() -> int:
    return int(zarr.config.get("async.concurrency"))


def requests_in_flight(client: Client, planes_per_task: int = seg.PLANES_PER_TASK) -> int:
    """Chunk requests the cluster behind ``client`` can have in flight at once.

    Per worker: threads x min(chunks per task, that worker's zarr ``async.concurrency``), capped
    by the worker's connection pool (:data:`helpers.storage.MAX_CONNECTIONS`); summed over workers.
    """
    threads = client.nthreads()
    concurrency = client.run(_worker_concurrency)
    return sum(
        min(n * min(planes_per_task, concurrency[w]), MAX_CONNECTIONS) for w, n in threads.items()
    )


# --- limits and runs -------------------------------------------------------------------------------
@dataclass
class Limits:
    """The three lower bounds on a run's time (see the module docstring)."""

    latency_s: float
    requests: int
    in_flight: int
    bytes_sent: int
    bandwidth_mbps: float | None
    compute_s: float

    @property
    def request_bound_s(self) -> float:
        """Rounds of ``in_flight`` requests, one latency each."""
        return model_time_s(max(self.requests, 1), self.in_flight, self.latency_s)

    @property
    def bandwidth_bound_s(self) -> float:
        """Bytes over the capped link (0 without a cap)."""
        if not self.bandwidth_mbps:
            return 0.0
        return self.bytes_sent * 8 / (self.bandwidth_mbps * 1e6)

    @property
    def largest(self) -> tuple[str, float]:
        """Name and value of the largest limit."""
        bounds = {
            "request-bound": self.request_bound_s,
            "bandwidth-bound": self.bandwidth_bound_s,
            "compute-bound": self.compute_s,
        }
        name = max(bounds, key=bounds.__getitem__)
        return name, bounds[name]


@dataclass
class Run:
    """One timed pipeline run and what it cost on the network."""

    seconds: float
    workers: int
    threads: int
    requests_by_method: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    max_in_flight: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds used meanwhile by the workers, this client and (if known) the local cloud."""

    @property
    def reads(self) -> int:
        return sum(self.requests_by_method.get(m, 0) for m in READ_METHODS)

    @property
    def writes(self) -> int:
        return sum(self.requests_by_method.get(m, 0) for m in WRITE_METHODS)


def run_pipeline(
    client: Client,
    image: OmeImage,
    url: str,
    threshold: float,
    endpoint: str | None = None,
    cloud: Cloud | None = None,
    channel: int | str = "DAPI",
    min_size: int = seg.DEFAULT_MIN_SIZE,
    planes_per_task: int = seg.PLANES_PER_TASK,
) -> Run:
    """Time :func:`helpers.segment.segment_to_zarr` on ``client``'s cluster (graph, metadata and
    chunk writes included), writing to ``url`` at ``endpoint``.

    With ``cloud``, also count the requests and bytes the cloud served meanwhile (differences of its
    counters, so anything else using that cloud at the same time is counted too), and the CPU
    seconds used by the workers, this process and the cloud (when this Python started it).
    ``max_in_flight`` is the cloud's peak since its counters were last reset.
    """
    before = cloud.status() if cloud is not None else None
    cpu_before = cpu_seconds(client, cloud) if cloud is not None else {}
    start = time.perf_counter()
    job = seg.segment_to_zarr(
        image, url, threshold, channel, 0, min_size, planes_per_task, endpoint, compute=False
    )
    client.compute(job, sync=True)
    seconds = time.perf_counter() - start
    threads = client.nthreads()
    run = Run(seconds, len(threads), sum(threads.values()))
    if cloud is not None:
        after = cloud.status()
        methods = set(after["requests_by_method"]) | set(before["requests_by_method"])
        run.requests_by_method = {
            m: after["requests_by_method"].get(m, 0) - before["requests_by_method"].get(m, 0)
            for m in sorted(methods)
        }
        run.bytes_sent = int(after["bytes_sent"] - before["bytes_sent"])
        run.max_in_flight = int(after["max_in_flight"])
        cpu_after = cpu_seconds(client, cloud)
        run.cpu_s = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    return run


def _process_cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (default: this one)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def cpu_seconds(client: Client, cloud: Cloud | None = None) -> dict[str, float]:
    """CPU seconds used so far by ``client``'s workers (summed), this process and ``cloud``.

    The cloud (its proxy and the moto server it started) is only counted if this Python started
    it (``cloud.process``): a shared cloud's CPU is not this run's alone.
    """
    import psutil

    used = {"workers": sum(client.run(_process_cpu_s).values()), "client": _process_cpu_s()}
    if cloud is not None and cloud.process is not None:
        root = psutil.Process(cloud.process.pid)
        used["cloud"] = 0.0
        for process in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):  # a child that just ended
                used["cloud"] += _process_cpu_s(process.pid)
    return used


def compute_limit(
    client: Client,
    local_image: OmeImage,
    threshold: float,
    out_dir: str | os.PathLike,
    channel: int | str = "DAPI",
    min_size: int = seg.DEFAULT_MIN_SIZE,
    planes_per_task: int = seg.PLANES_PER_TASK,
) -> float:
    """Seconds the same pipeline takes on ``client``'s cluster without a network.

    ``local_image`` is a local copy of the image (files already in the page cache, i.e. in
    memory): decoding, thresholding, hole filling, labelling, encoding and writing (into
    ``out_dir``) all happen as in a remote run; only the requests are gone.
    """
    url = os.path.join(os.fspath(out_dir), f"compute-limit-{uuid.uuid4().hex[:8]}.zarr")
    start = time.perf_counter()
    job = seg.segment_to_zarr(
        local_image, url, threshold, channel, 0, min_size, planes_per_task, compute=False
    )
    client.compute(job, sync=True)
    return time.perf_counter() - start


def limits_of(
    run: Run,
    client: Client,
    latency_s: float,
    bandwidth_mbps: float | None,
    compute_s: float,
    planes_per_task: int = seg.PLANES_PER_TASK,
) -> Limits:
    """The :class:`Limits` of ``run`` on ``client``'s cluster (requests and bytes as counted)."""
    return Limits(
        latency_s=latency_s,
        requests=run.reads + run.writes,
        in_flight=requests_in_flight(client, planes_per_task),
        bytes_sent=run.bytes_sent,
        bandwidth_mbps=bandwidth_mbps,
        compute_s=compute_s,
    )


def scratch_url(cloud: Cloud, name: str) -> str:
    """A fresh ``s3://course-scratch/...`` URL for one run's output."""
    return cloud.s3_url(f"runs/{name}-{uuid.uuid4().hex[:8]}.zarr", bucket=cloud.scratch_bucket)


# --- benchmark -------------------------------------------------------------------------------------
def benchmark(
    n_workers: int = 2,
    threads_per_worker: int = 4,
    latency_ms: float = 100.0,
    bandwidth_mbps: float | None = None,
    planes_per_task: int = seg.PLANES_PER_TASK,
    repeats: int = 2,
) -> dict:
    """The targets' figures, measured on a private local cloud and a fresh local cluster.

    Returns a dict with the run time (best of ``repeats``), the three limits, their ratio, and
    whether the labels read back from the scratch bucket equal the in-memory result.
    """
    import tempfile

    from .catalog import open_image
    from .cloud import start_cloud
    from .paths import samples_dir

    key = "v0.4/idr0062A/6001240.zarr"

    with start_cloud(
        latency_ms=latency_ms, bandwidth_mbps=bandwidth_mbps, data=samples_dir()
    ) as cloud:
        image = open_image(cloud.s3_url(key), endpoint=cloud.endpoint)
        local_image = open_image(samples_dir() / key)
        threshold = seg.compute_threshold(image, "DAPI", level=-1, plane_step=4)
        volume = np.asarray(image.level(0)[seg.channel_selection(image, "DAPI")])
        reference = seg.segment_in_memory(volume, threshold)
        with cluster_client(n_workers, threads_per_worker, cloud.endpoint) as client:
            runs, urls = [], []
            for _ in range(repeats):
                urls.append(scratch_url(cloud, "bench"))
                cloud.reset_stats()  # a private cloud: exact counts and peak in flight
                runs.append(
                    run_pipeline(
                        client,
                        image,
                        urls[-1],
                        threshold,
                        cloud.endpoint,
                        cloud,
                        planes_per_task=planes_per_task,
                    )
                )
            best = min(range(repeats), key=lambda i: runs[i].seconds)
            compute_runs = []  # (seconds, CPU seconds of workers and client)
            with tempfile.TemporaryDirectory() as out_dir:
                for _ in range(repeats):
                    cpu_before = sum(cpu_seconds(client).values())
                    seconds = compute_limit(
                        client, local_image, threshold, out_dir, planes_per_task=planes_per_task
                    )
                    compute_runs.append((seconds, sum(cpu_seconds(client).values()) - cpu_before))
            compute_s, compute_cpu_s = min(compute_runs)
            limits = limits_of(
                runs[best], client, latency_ms / 1000, bandwidth_mbps, compute_s, planes_per_task
            )
        written = open_image(urls[best], endpoint=cloud.endpoint)
        identical = bool(np.array_equal(np.asarray(written.level(0))[0], reference))
        serve_s = serving_time(cloud, image)
    name, largest = limits.largest
    return {
        "workers": n_workers,
        "threads_per_worker": threads_per_worker,
        "threshold": threshold,
        "seconds": runs[best].seconds,
        "all_seconds": [r.seconds for r in runs],
        "run": asdict(runs[best]),
        "limits": {
            **asdict(limits),
            "request_bound_s": limits.request_bound_s,
            "bandwidth_bound_s": limits.bandwidth_bound_s,
        },
        "largest_limit": name,
        "ratio": runs[best].seconds / largest,
        "identical": identical,
        "objects": int(reference.max()),
        "serve_s": serve_s,
        "cores": os.cpu_count(),
        "compute_cpu_s": compute_cpu_s,
    }


def serving_time(cloud: Cloud, image: OmeImage) -> float:
    """Seconds to read all level-0 DAPI chunks with no latency and no cap (not one of the limits).

    The local cloud (moto behind a Python proxy) and the client share this computer's cores, so
    even an ideal network leaves a cost per request; this shows how much. Restores the conditions.
    """
    before = cloud.status()
    cloud.set_conditions(latency_ms=0, bandwidth_mbps=None)
    try:
        with zarr.config.set({"async.concurrency": MAX_CONNECTIONS}):
            start = time.perf_counter()
            np.asarray(image.level(0)[seg.channel_selection(image, "DAPI")])
            return time.perf_counter() - start
    finally:
        cloud.set_conditions(
            latency_ms=before["latency_ms"], bandwidth_mbps=before["bandwidth_mbps"]
        )


def print_report(result: dict) -> None:
    """Print :func:`benchmark`'s figures as a few readable lines."""
    lim = result["limits"]
    run = result["run"]
    cap = f"{lim['bandwidth_mbps']:g} Mbit/s" if lim["bandwidth_mbps"] else "no cap"
    print(
        f"cluster: {result['workers']} workers x {result['threads_per_worker']} threads; "
        f"latency {lim['latency_s'] * 1000:.0f} ms, {cap}"
    )
    print(
        f"run: {result['seconds']:.2f} s (all: {', '.join(f'{s:.2f}' for s in result['all_seconds'])}); "
        f"requests {run['requests_by_method']}, {run['bytes_sent'] / 1e6:.1f} MB, "
        f"max {run['max_in_flight']} in flight"
    )
    print(
        f"limits: request-bound {lim['request_bound_s']:.2f} s ({lim['requests']} requests / "
        f"{lim['in_flight']} in flight x {lim['latency_s'] * 1000:.0f} ms); "
        f"bandwidth-bound {lim['bandwidth_bound_s']:.2f} s; compute-bound {lim['compute_s']:.2f} s"
    )
    if "serve_s" in result:
        print(
            f"for comparison (not a limit): with no latency and no cap, the local cloud and client "
            f"on this computer need {result['serve_s']:.2f} s for the chunk reads alone"
        )
    if run.get("cpu_s") and result.get("cores"):
        total = sum(run["cpu_s"].values())
        parts = " + ".join(f"{name} {s:.2f}" for name, s in run["cpu_s"].items())
        print(
            f"CPU used by the run (not a limit): {parts} = {total:.2f} s on {result['cores']} "
            f"cores: at least {total / result['cores']:.2f} s even if every core were always busy "
            f"(the in-memory run used {result['compute_cpu_s']:.2f} s)"
        )
    verdict = "OK" if result["ratio"] <= 1.5 and result["identical"] else "MISSED"
    print(
        f"target: run / largest limit ({result['largest_limit']}) = {result['ratio']:.2f} (<= 1.5); "
        f"labels identical to in-memory: {result['identical']} ({result['objects']} objects) -> {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.distributed --bench``: print the targets' figures."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.distributed",
        description="Benchmark the segmentation pipeline on a local dask.distributed cluster "
        "against its request-, bandwidth- and compute-bound limits (private local cloud).",
    )
    parser.add_argument(
        "--bench", action="store_true", help="run the benchmark (the default action)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="per-request latency (default 100)"
    )
    parser.add_argument(
        "--bandwidth-mbps",
        type=float,
        nargs="+",
        default=[0.0, 50.0],
        help="bandwidth caps to run, Mbit/s; 0 = no cap (default: 0 50)",
    )
    parser.add_argument(
        "--planes-per-task",
        type=int,
        default=seg.PLANES_PER_TASK,
        help=f"chunks read by one task (default {seg.PLANES_PER_TASK})",
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the best counts")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if any(cap < 0 for cap in args.bandwidth_mbps):
        parser.error("--bandwidth-mbps must be >= 0 (0 = no cap)")
    ok = True
    for cap in args.bandwidth_mbps:
        result = benchmark(
            args.workers,
            args.threads,
            args.latency_ms,
            cap or None,
            args.planes_per_task,
            args.repeats,
        )
        print_report(result)
        print()
        ok &= result["ratio"] <= 1.5 and result["identical"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
