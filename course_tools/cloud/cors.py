"""CORS for the local cloud: browser viewers (Neuroglancer, vizarr) may read it from any web page.

A page served from one origin (say Neuroglancer on ``http://127.0.0.1:8080``) may read answers from
another (the cloud on ``http://127.0.0.1:9000``) only when these say so with CORS headers. The
latency proxy therefore puts them on **every** answer it gives, errors, 404s and refusals included
(a browser hides an answer without them, so a viewer would only say "network error"):

* ``Access-Control-Allow-Origin: *`` -- the data is public and anonymous, no cookies are involved;
* ``Access-Control-Expose-Headers`` -- lets page scripts read ``Content-Range`` (which bytes of a
  shard came back), ``Content-Length``, ``ETag``, ``Accept-Ranges``, ``Last-Modified`` and
  ``Retry-After``.

Before a request a page may not send on its own (a write, or a header beyond the few always allowed:
one byte range such as ``Range: bytes=0-99`` is allowed in current browsers, so Chromium reads shards
without asking; ``If-None-Match`` or several ranges are not), the browser asks first with a
*preflight*: ``OPTIONS`` naming the method and headers it wants to send
(``Access-Control-Request-Method``, ``Access-Control-Request-Headers``). The proxy
answers preflights itself, never forwarding them: the door rules (``guard.py``) judge a preflight
as the request it announces (so a preflight for a GET of the public bucket passes, one for a PUT
is refused like the PUT would be: the public bucket stays read-only), then :func:`preflight_hook`
answers ``204`` with the allowed methods and headers and how long the browser may reuse the answer.
A plain ``OPTIONS`` (no ``Access-Control-Request-Method``) is not a preflight and is judged as
itself (refused). A preflight costs one round trip, like any request: it waits for the latency.

Examples
--------
>>> from multidict import CIMultiDict
>>> headers = CIMultiDict()
>>> add_cors_headers(headers)
>>> headers["Access-Control-Allow-Origin"]
'*'
>>> "Content-Range" in headers["Access-Control-Expose-Headers"]
True
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

from course_tools.cloud.conditions import NetworkConditions
from course_tools.cloud.guard import READ_METHODS
from course_tools.config import CORS_MAX_AGE_S

__all__ = [
    "ALLOWED_HEADERS",
    "EXPOSED_HEADERS",
    "PREFLIGHT_MAX_AGE_S",
    "add_cors_headers",
    "judged_method",
    "preflight_hook",
    "with_cors",
]

EXPOSED_HEADERS = (
    "Content-Range",
    "Content-Length",
    "ETag",
    "Accept-Ranges",
    "Last-Modified",
    "Retry-After",
)
"""Answer headers page scripts may read (beyond the few browsers always show)."""
ALLOWED_HEADERS = (
    "Range",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "Cache-Control",
    "Content-Type",
    "Content-MD5",
    "X-Amz-Content-Sha256",
    "X-Amz-Date",
    "X-Amz-User-Agent",
    "Authorization",
)
"""Request headers a page may send (what readers of Zarr send, plus an S3 client's, signed too)."""
PREFLIGHT_MAX_AGE_S = CORS_MAX_AGE_S
"""How long a browser may reuse a preflight's answer (Chromium caps it at 2 h, per URL)."""
MAX_ANNOUNCED = 32
"""Longest ``Access-Control-Request-Method`` judged as a method (longer ones: judged as OPTIONS)."""

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def add_cors_headers(headers: MutableMapping[str, str]) -> None:
    """Set the CORS headers every answer carries (replacing any the store sent).

    Parameters
    ----------
    headers : MutableMapping
        The headers of an answer not yet sent (``response.headers``).
    """
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)


def with_cors(handler: Handler) -> Handler:
    """``handler``, with the CORS headers added to each answer it returns unsent.

    Answers a handler sends itself (streamed bodies) must get them before it prepares them
    (:func:`add_cors_headers`); those already sent are left alone.

    Examples
    --------
    >>> async def hello(request):
    ...     return web.Response(text="hi")
    >>> from aiohttp.test_utils import make_mocked_request
    >>> answer = asyncio.run(with_cors(hello)(make_mocked_request("GET", "/")))
    >>> answer.headers["Access-Control-Allow-Origin"]
    '*'
    """

    async def answer(request: web.BaseRequest) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared:
            add_cors_headers(response.headers)
        return response

    return answer


def judged_method(request: web.BaseRequest) -> str:
    """The method the door rules judge: a preflight's announced method, else the request's own.

    Examples
    --------
    >>> from aiohttp.test_utils import make_mocked_request
    >>> judged_method(make_mocked_request("OPTIONS", "/b/k", {"Access-Control-Request-Method": "GET"}))
    'GET'
    >>> judged_method(make_mocked_request("OPTIONS", "/b/k"))  # not a preflight
    'OPTIONS'
    """
    announced = _announced(request)
    return announced if announced else request.method


def _announced(request: web.BaseRequest) -> str:
    if request.method != "OPTIONS":
        return ""
    announced = request.headers.get("Access-Control-Request-Method", "").strip()
    return announced if len(announced) <= MAX_ANNOUNCED else ""


def preflight_hook(
    conditions: NetworkConditions,
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse | None]]:
    """A request hook of the latency proxy that answers CORS preflights itself.

    It runs after the door rules have passed the method the preflight announces (see
    :func:`judged_method`), waits one latency, and answers ``204 No Content`` allowing GET and HEAD
    (and the announced method: a write the rules allow, in the scratch bucket), the headers of
    :data:`ALLOWED_HEADERS`, and reuse of the answer for ``PREFLIGHT_MAX_AGE_S`` (and, when asked,
    reads from a public page: ``Access-Control-Allow-Private-Network``). Other requests pass.

    Parameters
    ----------
    conditions : NetworkConditions
        The proxy's conditions (a preflight waits for their latency, like any request).

    Returns
    -------
    callable
        A coroutine function: a request -> its answer, or ``None`` to let it through.
    """

    async def answer_preflight(request: web.BaseRequest) -> web.StreamResponse | None:
        announced = _announced(request)
        if not announced:
            return None
        await asyncio.sleep(conditions.sample_latency_s())
        methods = [*sorted(READ_METHODS), *([] if announced in READ_METHODS else [announced])]
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(int(PREFLIGHT_MAX_AGE_S))
        if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            # Chromium asks before a public page reads 127.0.0.1 (Private Network Access)
            response.headers["Access-Control-Allow-Private-Network"] = "true"
        return response

    return answer_preflight
