"""Run the segmentation pipeline on a ``dask.distributed`` cluster and measure it against its limits.

The limits (request-, bandwidth- and compute-bound) are explained in :mod:`course_tools.limits`.
Requests in flight on a cluster = sum over workers of ``threads x min(chunks per task,
async.concurrency)`` (each task reads several chunks at once through zarr), capped by each worker's
connection pool (:data:`course_tools.config.MAX_CONNECTIONS`).

Not a limit, but printed next to them: the CPU seconds a run used (:func:`cpu_seconds`).
:func:`start_or_connect` starts a local cluster (worker processes on 127.0.0.1, told where the local
cloud is) or connects to the scheduler named by ``$DASK_SCHEDULER_ADDRESS``. :func:`segment_to_zarr`
is the whole pipeline as one dask graph, :func:`run_pipeline` times one run of it,
:func:`compute_limit` the in-memory version, :func:`limits_of` gathers the limits. The benchmark
that does it all is ``python -m course_tools bench segment``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psutil
import zarr

from course_tools.config import CLUSTER_CONNECT_TIMEOUT_S, MAX_WORKERS
from course_tools.limits import Limits, Run
from helpers.cloud import ENDPOINT_ENV
from helpers.image import OmeImage
from helpers.model import check_concurrency, check_count
from helpers.segment import (
    DEFAULT_MIN_SIZE,
    PLANES_PER_TASK,
    channel_volume,
    segment,
    write_labels,
)
from helpers.storage import MAX_CONNECTIONS

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from helpers.cloud import Cloud

__all__ = [
    "SCHEDULER_ENV",
    "Limits",
    "Run",
    "cluster_client",
    "compute_limit",
    "cpu_seconds",
    "limits_of",
    "requests_in_flight",
    "run_pipeline",
    "scratch_url",
    "segment_to_zarr",
    "shutdown",
    "start_or_connect",
]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""Environment variable naming a running scheduler, e.g. ``tcp://10.0.0.5:8786``."""


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

    Parameters
    ----------
    n_workers, threads_per_worker : int, optional
        Worker processes of a new local cluster, and threads in each.
    endpoint : str, optional
        The local cloud's endpoint, given to the workers as ``COURSE_ENDPOINT``.
    address : str, optional
        A running scheduler to connect to instead.

    Returns
    -------
    tuple
        ``(client, cluster)``; ``cluster`` is None when connecting to a running scheduler.

    Raises
    ------
    ValueError
        ``n_workers`` is not an integer from 1 to 64, or ``threads_per_worker`` from 1 to 1024.

    Examples
    --------
    >>> shutdown(*start_or_connect(2, 4))  # doctest: +SKIP
    """
    from distributed import Client, LocalCluster

    address = address or os.environ.get(SCHEDULER_ENV)
    if address:
        return Client(address, timeout=CLUSTER_CONNECT_TIMEOUT_S), None
    check_count(n_workers, "n_workers", 1, MAX_WORKERS)
    check_concurrency(threads_per_worker, "threads_per_worker")
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
        client = Client(cluster, timeout=CLUSTER_CONNECT_TIMEOUT_S)
    except BaseException:
        cluster.close()
        raise
    return client, cluster


def shutdown(client: Client, cluster: LocalCluster | None) -> None:
    """Close the client, and the cluster if this process started it.

    Parameters
    ----------
    client, cluster
        What :func:`start_or_connect` returned (errors while closing the client are ignored).
    """
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
    """:func:`start_or_connect` as a context manager that always shuts down what it started.

    Parameters
    ----------
    n_workers, threads_per_worker, endpoint, address
        As for :func:`start_or_connect`.

    Yields
    ------
    distributed.Client
        A client of the cluster.

    Examples
    --------
    >>> with cluster_client(2, 4) as client:  # doctest: +SKIP
    ...     client.nthreads()
    """
    client, cluster = start_or_connect(n_workers, threads_per_worker, endpoint, address)
    try:
        yield client
    finally:
        shutdown(client, cluster)


def segment_to_zarr(
    image: OmeImage,
    url: str,
    threshold: float,
    channel: int | str = "DAPI",
    level: int = 0,
    min_size: int = DEFAULT_MIN_SIZE,
    planes_per_task: int = PLANES_PER_TASK,
    endpoint: str | None = None,
    provenance: dict[str, Any] | None = None,
    compute: bool = True,
) -> Any:
    """Read, segment and write in one dask graph, on the current dask scheduler.

    :func:`~helpers.segment.channel_volume` -> :func:`~helpers.segment.segment` ->
    :func:`~helpers.segment.write_labels` (which see for ``url``, ``endpoint`` and ``compute``);
    threshold, channel and min_size are stored with ``provenance`` under the ``"course"`` attribute.

    Examples
    --------
    >>> segment_to_zarr(image, "/tmp/nuclei_labels.zarr", 900.0)  # doctest: +SKIP
    '/tmp/nuclei_labels.zarr'
    """
    volume = channel_volume(image, channel, level, planes_per_task)
    labels = segment(volume, threshold, min_size)
    facts = {"threshold": float(threshold), "channel": str(channel), "min_size": min_size}
    return write_labels(
        labels,
        url,
        image,
        level,
        endpoint,
        provenance={**facts, **(provenance or {})},
        compute=compute,
    )


def _worker_concurrency() -> int:
    return int(zarr.config.get("async.concurrency"))


def requests_in_flight(client: Client, planes_per_task: int = PLANES_PER_TASK) -> int:
    """Chunk requests the cluster behind ``client`` can have in flight at once.

    Per worker: threads x min(chunks per task, that worker's zarr ``async.concurrency``), capped
    by the worker's connection pool (:data:`course_tools.config.MAX_CONNECTIONS`); summed over workers.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    planes_per_task : int, optional
        Chunks one task reads at once.

    Returns
    -------
    int
        Requests in flight, at most.

    Examples
    --------
    >>> requests_in_flight(client)  # doctest: +SKIP
    64
    """
    threads = client.nthreads()
    concurrency = client.run(_worker_concurrency)
    return sum(
        min(n * min(planes_per_task, concurrency[w]), MAX_CONNECTIONS) for w, n in threads.items()
    )


def run_pipeline(
    client: Client,
    image: OmeImage,
    url: str,
    threshold: float,
    endpoint: str | None = None,
    cloud: Cloud | None = None,
    channel: int | str = "DAPI",
    min_size: int = DEFAULT_MIN_SIZE,
    planes_per_task: int = PLANES_PER_TASK,
) -> Run:
    """Time :func:`segment_to_zarr` on ``client``'s cluster.

    Graph, metadata and chunk writes are included; the labels go to ``url`` at ``endpoint``.
    With ``cloud``, also count the requests and bytes the cloud served meanwhile (differences of its
    counters, so anything else using that cloud at the same time is counted too), and the CPU
    seconds used by the workers, this process and the cloud (when this Python started it).
    ``max_in_flight`` is the cloud's peak since its counters were last reset.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster that runs the pipeline.
    image, url, threshold, endpoint
        The image, the labels' destination, the threshold and the S3 endpoint of ``url``.
    cloud : Cloud, optional
        The local cloud serving the image, to count requests, bytes and CPU.
    channel, min_size, planes_per_task : optional
        As for :func:`segment_to_zarr`.

    Returns
    -------
    Run
        The time, the cluster size and (with ``cloud``) what the run cost.

    Examples
    --------
    >>> run_pipeline(client, image, url, threshold, cloud.endpoint, cloud).seconds  # doctest: +SKIP
    """
    before = cloud.status() if cloud is not None else None
    cpu_before = cpu_seconds(client, cloud) if cloud is not None else {}
    start = time.perf_counter()
    job = segment_to_zarr(
        image, url, threshold, channel, 0, min_size, planes_per_task, endpoint, compute=False
    )
    client.compute(job, sync=True)
    seconds = time.perf_counter() - start
    threads = client.nthreads()
    run = Run(seconds, len(threads), sum(threads.values()))
    if cloud is not None and before is not None:
        after = cloud.status()
        methods = set(after.requests_by_method) | set(before.requests_by_method)
        run.requests_by_method = {
            m: after.requests_by_method.get(m, 0) - before.requests_by_method.get(m, 0)
            for m in sorted(methods)
        }
        run.bytes_sent = int(after.bytes_sent - before.bytes_sent)
        run.max_in_flight = int(after.max_in_flight)
        cpu_after = cpu_seconds(client, cloud)
        run.cpu_s = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    return run


def _process_cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (default: this one)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def cpu_seconds(client: Client, cloud: Cloud | None = None) -> dict[str, float]:
    """CPU seconds used so far by ``client``'s workers (summed), this process and ``cloud``.

    The cloud (its proxy and the moto server it started) is only counted if this Python started
    it (``cloud.process``): a shared cloud's CPU is not this run's alone.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    cloud : Cloud, optional
        The local cloud, counted when this Python started it.

    Returns
    -------
    dict
        ``{"workers": s, "client": s}`` and ``"cloud"`` when counted.
    """
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
    min_size: int = DEFAULT_MIN_SIZE,
    planes_per_task: int = PLANES_PER_TASK,
) -> float:
    """Seconds the same pipeline takes on ``client``'s cluster without a network.

    ``local_image`` is a local copy of the image (files already in the page cache, i.e. in
    memory): decoding, thresholding, hole filling, labelling, encoding and writing (into
    ``out_dir``) all happen as in a remote run; only the requests are gone.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    local_image, threshold : OmeImage, float
        The image opened from local files, and the threshold.
    out_dir : str or os.PathLike
        A local folder for the labels.
    channel, min_size, planes_per_task : optional
        As for :func:`run_pipeline`.

    Returns
    -------
    float
        Seconds of the run.

    Examples
    --------
    >>> compute_limit(client, local_image, threshold, "/tmp")  # doctest: +SKIP
    """
    url = os.path.join(os.fspath(out_dir), f"compute-limit-{uuid.uuid4().hex[:8]}.zarr")
    start = time.perf_counter()
    job = segment_to_zarr(
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
    planes_per_task: int = PLANES_PER_TASK,
) -> Limits:
    """The :class:`Limits` of ``run`` on ``client``'s cluster (requests and bytes as counted).

    Parameters
    ----------
    run, client : Run, distributed.Client
        A run measured with a cloud (see :func:`run_pipeline`), and the cluster that ran it.
    latency_s, bandwidth_mbps : float, float or None
        Latency of every request (seconds) and the link's cap (Mbit/s; None: no cap).
    compute_s : float
        The in-memory time (see :func:`compute_limit`).
    planes_per_task : int, optional
        As for :func:`run_pipeline`.

    Returns
    -------
    Limits
        The three lower bounds of that run.

    Examples
    --------
    >>> limits_of(run, client, 0.1, None, compute_s).largest  # doctest: +SKIP
    ('request-bound', 0.5)
    """
    return Limits(
        latency_s=latency_s,
        requests=run.reads + run.writes,
        in_flight=requests_in_flight(client, planes_per_task),
        bytes_sent=run.bytes_sent,
        bandwidth_mbps=bandwidth_mbps,
        compute_s=compute_s,
    )


def scratch_url(cloud: Cloud, name: str) -> str:
    """A fresh ``s3://course-scratch/...`` URL for one run's output.

    Parameters
    ----------
    cloud : Cloud
        The local cloud.
    name : str
        Start of the object's name.

    Returns
    -------
    str
        ``s3://<scratch bucket>/runs/<name>-<random>.zarr``.
    """
    return cloud.s3_url(f"runs/{name}-{uuid.uuid4().hex[:8]}.zarr", bucket=cloud.scratch_bucket)
