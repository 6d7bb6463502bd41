"""Connectors: one interface for OData, MQTT and watched folders; mapping; incremental sync.

Importing the package registers the built-in connector types. No Flask, no SQLAlchemy here:
the platform passes plain config in and gets dataclasses and DataFrames back (docs/connectors.md).
"""

from __future__ import annotations

from orgcarbon.connectors import files as _files  # noqa: F401  # registers "files"
from orgcarbon.connectors import mqtt as _mqtt  # noqa: F401  # registers "mqtt"
from orgcarbon.connectors import odata as _odata  # noqa: F401  # registers "odata"
from orgcarbon.connectors.base import (
    ConnectionStatus,
    Connector,
    ConnectorError,
    FetchResult,
    Provenance,
    Record,
    Watermark,
)
from orgcarbon.connectors.mapping import MappedBatch, Mapping, MappingError, parse_mapping
from orgcarbon.connectors.registry import (
    ConfigError,
    ConnectorType,
    connector_types,
    create_connector,
    get_connector_type,
    register_connector_type,
    validate_config,
)
from orgcarbon.connectors.sync import (
    FileWatermarkStore,
    InterfaceLogEntry,
    MemoryWatermarkStore,
    RetryPolicy,
    SyncRunner,
)

__all__ = [
    "ConfigError",
    "ConnectionStatus",
    "Connector",
    "ConnectorError",
    "ConnectorType",
    "FetchResult",
    "FileWatermarkStore",
    "InterfaceLogEntry",
    "MappedBatch",
    "Mapping",
    "MappingError",
    "MemoryWatermarkStore",
    "Provenance",
    "Record",
    "RetryPolicy",
    "SyncRunner",
    "Watermark",
    "connector_types",
    "create_connector",
    "get_connector_type",
    "parse_mapping",
    "register_connector_type",
    "validate_config",
]
