"""The bounded buffer: full means spill (counted, persisted, ordered) or block, never silent loss."""

from __future__ import annotations

import threading
from pathlib import Path

from orgcarbon.connectors.mqtt_buffer import BoundedBuffer


def test_spill_keeps_order_counts_and_survives_restart(tmp_path: Path) -> None:
    """Beyond capacity messages go to the spill file; peek sees all in order; a new buffer reloads them."""
    spill = tmp_path / "spill.jsonl"
    buffer = BoundedBuffer(2, "spill", spill)
    for i in range(5):
        assert buffer.put("t", f"m{i}".encode(), "2025-01-01T00:00:00+00:00")
    stats = buffer.stats()
    assert (stats.buffered, stats.spilled, stats.spilled_total, stats.dropped_total) == (2, 3, 3, 0)
    assert [m.payload for m in buffer.peek()] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    buffer.commit(3)
    assert [m.seq for m in buffer.peek()] == [4, 5]
    reloaded = BoundedBuffer(2, "spill", spill)
    assert [m.payload for m in reloaded.peek()] == [b"m3", b"m4"]
    buffer.commit(5)
    assert not spill.exists()


def test_block_waits_for_space_then_reports_timeouts() -> None:
    """A full blocking buffer waits for a commit; a stalled one counts the message as dropped."""
    buffer = BoundedBuffer(1, "block", block_timeout_s=0.05)
    assert buffer.put("t", b"a", "x")
    assert not buffer.put("t", b"b", "x")
    assert buffer.stats().dropped_total == 1 and buffer.stats().blocked_total == 1
    slow = BoundedBuffer(1, "block", block_timeout_s=5)
    slow.put("t", b"a", "x")
    releaser = threading.Timer(0.05, lambda: slow.commit(1))
    releaser.start()
    assert slow.put("t", b"b", "x")
    releaser.join()
    assert [m.payload for m in slow.peek()] == [b"b"] and slow.stats().dropped_total == 0
