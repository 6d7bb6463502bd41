"""A bounded message buffer that never drops silently: when full it blocks or spills to a file.

Messages are numbered; ``peek`` hands them out without removing them and ``commit`` removes them
only after the sink accepted them, so a failed sync run sees the same messages again.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BufferStats", "BufferedMessage", "BoundedBuffer"]


@dataclass(frozen=True)
class BufferedMessage:
    """One received message with its buffer sequence number."""

    seq: int
    topic: str
    payload: bytes
    received_at: str  # ISO-8601 UTC
    mid: int = 0


@dataclass(frozen=True)
class BufferStats:
    """Counters for the interface log: what was buffered, spilled, refused or released."""

    buffered: int
    spilled: int
    spilled_total: int
    blocked_total: int
    dropped_total: int
    committed_seq: int


class BoundedBuffer:
    """At most ``capacity`` messages in memory; beyond that ``block`` the producer or ``spill``.

    ``block`` waits up to ``block_timeout_s`` for space (holding back the MQTT network thread,
    so the broker keeps unacknowledged QoS 1 messages); if the sink is stalled longer than that,
    the message is counted in ``dropped_total`` and reported, never silently lost. ``spill``
    appends to a JSON-lines file, and keeps spilling until that file is drained so order holds.
    """

    def __init__(
        self,
        capacity: int,
        when_full: str = "spill",
        spill_path: Path | None = None,
        block_timeout_s: float = 5.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        if when_full not in ("block", "spill") or (when_full == "spill" and spill_path is None):
            raise ValueError("when_full must be 'block', or 'spill' with a spill_path")
        self.capacity = capacity
        self.when_full = when_full
        self.spill_path = spill_path
        self.block_timeout_s = block_timeout_s
        self._memory: deque[BufferedMessage] = deque()
        self._spilled: list[BufferedMessage] = []
        self._cond = threading.Condition()
        self._next_seq = 1
        self.committed_seq = 0
        self.spilled_total = 0
        self.blocked_total = 0
        self.dropped_total = 0
        if spill_path is not None and spill_path.exists():
            # Messages spilled by a previous process were acknowledged to the broker: keep them.
            self._spilled = [
                self._decode(line) for line in spill_path.read_text("utf-8").splitlines() if line
            ]
            self._next_seq = max((m.seq for m in self._spilled), default=0) + 1

    def put(self, topic: str, payload: bytes, received_at: str, mid: int = 0) -> bool:
        """Add a message; False only when ``block`` timed out (counted in ``dropped_total``)."""
        with self._cond:
            if self.when_full == "block" and len(self._memory) >= self.capacity:
                self.blocked_total += 1
                if not self._cond.wait_for(
                    lambda: len(self._memory) < self.capacity, self.block_timeout_s
                ):
                    self.dropped_total += 1
                    return False
            message = BufferedMessage(self._next_seq, topic, payload, received_at, mid)
            self._next_seq += 1
            if self.when_full == "spill" and (self._spilled or len(self._memory) >= self.capacity):
                self._spilled.append(message)
                self.spilled_total += 1
                self._append_spill(message)
            else:
                self._memory.append(message)
            self._cond.notify_all()
            return True

    def peek(self, after_seq: int = 0, limit: int | None = None) -> list[BufferedMessage]:
        """Messages with ``seq > after_seq`` in order, without removing them."""
        with self._cond:
            items = [m for m in (*self._memory, *self._spilled) if m.seq > after_seq]
        return items[:limit] if limit is not None else items

    def commit(self, up_to_seq: int) -> None:
        """Forget messages up to ``up_to_seq`` (the sink has them)."""
        with self._cond:
            while self._memory and self._memory[0].seq <= up_to_seq:
                self._memory.popleft()
            if self._spilled and self._spilled[0].seq <= up_to_seq:
                self._spilled = [m for m in self._spilled if m.seq > up_to_seq]
                self._rewrite_spill()
            self.committed_seq = max(self.committed_seq, up_to_seq)
            self._cond.notify_all()

    def wait_for_count(self, count: int, timeout_s: float) -> bool:
        """Wait until at least ``count`` uncommitted messages are held (tests, real-time mode)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: len(self._memory) + len(self._spilled) >= count, timeout_s
            )

    def stats(self) -> BufferStats:
        """A snapshot of the counters."""
        with self._cond:
            return BufferStats(
                len(self._memory),
                len(self._spilled),
                self.spilled_total,
                self.blocked_total,
                self.dropped_total,
                self.committed_seq,
            )

    def _append_spill(self, message: BufferedMessage) -> None:
        assert self.spill_path is not None
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_path.open("a", encoding="utf-8") as handle:
            handle.write(self._encode(message) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _rewrite_spill(self) -> None:
        assert self.spill_path is not None
        if not self._spilled:
            self.spill_path.unlink(missing_ok=True)
            return
        tmp = self.spill_path.with_suffix(".tmp")
        tmp.write_text("".join(self._encode(m) + "\n" for m in self._spilled), encoding="utf-8")
        os.replace(tmp, self.spill_path)

    @staticmethod
    def _encode(message: BufferedMessage) -> str:
        data: dict[str, Any] = {
            "seq": message.seq,
            "topic": message.topic,
            "received_at": message.received_at,
            "mid": message.mid,
            "payload": message.payload.decode("latin-1"),
        }
        return json.dumps(data, ensure_ascii=False)

    @staticmethod
    def _decode(line: str) -> BufferedMessage:
        data = json.loads(line)
        return BufferedMessage(
            int(data["seq"]),
            str(data["topic"]),
            str(data["payload"]).encode("latin-1"),
            str(data["received_at"]),
            int(data.get("mid", 0)),
        )
