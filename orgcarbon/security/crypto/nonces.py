"""Nonce stores for replay protection: an interface and an in-process implementation."""

from __future__ import annotations

import threading
from typing import Protocol


class NonceStore(Protocol):
    """Remembers nonces until they expire; ``remember`` must be atomic (check and set in one)."""

    def seen(self, key: str, now: float) -> bool:
        """True when ``key`` is stored and not yet expired (a cheap pre-check, not atomic)."""
        ...

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        """Store ``key`` until ``expires_at``; False when it was already stored and unexpired."""
        ...


class InMemoryNonceStore:
    """A thread-safe dict of nonces for one process (tests, a single worker).

    Several workers must share one store, e.g. Redis ``SET key 1 NX EXAT expires_at``,
    or a nonce accepted by one worker can be replayed against another.
    """

    _PRUNE_EVERY = 1024

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._inserts = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def seen(self, key: str, now: float) -> bool:
        with self._lock:
            expires = self._expiry.get(key)
            return expires is not None and expires > now

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        with self._lock:
            expires = self._expiry.get(key)
            if expires is not None and expires > now:
                return False
            self._expiry[key] = expires_at
            self._inserts += 1
            # Amortised pruning keeps memory bounded by the traffic of one skew window.
            if self._inserts % self._PRUNE_EVERY == 0:
                self._expiry = {k: v for k, v in self._expiry.items() if v > now}
            return True
