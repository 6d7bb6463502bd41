"""The one Connector interface: check a connection, fetch records since a watermark.

Pure Python, no Flask and no SQLAlchemy: a connector takes plain config and returns dataclasses,
so the platform, a Celery task, the CLI and the tests all drive it the same way.
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

__all__ = [
    "ConnectionStatus",
    "Connector",
    "ConnectorError",
    "FetchResult",
    "Provenance",
    "Record",
    "Watermark",
    "new_batch_id",
    "utc_now",
]


class ConnectorError(RuntimeError):
    """A source could not be read; ``str()`` is a Chinese message fit for the interface log."""


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp in this package is UTC)."""
    return datetime.now(UTC)


def new_batch_id() -> str:
    """A fresh batch id; one per fetch, so staging rows can be traced back to the run."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Watermark:
    """How far a source has been read.

    ``value`` is the highest watermark-field value already delivered (ISO text for times, a
    sequence number as text for streams). Sources whose watermark field is coarse (a date, a
    millisecond timestamp shared by several rows) read ``>= value`` again next time and skip the
    rows named in ``boundary_keys``: a row written later with the same value is then not lost.
    """

    value: str
    boundary_keys: frozenset[str] = frozenset()

    def to_json(self) -> str:
        """Serialise for a watermark store (stable key order, sorted keys)."""
        return json.dumps(
            {"value": self.value, "boundary_keys": sorted(self.boundary_keys)}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> Watermark:
        """Inverse of ``to_json``."""
        data = json.loads(text)
        return cls(str(data["value"]), frozenset(str(k) for k in data.get("boundary_keys", ())))


@dataclass(frozen=True)
class ConnectionStatus:
    """The answer of ``Connector.check``: reachable or not, with a Chinese explanation."""

    ok: bool
    message: str
    latency_ms: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """Where one record came from; carried unchanged into staging."""

    source: str  # connector type, e.g. "odata"
    connector_id: str  # the configured instance
    batch_id: str
    received_at: datetime
    reference: str  # entity URI, topic + message id, file name + row number


@dataclass(frozen=True)
class Record:
    """One raw row from a source: original payload, a stable key and its provenance.

    ``key`` is stable across re-runs (entity key, file digest + row, stream sequence), which is
    what lets a staging writer upsert instead of duplicating when a run is repeated.
    """

    key: str
    payload: Mapping[str, Any]
    provenance: Provenance
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchResult:
    """Records read in one fetch and the watermark to store once they are safely in staging."""

    records: Sequence[Record]
    new_watermark: Watermark | None
    batch_id: str = field(default_factory=new_batch_id)
    complete: bool = True  # False when a page limit stopped the fetch early; run again for more


class Connector(ABC):
    """A configured source. Subclasses set ``type_name`` and are registered with their config."""

    type_name: ClassVar[str] = ""

    def __init__(self, connector_id: str) -> None:
        self.connector_id = connector_id

    @abstractmethod
    def check(self) -> ConnectionStatus:
        """Try the connection without reading data; never raises for an unreachable source."""

    @abstractmethod
    def fetch(self, since: Watermark | None) -> FetchResult:
        """Return records after ``since`` (all when ``None``) and the watermark that follows them."""

    def commit(self, watermark: Watermark | None) -> None:  # noqa: B027  # optional hook
        """Called after the sink accepted a batch and its watermark was stored.

        Sources that hold data until it is safe (an MQTT buffer, files in an inbox) release it
        here; pull sources such as OData have nothing to do.
        """

    def close(self) -> None:  # noqa: B027  # optional hook
        """Release sockets and threads; safe to call twice."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def provenance(self, batch_id: str, reference: str, received_at: datetime) -> Provenance:
        """Provenance for a record of this connector."""
        return Provenance(self.type_name, self.connector_id, batch_id, received_at, reference)
