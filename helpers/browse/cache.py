"""Decoded chunks kept in memory, so a view seen before costs no request at all.

:class:`TileCache` is a least-recently-used cache bounded in bytes; the viewer keys it by
``(level, chunk index)``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ..config import TILE_CACHE_BYTES

__all__ = ["TileCache"]


class TileCache:
    """Decoded chunks in memory, the least recently used dropped first beyond ``max_bytes``.

    Parameters
    ----------
    max_bytes : int, optional
        Memory for the tiles (0 keeps nothing).

    Attributes
    ----------
    max_bytes, nbytes : int
        The bound, and the bytes held now.
    hits, misses : int
        Lookups that found a tile / found none.

    Raises
    ------
    ValueError
        A negative size.

    Examples
    --------
    >>> import numpy as np
    >>> cache = TileCache(max_bytes=200)
    >>> cache.put("a", np.zeros(100, np.uint8)); cache.put("b", np.zeros(100, np.uint8))
    >>> cache.put("c", np.zeros(100, np.uint8))  # over 200 bytes: "a" goes
    >>> "a" in cache, len(cache), cache.nbytes
    (False, 2, 200)
    """

    def __init__(self, max_bytes: int = TILE_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[Any, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: object) -> bool:
        return key in self._tiles

    def __len__(self) -> int:
        return len(self._tiles)

    def get(self, key: Any) -> np.ndarray | None:
        """The tile stored under ``key`` (now the most recently used), or ``None``."""
        tile = self._tiles.get(key)
        if tile is None:
            self.misses += 1
            return None
        self.hits += 1
        self._tiles.move_to_end(key)
        return tile

    def put(self, key: Any, tile: np.ndarray) -> None:
        """Store ``tile``; drop the least recently used tiles while over ``max_bytes``."""
        if key in self._tiles:
            self.nbytes -= self._tiles.pop(key).nbytes
        self._tiles[key] = tile
        self.nbytes += tile.nbytes
        while self.nbytes > self.max_bytes and self._tiles:
            _, dropped = self._tiles.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        """Forget every tile (the next views are fetched again)."""
        self._tiles.clear()
        self.nbytes = 0
