"""Run a connector from its stored watermark through mapping into a sink, then commit.

The order is the guarantee: fetch → map → sink → store watermark → ``connector.commit``. A run
killed anywhere before the watermark is stored is repeated from the old watermark and delivers the
same record keys again; the sink (the platform's staging writer) upserts on
``(connector_id, record_key)``, so a repeated run loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orgcarbon.connectors.base import Connector, Watermark, utc_now
from orgcarbon.connectors.mapping import MappedBatch, Mapping

__all__ = [
    "FileWatermarkStore",
    "InterfaceLogEntry",
    "MemoryWatermarkStore",
    "RetryPolicy",
    "Sink",
    "SyncRunner",
    "WatermarkStore",
]

Sink = Callable[[MappedBatch], None]  # raises to refuse the batch; returning means "accepted"


class WatermarkStore(Protocol):
    """Where watermarks live between runs (the platform stores them in its database)."""

    def load(self, connector_id: str) -> Watermark | None: ...

    def save(self, connector_id: str, watermark: Watermark | None) -> None: ...


class MemoryWatermarkStore:
    """Watermarks in a dict: tests and one-off runs."""

    def __init__(self) -> None:
        self._data: dict[str, Watermark | None] = {}
        self._lock = threading.Lock()

    def load(self, connector_id: str) -> Watermark | None:
        with self._lock:
            return self._data.get(connector_id)

    def save(self, connector_id: str, watermark: Watermark | None) -> None:
        with self._lock:
            self._data[connector_id] = watermark


class FileWatermarkStore:
    """Watermarks in one JSON file, replaced atomically so a crash leaves old or new, never half."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        data: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def load(self, connector_id: str) -> Watermark | None:
        text = self._read().get(connector_id)
        return Watermark.from_json(text) if text else None

    def save(self, connector_id: str, watermark: Watermark | None) -> None:
        data = self._read()
        if watermark is None:
            data.pop(connector_id, None)
        else:
            data[connector_id] = watermark.to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".watermarks-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_s * factor**attempt`` capped at ``max_s``, ``attempts`` in all."""

    attempts: int = 3
    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0

    def delays(self) -> list[float]:
        """The waits between attempts (one fewer than ``attempts``)."""
        return [
            min(self.base_s * self.factor**i, self.max_s) for i in range(max(self.attempts - 1, 0))
        ]


@dataclass(frozen=True)
class InterfaceLogEntry:
    """One connector run for the interface log (spec 6.7.2): who, what, how many, how long, why."""

    connector_id: str
    connector_type: str
    status: str  # "success" | "partial" (more to fetch) | "failed"
    started_at: str
    duration_ms: float
    attempts: int
    fetched: int = 0
    accepted: int = 0
    filtered: int = 0
    rejected: int = 0
    batch_id: str = ""
    watermark_before: str | None = None
    watermark_after: str | None = None
    error: str = ""
    rejected_reasons: tuple[str, ...] = field(default=())


class SyncRunner:
    """Drives one connector with one mapping into one sink, with retries and a log entry per run."""

    def __init__(
        self,
        connector: Connector,
        mapping: Mapping,
        sink: Sink,
        store: WatermarkStore,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connector = connector
        self.mapping = mapping
        self.sink = sink
        self.store = store
        self.retry = retry or RetryPolicy()
        self.sleep = sleep  # injectable so tests check the backoff without waiting for it

    def run_once(self) -> InterfaceLogEntry:
        """One run with retries; never raises for a source or sink failure, the entry says why."""
        started, clock = utc_now(), time.perf_counter()
        before = self.store.load(self.connector.connector_id)
        delays = self.retry.delays()
        error = ""
        for attempt in range(1, len(delays) + 2):
            try:
                return self._attempt(before, started.isoformat(), clock, attempt)
            except Exception as exc:  # noqa: BLE001  # any failure is logged and retried, then reported
                error = f"{type(exc).__name__}: {exc}"
                if attempt <= len(delays):
                    self.sleep(delays[attempt - 1])
        return InterfaceLogEntry(
            connector_id=self.connector.connector_id,
            connector_type=self.connector.type_name,
            status="failed",
            started_at=started.isoformat(),
            duration_ms=(time.perf_counter() - clock) * 1000,
            attempts=len(delays) + 1,
            watermark_before=before.to_json() if before else None,
            watermark_after=before.to_json() if before else None,
            error=error,
        )

    def _attempt(
        self, before: Watermark | None, started: str, clock: float, attempt: int
    ) -> InterfaceLogEntry:
        result = self.connector.fetch(before)
        batch = self.mapping.apply(result.records)
        self.sink(batch)  # the one step that must succeed before the watermark moves
        self.store.save(self.connector.connector_id, result.new_watermark)
        self.connector.commit(result.new_watermark)
        return InterfaceLogEntry(
            connector_id=self.connector.connector_id,
            connector_type=self.connector.type_name,
            status="success" if result.complete else "partial",
            started_at=started,
            duration_ms=(time.perf_counter() - clock) * 1000,
            attempts=attempt,
            fetched=len(result.records),
            accepted=batch.accepted,
            filtered=batch.filtered_out,
            rejected=len(batch.rejected),
            batch_id=result.batch_id,
            watermark_before=before.to_json() if before else None,
            watermark_after=result.new_watermark.to_json() if result.new_watermark else None,
            rejected_reasons=tuple(f"{r.reference}: {r.reason}" for r in batch.rejected[:20]),
        )

    def run_until_complete(self, max_runs: int = 100) -> list[InterfaceLogEntry]:
        """Repeat ``run_once`` while the connector reports more data, at most ``max_runs`` times."""
        entries: list[InterfaceLogEntry] = []
        for _ in range(max_runs):
            entry = self.run_once()
            entries.append(entry)
            if entry.status != "partial":
                break
        return entries
