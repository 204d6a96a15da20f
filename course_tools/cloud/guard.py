"""The local cloud's door rules: which requests the proxy lets through to the object store.

The proxy decides on the request *as sent* (the raw, still percent-encoded path), before anything
resolves it, and forwards exactly the path it checked. A request is refused unless:

* its ``Host`` header names this endpoint (``127.0.0.1:PORT``, ``localhost:PORT``, or the address it
  was told to bind): no virtual-host-style bucket names;
* its path is ``/`` (list buckets: GET or HEAD only) or ``/<bucket>[/<key>]`` for one of the buckets
  (public, scratch and, if there is one, private), with no ``.`` or ``..`` segment (also
  percent-encoded, also twice), no ``//``, no backslash, no encoded slash or backslash and no control
  character;
* it reads (GET, HEAD), or it writes (PUT, POST, DELETE) an object of the scratch (or private) bucket,
  or deletes several of them (``POST /<scratch>?delete``). The public bucket refuses every other
  method, however it is spelled; buckets themselves cannot be created, deleted or changed.

The private bucket's requests must also be signed by a course key that may make them; ``auth.py``
checks that after these rules.

Refusals are :class:`Refused` errors carrying S3's status and code (``403 AccessDenied`` or
``400 InvalidRequest``) and one line saying what is wrong.

Examples
--------
>>> guard = Guard("course-data", "course-scratch", "127.0.0.1", 9000)
>>> guard.check("GET", "/course-data/a/zarr.json?x=1", "127.0.0.1:9000")
Target(bucket='course-data', key='a/zarr.json')
>>> guard.check("PUT", "/course-scratch/%2e%2e/course-data/K", "127.0.0.1:9000")
Traceback (most recent call last):
...
course_tools.cloud.guard.Refused: 400 InvalidRequest: path segments '.' and '..' are not allowed
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["READ_METHODS", "Guard", "Refused", "Target"]

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


class Refused(Exception):
    """A request the proxy will not forward, with the S3 error to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """What a request that passed the rules addresses: a bucket ('' = the root) and a key ('' = none)."""

    bucket: str
    key: str


def _bad(message: str) -> Refused:
    return Refused(400, "InvalidRequest", message)


def _denied(message: str) -> Refused:
    return Refused(403, "AccessDenied", message)


def _decoded(segment: str) -> str:
    """``segment`` percent-decoded until nothing changes (so ``%252e`` counts as ``.``)."""
    for _ in range(4):
        plain = unquote(segment)
        if plain == segment:
            return plain
        segment = plain
    return segment


class Guard:
    """The rules for one endpoint: its buckets and the address clients reach it by."""

    def __init__(
        self,
        public_bucket: str,
        scratch_bucket: str,
        host: str,
        port: int,
        private_bucket: str = "",
    ) -> None:
        self.public_bucket = public_bucket
        self.scratch_bucket = scratch_bucket
        self.private_bucket = private_bucket
        self.host = host
        self.port = port

    def host_allowed(self, host: str | None) -> bool:
        """Whether a ``Host`` header names this endpoint (absent: HTTP/1.0, allowed)."""
        if host is None:
            return True
        name, sep, port = host.strip().lower().rpartition(":")
        if not sep or port != str(self.port):
            return False
        name = name.strip("[]")
        if name in {"127.0.0.1", "localhost", "::1", self.host.lower()}:
            return True
        if self.host in WILDCARD_HOSTS:  # bound to every address: any address literal, no names
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    def check(self, method: str, raw_path: str, host: str | None) -> Target:
        """Apply the rules to one request; return its :class:`Target` or raise :class:`Refused`.

        Parameters
        ----------
        method : str
            The HTTP method exactly as sent.
        raw_path : str
            The request target as sent (percent-encoded path, optional ``?query``).
        host : str or None
            The ``Host`` header.

        Returns
        -------
        Target
            The bucket and key the request addresses.

        Raises
        ------
        Refused
            With the status, S3 error code and message to answer.
        """
        where = f"{self.host}:{self.port}"
        if not self.host_allowed(host):
            raise _bad(
                f"Host {host!r} is not this endpoint ({where}): use path-style URLs "
                f"http://{where}/BUCKET/KEY"
            )
        path, _, query = raw_path.partition("?")
        target = self._target(path)
        if target.bucket == "":
            if method not in READ_METHODS:
                raise _denied(f"{method} / refused: the endpoint's root only lists the buckets")
            return target
        if method in READ_METHODS:
            return target
        if target.bucket == self.public_bucket:
            raise _denied(
                f"bucket {self.public_bucket} is read-only ({method} refused); "
                f"write to {self.scratch_bucket}"
            )
        if method not in WRITE_METHODS:
            raise _bad(f"method {method!r} is not supported (use GET, HEAD, PUT, POST or DELETE)")
        if not target.key and not (method == "POST" and _has_param(query, "delete")):
            raise _denied(
                f"{method} on the bucket {target.bucket} itself is refused: "
                "buckets cannot be created, deleted or changed, only their objects"
            )
        return target

    def _target(self, path: str) -> Target:
        if not path.startswith("/"):
            raise _bad(f"request target {path[:80]!r} is not a path starting with '/'")
        if "\\" in path or ENCODED_SEPARATOR.search(path):
            raise _bad(
                "backslashes and percent-encoded slashes (%2F, %5C) are not allowed in paths"
            )
        if "//" in path:
            raise _bad("empty path segments ('//') are not allowed")
        if path == "/":
            return Target("", "")
        segments = [_decoded(s) for s in path[1:].split("/")]
        if any(s in (".", "..") for s in segments):
            raise _bad("path segments '.' and '..' are not allowed")
        if any("/" in s or "\\" in s or CONTROL_CHARS.search(s) for s in segments):
            raise _bad(
                "encoded slashes, backslashes and control characters are not allowed in paths"
            )
        bucket = segments[0]
        served = [b for b in (self.public_bucket, self.scratch_bucket, self.private_bucket) if b]
        if bucket not in served:
            raise _denied(
                f"/{bucket[:60]} is not served here: only the buckets "
                + ", ".join(f"/{b}/..." for b in served)
                + " are"
            )
        return Target(bucket, unquote("/".join(path[1:].split("/")[1:])))


def _has_param(query: str, name: str) -> bool:
    return any(part.partition("=")[0] == name for part in query.split("&"))
