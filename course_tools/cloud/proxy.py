"""The latency proxy: the one part of the local cloud the course writes itself, and its only door.

moto's S3 server holds the buckets but answers at loopback speed, closes every connection and takes
only requests carrying this run's secret header (see ``backend.py``). This asyncio proxy sits in front
of it and makes it behave like a remote object store:

* every request waits until ``latency`` has passed since it arrived before its answer's first byte
  leaves (the wait overlaps with moto's own work, as a real round trip would);
* an optional bandwidth cap is shared by all connections (one "link");
* client connections are kept alive (HTTP/1.1), and every answer has CORS headers (``cors.py``);
* every request passes the door rules of ``guard.py`` first (path-style paths of the buckets, no
  ``..`` or encoded tricks, the public bucket read-only), on the raw path, which is forwarded unchanged;
* requests to the private bucket (if any) must then be signed with a course key that may make them
  (AWS Signature V4, checked by ``auth.py`` on the request as the client sent it, ``Host`` included);
* faults (``faults.py``) strike GETs of object keys: delays, 503 SlowDown, 404, resets, truncated and
  stalled bodies, or the whole endpoint going down;
* requests, refusals and bytes are counted, byte-range GETs (``Range`` header) and their bytes also
  apart, and ``/_cloud/...`` control paths report and change all this.

Other checks can slot in through :attr:`LatencyProxy.request_hooks`: each hook may answer a request
itself instead of forwarding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from course_tools.cloud import cors
from course_tools.cloud.auth import SignatureCheck
from course_tools.cloud.conditions import NetworkConditions
from course_tools.cloud.faults import ActiveFault, FaultSet, make_fault
from course_tools.cloud.guard import Guard, Refused
from course_tools.config import UPSTREAM_READ_TIMEOUT_S
from course_tools.session import memory_warning
from helpers.fetch import CONNECT_TIMEOUT_S

__all__ = ["CONTROL_PREFIX", "SECRET_HEADER", "LatencyProxy", "RequestHook"]

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_cloud/"
SECRET_HEADER = "X-Course-Cloud-Secret"
"""Header carrying the per-run secret without which the backend refuses a request."""
NOT_FORWARDED = {
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
    "host",  # the backend sees its own address: no bucket named in the Host header
    SECRET_HEADER.lower(),
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
}
BODY = "course_cloud.body"
"""Where :func:`_body` keeps a request's body (the request's own per-request storage)."""
STREAM_BLOCK = 256 * 1024
FLUSH_BEFORE_RESET_S = 0.02
"""A reset fault waits this long after the partial body so it reaches the client before the RST."""

RequestHook = Callable[[web.BaseRequest], Awaitable[web.StreamResponse | None]]
"""A coroutine that may answer a request itself (return a response) or let it through (``None``)."""


class LatencyProxy:
    """An HTTP proxy in front of an S3 server, imposing :class:`NetworkConditions`, rules and faults."""

    def __init__(
        self,
        upstream: str,
        conditions: NetworkConditions,
        public_bucket: str,
        scratch_bucket: str,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: str = "",
        faults: Iterable[ActiveFault] = (),
        private_bucket: str = "",
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.conditions = conditions
        self.public_bucket = public_bucket
        self.scratch_bucket = scratch_bucket
        self.host = host
        self.port = port
        self.secret = secret
        self.private_bucket = private_bucket
        self.guard = Guard(public_bucket, scratch_bucket, host, port, private_bucket)
        self.signatures = SignatureCheck(private_bucket) if private_bucket else None
        self.faults = FaultSet()
        self._initial_faults = list(faults)
        self.request_hooks: list[RequestHook] = [cors.preflight_hook(conditions)]
        self.requests_by_method: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.bytes_sent = 0
        self.range_requests = 0
        self.range_bytes = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._link_free_at = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None
        self._site: web.TCPSite | None = None
        self._outage: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        """The URL clients use, e.g. ``http://127.0.0.1:9000``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening (on an ephemeral port when ``port`` is 0); ``OSError`` if the port is taken."""
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=UPSTREAM_READ_TIMEOUT_S
            ),
        )
        server = web.Server(cors.with_cors(self._handle), access_log=None)  # CORS on every answer
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        await self._listen()
        self.port = self._runner.addresses[0][1]  # the real port when 0 was asked
        self.guard.port = self.port
        for fault in self._initial_faults:
            self.add_fault(fault)

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(
            self._runner, self.host, self.port, backlog=1024, reuse_address=True
        )
        await self._site.start()

    async def stop(self) -> None:
        """Stop listening and close the connections to the store."""
        if self._outage is not None:
            self._outage.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # -- faults --------------------------------------------------------------------------------
    def add_fault(self, fault: ActiveFault) -> ActiveFault:
        """Add a fault (a ``down`` fault with ``mode="refuse"`` stops listening for its duration)."""
        self.faults.add(fault)
        log.info("fault %s (%s) added", fault.name, fault.kind)
        if fault.kind == "down" and fault.params["mode"] == "refuse" and self._outage is None:
            self._outage = asyncio.get_running_loop().create_task(self._refuse(fault))
        return fault

    async def _refuse(self, fault: ActiveFault) -> None:
        try:
            if self._site is not None:
                await self._site.stop()
            await asyncio.sleep(fault.ends_in_s)
            await self._listen()
        finally:
            self._outage = None

    # -- bookkeeping ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Settings and counters, as returned by ``GET /_cloud/status``."""
        return {
            "endpoint": self.endpoint,
            "public_bucket": self.public_bucket,
            "scratch_bucket": self.scratch_bucket,
            "private_bucket": self.private_bucket,
            **self.conditions.as_dict(),
            "requests": sum(self.requests_by_method.values()),
            "requests_by_method": dict(self.requests_by_method),
            "bytes_sent": self.bytes_sent,
            "range_requests": self.range_requests,
            "range_bytes": self.range_bytes,
            "max_in_flight": self.max_in_flight,
            "refused": dict(self.refused),
            "faults": [fault.as_dict() for fault in self.faults.list()],
        }

    def reset_stats(self) -> None:
        """Zero the request, range, refusal and byte counters, and the faults' (faults stay)."""
        self.requests_by_method.clear()
        self.refused.clear()
        self.bytes_sent = self.range_requests = self.range_bytes = 0
        self.max_in_flight = self.in_flight
        self.faults.reset_counters()

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
        raw_path = request.raw_path
        if raw_path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        arrived = time.monotonic()
        latency = self.conditions.sample_latency_s()
        self.requests_by_method[request.method] += 1
        self.range_requests += _ranged(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if len(self.faults) and self.faults.down() is not None:
                _drop(request, reset=True)  # the endpoint is down: no answer at all
                return web.Response()
            try:
                method = cors.judged_method(request)  # a CORS preflight: the method it announces
                target = self.guard.check(method, raw_path, request.headers.get("Host"))
                if self.signatures is not None and target.bucket == self.private_bucket:
                    if method == request.method:  # not a preflight: browsers send those unsigned
                        body = await _body(request)
                        self.signatures.check(request.method, raw_path, request.headers, body)
            except Refused as refusal:
                self.refused[refusal.code] += 1
                log.info("refused %s %s: %s", request.method, raw_path[:200], refusal.message)
                await _sleep_until(arrived + latency)
                return _s3_error(refusal.status, refusal.code, refusal.message)
            for hook in self.request_hooks:
                answer = await hook(request)
                if answer is not None:
                    return answer
            plan = self.faults.plan(request.method, target.key)
            release_at = arrived + latency + plan.delay_s
            fault = plan.answer
            if fault is not None and fault.kind in ("slowdown", "not_found"):
                await _sleep_until(release_at)
                return _fault_answer(fault, target.key)
            return await self._forward(request, raw_path, release_at, fault)
        finally:
            self.in_flight -= 1

    async def _forward(
        self, request: web.BaseRequest, raw_path: str, release_at: float, fault: ActiveFault | None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = CIMultiDict(
            (k, v)
            for k, v in request.headers.items()
            if k.lower().replace("_", "-") not in NOT_FORWARDED  # moto reads X_A as X-A
        )
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            # moto's server tries to parse such bodies as forms and stalls; S3 stores any bytes.
            headers["Content-Type"] = "application/octet-stream"
        body = await _body(request)
        url = URL(self.upstream + raw_path, encoded=True)  # exactly the path the guard checked
        async with self._session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            content = await upstream.read() if fault is not None else None
            await _sleep_until(release_at)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in NOT_FORWARDED:
                    response.headers.add(name, value)
            length = upstream.headers.get("Content-Length")
            if content is not None:
                response.content_length = len(content)
            elif length is not None:
                response.content_length = int(length)
            cors.add_cors_headers(response.headers)
            await response.prepare(request)
            if request.method == "HEAD":
                pass
            elif fault is not None and content is not None:
                await self._spoil(request, response, fault, content)
                return response
            else:
                async for block in upstream.content.iter_chunked(STREAM_BLOCK):
                    await self._send(response, block, _ranged(request))
            await response.write_eof()
        return response

    async def _send(self, response: web.StreamResponse, block: bytes, ranged: bool) -> None:
        await self._throttle(len(block))
        await response.write(block)
        self.bytes_sent += len(block)
        self.range_bytes += len(block) if ranged else 0

    async def _spoil(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        fault: ActiveFault,
        content: bytes,
    ) -> None:
        """Act out a body fault once the headers are sent: stall, or cut the body and drop."""
        if fault.kind == "stall":
            end = time.monotonic() + float(fault.params["max_s"])
            while time.monotonic() < end and not _closed(request):
                await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))
            _drop(request, reset=True)
            return
        cut = int(len(content) * float(fault.params["fraction"]))
        for start in range(0, cut, STREAM_BLOCK):
            block = content[start : min(cut, start + STREAM_BLOCK)]
            await self._send(response, block, _ranged(request))
        if fault.kind == "reset":
            await asyncio.sleep(FLUSH_BEFORE_RESET_S)
        _drop(request, reset=fault.kind == "reset")

    # -- control paths -------------------------------------------------------------------------
    async def _control(self, request: web.BaseRequest) -> web.StreamResponse:
        action = request.path[len(CONTROL_PREFIX) :]
        method = request.method
        if not self.guard.host_allowed(request.headers.get("Host")):
            return web.json_response(
                {"error": "Host header does not name this endpoint"}, status=400
            )
        try:
            if action == "status" and method == "GET":
                pass
            elif action == "conditions" and method in ("PUT", "POST"):
                self.conditions.update(**(await request.json()))
            elif action == "memory" and method == "GET":  # what ensure_cloud warns of
                kernel = int(request.query.get("pid", "0")) or None
                warning = await asyncio.to_thread(memory_warning, None, kernel)
                return web.json_response({"warning": warning})
            elif action == "reset" and method == "POST":
                self.reset_stats()
            elif action == "faults" and method == "GET":
                return web.json_response({"faults": [f.as_dict() for f in self.faults.list()]})
            elif action == "faults" and method == "POST":
                settings = await request.json()
                if not isinstance(settings, dict) or "kind" not in settings:
                    raise ValueError('POST /_cloud/faults needs a JSON object with a "kind"')
                return web.json_response(self.add_fault(make_fault(**settings)).as_dict())
            elif action == "faults" and method == "DELETE":
                self.faults.clear()
                return web.json_response({"faults": []})
            elif action.startswith("faults/") and method == "DELETE":
                removed = self.faults.remove(action[len("faults/") :])
                return web.json_response(removed.as_dict())
            else:
                return web.json_response(
                    {"error": f"unknown control {method} {action}"}, status=404
                )
        except (ValueError, TypeError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(self.status())


async def _body(request: web.BaseRequest) -> bytes | None:
    """The request's body (no 1 MB cap), read once, after a ``100 Continue`` if the client asked.

    The signature check reads it first (a signed body hash), the forwarding then reuses it.
    """
    if not request.body_exists:
        return None
    if BODY not in request:
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request[BODY] = await request.content.read()
    body: bytes = request[BODY]
    return body


def _ranged(request: web.BaseRequest) -> bool:
    """Whether ``request`` is a GET of a byte range (counted in ``range_requests``)."""
    return request.method == "GET" and "Range" in request.headers


def _closed(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _drop(request: web.BaseRequest, reset: bool) -> None:
    """Close the client's connection at once: with a reset (RST), or cleanly (FIN)."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _fault_answer(fault: ActiveFault, key: str) -> web.Response:
    if fault.kind == "slowdown":
        answer = _s3_error(503, "SlowDown", "Please reduce your request rate.")
        answer.headers["Retry-After"] = str(fault.params["retry_after_s"])
        return answer
    return _s3_error(404, "NoSuchKey", "The specified key does not exist.", key=key)


def _s3_error(status: int, code: str, message: str, key: str | None = None) -> web.Response:
    extra = "" if key is None else f"<Key>{escape(key)}</Key>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
