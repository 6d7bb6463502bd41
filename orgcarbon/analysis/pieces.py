"""Per-run aggregates kept in the process, from which every selection's figures are summed.

A dashboard asks for many selections (years × organisation subtrees × month ranges) over the same
few runs, and a ``done`` run's lines never change (a restatement stores a new run; runs are
never deleted through the application), so what the database groups for one run is grouped once
per process and reused by every selection that reads the run:

* ``facts`` of a run: its lines by node, process, term and month (all twelve months);
* ``grouped`` rows of a run and a month range (sub-processes, largest sources, process products);
* names of organisations, processes and sub-processes.

Selections stay exact: a piece holds a whole run, and ``Selection.keeps`` picks its nodes as the
database query did. Entries expire after ``TTL_SECONDS`` (the aggregate cache's ten minutes: a
renamed process shows under its new name by then, as cached panoramas already do) and the store
is bounded; both only reclaim memory or refresh names, never correctness of sums.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from flask import Flask, current_app, has_app_context

TTL_SECONDS = 600.0
MAX_ENTRIES = 20_000


class PieceStore:
    """Least-recently-used dict with a time-to-live; safe across request threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl: float = TTL_SECONDS) -> None:
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.ttl = ttl

    def get_many(self, keys: Iterable[Hashable],
                 load: Callable[[list[Hashable]], dict[Hashable, Any]]) -> dict[Hashable, Any]:
        """The values of ``keys``; those missing or expired come from one call of ``load(missing)``."""
        now = time.monotonic()
        found: dict[Hashable, Any] = {}
        missing: list[Hashable] = []
        with self._lock:
            for key in dict.fromkeys(keys):
                hit = self._data.get(key)
                if hit is not None and hit[0] > now:
                    self._data.move_to_end(key)
                    found[key] = hit[1]
                else:
                    missing.append(key)
        if missing:
            loaded = load(missing)
            with self._lock:
                for key in missing:
                    self._data[key] = (now + self.ttl, loaded[key])
                    self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
            found.update(loaded)
        return found

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def init_app(app: Flask) -> None:
    """Attach the piece store to ``app.extensions``."""
    app.extensions["analysis_pieces"] = PieceStore()


def store() -> PieceStore:
    """The current app's store; outside an app (or before ``init_app``) a throw-away one."""
    if has_app_context():
        found = current_app.extensions.get("analysis_pieces")
        if found is not None:
            return found  # type: ignore[no-any-return]
    return PieceStore()
