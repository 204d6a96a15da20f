"""The latency proxy: the one part of the local cloud the course writes itself.

moto's S3 server holds the buckets but answers at loopback speed and closes every connection.
This asyncio proxy sits in front of it and makes it behave like a remote object store:

* every request waits until ``latency`` has passed since it arrived before its answer's first byte
  leaves (the wait overlaps with moto's own work, as a real round trip would);
* an optional bandwidth cap is shared by all connections (one "link");
* client connections are kept alive (HTTP/1.1), as real object stores do;
* the public bucket is read-only: PUT, POST and DELETE there get S3's ``403 AccessDenied``;
* requests and bytes are counted, and ``/_cloud/...`` control paths report and change all this.

Fault injection (the course's next step) slots in through :attr:`LatencyProxy.request_hooks`: each hook may answer a
request itself (a 503, a reset, a 404...) instead of forwarding it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ..config import CONNECT_TIMEOUT_S, UPSTREAM_READ_TIMEOUT_S
from .conditions import NetworkConditions

__all__ = ["CONTROL_PREFIX", "LatencyProxy", "RequestHook"]

CONTROL_PREFIX = "/_cloud/"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
}
WRITE_METHODS = {"PUT", "POST", "DELETE", "PATCH"}
STREAM_BLOCK = 256 * 1024

RequestHook = Callable[[web.BaseRequest], Awaitable[web.StreamResponse | None]]
"""A coroutine that may answer a request itself (return a response) or let it through (``None``)."""


class LatencyProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3 server, imposing :class:`NetworkConditions`."""

    def __init__(
        self,
        upstream: str,
        conditions: NetworkConditions,
        public_bucket: str,
        scratch_bucket: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.conditions = conditions
        self.public_bucket = public_bucket
        self.scratch_bucket = scratch_bucket
        self.host = host
        self.port = port
        self.request_hooks: list[RequestHook] = []
        self.requests_by_method: Counter[str] = Counter()
        self.bytes_sent = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._link_free_at = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None

    @property
    def endpoint(self) -> str:
        """The URL clients use, e.g. ``http://127.0.0.1:9000``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening (on an ephemeral port when ``port`` is 0)."""
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=UPSTREAM_READ_TIMEOUT_S
            ),
        )
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the real port when 0 was asked

    async def stop(self) -> None:
        """Stop listening and close the connections to the store."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # -- bookkeeping ---------------------------------------------------------------------------
    def status(self) -> dict:
        """Settings and counters, as returned by ``GET /_cloud/status``."""
        return {
            "endpoint": self.endpoint,
            "public_bucket": self.public_bucket,
            "scratch_bucket": self.scratch_bucket,
            **self.conditions.as_dict(),
            "requests": sum(self.requests_by_method.values()),
            "requests_by_method": dict(self.requests_by_method),
            "bytes_sent": self.bytes_sent,
            "max_in_flight": self.max_in_flight,
        }

    def reset_stats(self) -> None:
        """Zero the request and byte counters."""
        self.requests_by_method.clear()
        self.bytes_sent = 0
        self.max_in_flight = self.in_flight

    async def _throttle(self, nbytes: int) -> None:
        """Wait until the shared link has carried ``nbytes`` at the bandwidth cap."""
        rate = self.conditions.bytes_per_second
        if rate is None:
            return
        now = time.monotonic()
        self._link_free_at = max(now, self._link_free_at) + nbytes / rate
        delay = self._link_free_at - now
        if delay > 0:
            await asyncio.sleep(delay)

    # -- request handling ----------------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        arrived = time.monotonic()
        latency = self.conditions.sample_latency_s()
        self.requests_by_method[request.method] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for hook in self.request_hooks:
                answer = await hook(request)
                if answer is not None:
                    return answer
            if request.method in WRITE_METHODS and self._bucket_of(request) == self.public_bucket:
                await _sleep_until(arrived + latency)
                return _s3_error(403, "AccessDenied", f"bucket {self.public_bucket} is read-only")
            return await self._forward(request, arrived + latency)
        finally:
            self.in_flight -= 1

    @staticmethod
    def _bucket_of(request: web.BaseRequest) -> str:
        return request.path.lstrip("/").split("/", 1)[0]

    async def _forward(self, request: web.BaseRequest, release_at: float) -> web.StreamResponse:
        assert self._session is not None
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            # moto's server tries to parse such bodies as forms and stalls; S3 stores any bytes.
            headers["Content-Type"] = "application/octet-stream"
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await request.content.read() if request.body_exists else None  # no 1 MB cap
        url = self.upstream + str(request.rel_url)
        async with self._session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            await _sleep_until(release_at)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            length = upstream.headers.get("Content-Length")
            if length is not None:
                response.content_length = int(length)
            await response.prepare(request)
            if request.method != "HEAD":
                async for block in upstream.content.iter_chunked(STREAM_BLOCK):
                    await self._throttle(len(block))
                    await response.write(block)
                    self.bytes_sent += len(block)
            await response.write_eof()
        return response

    async def _control(self, request: web.BaseRequest) -> web.StreamResponse:
        action = request.path[len(CONTROL_PREFIX) :]
        try:
            if action == "status" and request.method == "GET":
                pass
            elif action == "conditions" and request.method in ("PUT", "POST"):
                self.conditions.update(**(await request.json()))
            elif action == "reset" and request.method == "POST":
                self.reset_stats()
            else:
                return web.json_response(
                    {"error": f"unknown control {request.method} {action}"}, status=404
                )
        except (ValueError, TypeError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(self.status())


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
