"""The local cloud's server: an S3 endpoint on 127.0.0.1 that behaves like a remote object store.

moto's S3 server (``backend.py``) holds what is written; the public bucket is read from a folder on disk
(``folder.py``, ``listing.py``); an asyncio proxy in front (``proxy.py``) adds latency and a bandwidth
cap, keeps connections alive, is the only door (``guard.py``: path-style paths of the two buckets, the
public one read-only), answers browsers (``cors.py``) and injects faults on demand (``faults.py``).
``serve.py`` runs it all until stopped, or until the process it belongs to ends.

Learners start and steer it from :mod:`helpers.cloud` (``ensure_cloud``, ``python -m course_tools cloud``),
which runs ``python -m course_tools.cloud`` as a process of its own.
"""

__all__: list[str] = []
