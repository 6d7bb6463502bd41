"""The subscription listener: keeps enabled MQTT connectors connected and flushes them to staging.

One process (``orgcarbon collection listen``) holds the subscriptions: a Celery worker cannot,
since each prefork child would subscribe on its own and the broker would hand every message to
all of them. The listener re-reads the connector table every ``refresh_s`` seconds, so connectors
added, disabled or edited in the UI are picked up without a restart.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select

from orgcarbon.collection.models import ConnectorInstance
from orgcarbon.collection.runner import ConnectorBusy, build_connector, run_connector
from orgcarbon.connectors import Connector

log = logging.getLogger(__name__)
_LIVE: dict[int, Connector] = {}  # connectors kept open by a listener in this process
SUBSCRIPTION_TYPES = ("mqtt",)


def live_connector(connector_id: int) -> Connector | None:
    """The open connector of ``connector_id`` if a listener in this process holds it."""
    return _LIVE.get(connector_id)


class SubscriptionListener:
    """Opens the subscriptions of enabled subscription connectors and flushes them periodically."""

    def __init__(self, app: Flask, flush_s: float = 5.0, refresh_s: float = 60.0) -> None:
        self.app = app
        self.flush_s = flush_s
        self.refresh_s = refresh_s
        self.versions: dict[int, Any] = {}  # connector id → (config, secret, mapping) it was started with

    def refresh(self) -> list[int]:
        """Start new or changed subscriptions, stop removed or disabled ones; returns open ids."""
        from orgcarbon.platform.extensions import db

        with self.app.app_context():
            rows = db.session.scalars(
                select(ConnectorInstance).where(
                    ConnectorInstance.enabled.is_(True), ConnectorInstance.type.in_(SUBSCRIPTION_TYPES)
                )
            ).all()
            wanted = {row.id: (row.config, row.secret, row.mapping) for row in rows}
            for connector_id in list(_LIVE):
                if self.versions.get(connector_id) != wanted.get(connector_id):
                    self._stop(connector_id)
            for row in rows:
                if row.id in _LIVE:
                    continue
                connector = build_connector(row)
                try:
                    connector.start()  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001  # one broker down must not stop the others
                    log.warning("subscription %s (%s) not started: %s", row.id, row.name, exc)
                    connector.close()
                    continue
                _LIVE[row.id] = connector
                self.versions[row.id] = wanted[row.id]
            db.session.remove()
        return sorted(_LIVE)

    def flush(self) -> dict[int, list[dict[str, Any]]]:
        """Stage what each open subscription has buffered (one interface-log row per run)."""
        from orgcarbon.platform.extensions import db
        from orgcarbon.security.audit import acting_as

        done: dict[int, list[dict[str, Any]]] = {}
        with self.app.app_context(), acting_as("task:collection-listen"):
            for connector_id, connector in list(_LIVE.items()):
                try:
                    done[connector_id] = run_connector(db.session, connector_id, connector=connector)
                except ConnectorBusy:
                    continue
                except LookupError:  # deleted meanwhile
                    self._stop(connector_id)
            db.session.remove()
        return done

    def run(self, stop: threading.Event) -> None:
        """Refresh and flush until ``stop`` is set; flushes once more before returning."""
        since_refresh = self.refresh_s
        while not stop.is_set():
            if since_refresh >= self.refresh_s:
                self.refresh()
                since_refresh = 0.0
            self.flush()
            stop.wait(self.flush_s)
            since_refresh += self.flush_s
        self.flush()

    def _stop(self, connector_id: int) -> None:
        connector = _LIVE.pop(connector_id, None)
        self.versions.pop(connector_id, None)
        if connector is not None:
            connector.close()

    def close(self) -> None:
        """Disconnect every subscription this listener opened."""
        for connector_id in list(_LIVE):
            self._stop(connector_id)
