"""Response/data cache keyed on the data versions it depends on, so an ingest invalidates it at once."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Engine, text


class VersionedCache:
    """An LRU of computed values; a key includes the current versions of the layers the value came from.

    ``data_versions`` is bumped in the same transaction as every successful load (a trigger on the ledger),
    so a new version is visible exactly when the new data is. Reading the versions is one indexed query.
    """

    def __init__(self, engine: Engine, max_entries: int = 2048) -> None:
        self.engine = engine
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def versions(self, layers: tuple[str, ...]) -> tuple:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT layer, version FROM data_versions WHERE layer = ANY(:l)"),
                                {"l": list(layers)}).all()
        found = dict(rows)
        return tuple(found.get(layer, 0) for layer in layers)

    def get_or_compute(self, key: Hashable, layers: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        full = (key, self.versions(layers))
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                self.hits += 1
                return self._items[full]
        value = compute()
        with self._lock:
            self.misses += 1
            if self.max_entries:
                self._items[full] = value
                while len(self._items) > self.max_entries:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
