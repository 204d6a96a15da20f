"""The private bucket's signature check: AWS Signature V4, recomputed with botocore's own signer.

Every request to the private bucket must be signed with one of the course's key pairs
(:data:`helpers.cloud.READER_KEY`, :data:`helpers.cloud.WRITER_KEY`), either in an
``Authorization: AWS4-HMAC-SHA256 ...`` header (what s3fs, aiobotocore and boto3 send) or in the
query string of a presigned URL (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``). The latency proxy calls
:meth:`SignatureCheck.check` after the door rules (``guard.py``) and before it forwards anything:

* no signature: ``403 AccessDenied``; an unknown access key: ``403 InvalidAccessKeyId``;
* a signature that is not the one the key's secret gives for this request (wrong secret, or a
  changed method, path, query, signed header or body): ``403 SignatureDoesNotMatch``; a body whose
  SHA-256 is not the ``x-amz-content-sha256`` the request signed is refused the same way (S3 says
  ``400 XAmzContentSHA256Mismatch``; here a changed body is one more way not to match);
* a presigned URL past ``X-Amz-Date + X-Amz-Expires``: ``403 AccessDenied``, "Request has expired";
  a header-signed request dated more than 15 minutes away from now: ``403 RequestTimeTooSkewed``;
* the read-only key writing (PUT, POST, DELETE): ``403 AccessDenied``; the read-write key may do
  everything the door rules allow.

Why botocore's signer, and not moto's authentication or code of our own: the signature is what the
client computed over the request *it sent*, with the ``Host`` it used; the proxy drops ``Host`` before
forwarding (moto sees its own address), so moto could not verify it, and moto's authentication would
also apply to the two anonymous buckets and needs its IAM backend filled with these keys. Writing
the canonical request, the key derivation and the HMACs by hand would be a second implementation of
SigV4 to get subtly wrong. botocore's :class:`~botocore.auth.S3SigV4Auth` (header) and
:class:`~botocore.auth.S3SigV4QueryAuth` (presigned) are the code that signs the clients' requests:
fed the received request (signed headers, raw path, query without the signature) and its claimed
timestamp, their public ``canonical_request``, ``string_to_sign`` and ``signature`` methods give the
signature the key's secret makes, compared with :func:`hmac.compare_digest`. Only the parsing of
the ``Authorization`` header and of the query is ours.

Examples
--------
>>> check = SignatureCheck("course-private")
>>> check.check("GET", "/course-private/a.txt", {"Host": "127.0.0.1:9000"}, b"")
Traceback (most recent call last):
...
course_tools.cloud.guard.Refused: 403 AccessDenied: bucket course-private is private: sign requests ...
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from course_tools.cloud.guard import Refused
from helpers.cloud import PRIVATE_REGION, READER_KEY, WRITER_KEY

__all__ = ["ALGORITHM", "COURSE_KEYS", "MAX_SKEW_S", "CourseKey", "SignatureCheck"]

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
"""How far a header-signed request's ``X-Amz-Date`` may be from now (S3's limit)."""
MAX_EXPIRES_S = 7 * 24 * 3600
"""Longest ``X-Amz-Expires`` of a presigned URL (S3's limit: 7 days)."""
UNSIGNED_BODIES = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
"""``x-amz-content-sha256`` values that leave the body out of the signature."""
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
TIMESTAMP = "%Y%m%dT%H%M%SZ"
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=(\S+)$"
)


@dataclass(frozen=True)
class CourseKey:
    """One key pair's secret and whether it may write."""

    secret: str
    may_write: bool


COURSE_KEYS: dict[str, CourseKey] = {
    READER_KEY[0]: CourseKey(READER_KEY[1], may_write=False),
    WRITER_KEY[0]: CourseKey(WRITER_KEY[1], may_write=True),
}
"""The access keys the private bucket knows."""


@dataclass(frozen=True)
class _Claim:
    """What a request says about its signature, before it is checked."""

    access_key: str
    scope: list[str]  # date, region, service, "aws4_request"
    timestamp: str
    signed_headers: list[str]
    signature: str
    presigned: bool
    expires_s: int = 0


def _denied(code: str, message: str) -> Refused:
    return Refused(403, code, message)


def _bad(code: str, message: str) -> Refused:
    return Refused(400, code, message)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, percent-decoded (``+`` is kept: S3 does not read it as space)."""
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


class SignatureCheck:
    """The signature rules of one private bucket.

    Parameters
    ----------
    bucket : str
        The private bucket's name (for the messages).
    keys : Mapping[str, CourseKey]
        Access key -> its secret and rights (default: :data:`COURSE_KEYS`).
    region : str
        The region requests must be signed for.
    clock : callable
        Seconds since the epoch (``time.time``; the tests may turn it).
    """

    def __init__(
        self,
        bucket: str,
        keys: Mapping[str, CourseKey] = COURSE_KEYS,
        region: str = PRIVATE_REGION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.keys = dict(keys)
        self.region = region
        self.clock = clock

    def check(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes | None
    ) -> str:
        """Check one request's signature and rights; return the access key that signed it.

        Parameters
        ----------
        method : str
            The HTTP method as sent.
        raw_path : str
            The request target as sent (percent-encoded path and query).
        headers : Mapping[str, str]
            The request's headers as received (``Host`` included), case-insensitive
            (a ``CIMultiDict``: repeated headers are read with ``getall``).
        body : bytes or None
            The request's body.

        Returns
        -------
        str
            The access key.

        Raises
        ------
        Refused
            With the S3 status, code and one-line message to answer.
        """
        path, _, query = raw_path.partition("?")
        pairs = _query_pairs(query)
        claim = self._claim(headers, pairs)
        key = self.keys.get(claim.access_key)
        if key is None:
            raise _denied(
                "InvalidAccessKeyId",
                f"the access key {claim.access_key[:40]!r} is not a course key "
                f"(use helpers.cloud.READER_KEY or WRITER_KEY)",
            )
        self._check_scope(claim)
        expected = self._signature(claim, key, method, headers, path, pairs, body)
        if not hmac.compare_digest(expected.encode(), claim.signature.encode(errors="replace")):
            raise _denied(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                f"Check the secret of {claim.access_key} and that the request was not changed.",
            )
        self._check_time(claim)
        self._check_body(headers, body, claim)
        if method in WRITE_METHODS and not key.may_write:
            raise _denied(
                "AccessDenied",
                f"the key {claim.access_key} may only read bucket {self.bucket} (GET, HEAD, list): "
                f"{method} refused; sign with helpers.cloud.WRITER_KEY to write",
            )
        return claim.access_key

    # -- what the request claims ---------------------------------------------------------------
    def _claim(self, headers: Mapping[str, str], pairs: list[tuple[str, str]]) -> _Claim:
        params = dict(pairs)
        header = headers.get("Authorization")
        if (header is not None and not header.startswith(ALGORITHM)) or "Signature" in params:
            raise _bad(
                "InvalidRequest",
                f"only AWS Signature Version 4 ({ALGORITHM}) is accepted; with boto3, "
                "create the client with botocore.config.Config(signature_version='s3v4')",
            )
        if header is not None and "X-Amz-Algorithm" in params:
            raise _bad("InvalidArgument", "only one auth mechanism allowed (header or query)")
        if header is not None:
            match = AUTH_HEADER.match(header.strip())
            if match is None:
                raise _bad(
                    "AuthorizationHeaderMalformed",
                    f"the Authorization header is not AWS Signature V4 ({ALGORITHM} "
                    "Credential=..., SignedHeaders=..., Signature=...)",
                )
            credential, signed, signature = match.groups()
            timestamp = headers.get("X-Amz-Date", "")
            return self._parse(credential, signed, signature, timestamp, presigned=False)
        if "X-Amz-Algorithm" in params:
            if params["X-Amz-Algorithm"] != ALGORITHM:
                raise _bad(
                    "AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}"
                )
            needed = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
            missing = [name for name in (*needed, "X-Amz-Signature") if name not in params]
            if missing:
                raise _bad("AuthorizationQueryParametersError", f"missing {', '.join(missing)}")
            expires = params["X-Amz-Expires"]
            if not expires.isdigit() or not 0 < int(expires) <= MAX_EXPIRES_S:
                raise _bad(
                    "AuthorizationQueryParametersError",
                    f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES_S}",
                )
            credential, date, signed = (params[name] for name in needed[:2] + needed[3:])
            claim = self._parse(credential, signed, params["X-Amz-Signature"], date, True)
            return dataclasses.replace(claim, expires_s=int(expires))
        raise _denied(
            "AccessDenied",
            f"bucket {self.bucket} is private: sign requests with a course key "
            "(helpers.cloud.READER_KEY or WRITER_KEY, e.g. cloud.storage_options(READER_KEY))",
        )

    @staticmethod
    def _parse(
        credential: str, signed: str, signature: str, timestamp: str, presigned: bool
    ) -> _Claim:
        access_key, _, scope = credential.partition("/")
        if not re.fullmatch(r"\d{8}T\d{6}Z", timestamp):
            raise _denied("AccessDenied", "AWS authentication requires a valid x-amz-date")
        return _Claim(
            access_key, scope.split("/"), timestamp, signed.lower().split(";"), signature, presigned
        )

    def _check_scope(self, claim: _Claim) -> None:
        date, region, service, end = (claim.scope + ["", "", "", ""])[:4]
        if len(claim.scope) != 4 or service != "s3" or end != "aws4_request":
            raise _bad(
                "AuthorizationHeaderMalformed",
                "the credential must be KEY/YYYYMMDD/REGION/s3/aws4_request",
            )
        if region != self.region:
            raise _bad(
                "AuthorizationHeaderMalformed",
                f"the region {region[:30]!r} is wrong; expecting {self.region!r}",
            )
        if date != claim.timestamp[:8]:
            raise _denied("SignatureDoesNotMatch", "the credential's date is not the request's")
        if "host" not in claim.signed_headers:
            raise _denied("AccessDenied", "the Host header must be signed")

    # -- the signature the key's secret gives ----------------------------------------------------
    def _signature(
        self,
        claim: _Claim,
        key: CourseKey,
        method: str,
        headers: Mapping[str, str],
        path: str,
        pairs: list[tuple[str, str]],
        body: bytes | None,
    ) -> str:
        """The signature ``key`` gives this request, computed by botocore's signer."""
        signed = {}
        for name in claim.signed_headers:
            values = _all(headers, name)
            if not values:
                raise _denied(
                    "SignatureDoesNotMatch", f"the signed header {name[:40]!r} is missing"
                )
            signed[name] = ",".join(values)
        params = [(k, v) for k, v in pairs if k != "X-Amz-Signature"] if claim.presigned else pairs
        request = AWSRequest(
            method=method,
            url=f"http://{headers.get('Host', '')}{path}",
            headers=signed,
            data=body or b"",
            params=params,
        )
        request.context["timestamp"] = claim.timestamp
        credentials = Credentials(claim.access_key, key.secret)
        signer_class: type[SigV4Auth] = S3SigV4QueryAuth if claim.presigned else S3SigV4Auth
        signer = signer_class(credentials, "s3", self.region)
        canonical = signer.canonical_request(request)
        log.debug("canonical request:\n%s", canonical)
        return str(signer.signature(signer.string_to_sign(request, canonical), request))

    # -- after the signature ---------------------------------------------------------------------
    def _check_time(self, claim: _Claim) -> None:
        signed_at = calendar.timegm(time.strptime(claim.timestamp, TIMESTAMP))
        now = self.clock()
        if claim.presigned and now > signed_at + claim.expires_s:
            raise _denied("AccessDenied", "Request has expired")
        if not claim.presigned and abs(now - signed_at) > MAX_SKEW_S:
            raise _denied(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )

    @staticmethod
    def _check_body(headers: Mapping[str, str], body: bytes | None, claim: _Claim) -> None:
        claimed = headers.get("X-Amz-Content-SHA256")
        if claimed is None or "x-amz-content-sha256" not in claim.signed_headers:
            return  # unsigned header: botocore hashed the body itself into the signature
        if claimed in UNSIGNED_BODIES:
            return
        if not SHA256_HEX.fullmatch(claimed):
            raise _bad(
                "InvalidRequest",
                f"x-amz-content-sha256 {claimed[:40]!r} is not supported "
                "(a body's SHA-256, or UNSIGNED-PAYLOAD)",
            )
        if not hmac.compare_digest(hashlib.sha256(body or b"").hexdigest(), claimed):
            raise _denied(
                "SignatureDoesNotMatch",
                "the body's SHA-256 is not the x-amz-content-sha256 the request signed",
            )


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of header ``name`` (a ``CIMultiDict``'s ``getall``, else the one value)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = headers.get(name)
    return [] if value is None else [value]
