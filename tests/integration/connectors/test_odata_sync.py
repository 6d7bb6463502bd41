"""OData v2 against the real mock-sap: incremental sync, paging, CSRF writes, decimals, crash re-run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from orgcarbon.connectors import (
    MemoryWatermarkStore,
    RetryPolicy,
    SyncRunner,
    create_connector,
    parse_mapping,
)
from orgcarbon.connectors.mapping import MappedBatch
from orgcarbon.connectors.odata import ODataConnector

SERVICE = "/sap/opu/odata/sap/API_PRODUCT_SRV/"
SEEDED = 10  # products mock-sap seeds with --seed 42

MAPPING = {
    "fields": {
        "organization": {"value": "一厂"},
        "material": {"field": "Product"},
        "quantity": {"field": "GrossWeight"},
        "unit": {"field": "WeightUnit"},
        "time": {"field": "LastChangeDate"},
    },
    "unit_aliases": {"KG": "kg", "TO": "t"},
    "target_unit": "t",
    "filters": [{"field": "ProductType", "op": "ne", "value": "DIEN"}],
    "tags": [
        {"tag": "SAP"},
        {"tag": "原料", "when": {"field": "ProductType", "op": "eq", "value": "ROH"}},
    ],
}


def connector(base: str, connector_id: str, **extra: Any) -> ODataConnector:
    config = {
        "service_url": base + SERVICE,
        "entity_set": "A_Product",
        "watermark_field": "LastChangeDate",
        **extra,
    }
    made = create_connector("odata", connector_id, config)
    assert isinstance(made, ODataConnector)
    return made


class Staging:
    """A sink like the staging writer: upserts on (connector_id, record_key); can fail mid-batch."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_after = fail_after
        self.batches = 0

    def __call__(self, batch: MappedBatch) -> None:
        self.batches += 1
        for count, row in enumerate(batch.frame.to_dict("records")):
            if self.fail_after is not None and count == self.fail_after:
                raise RuntimeError("staging writer killed mid-batch")
            self.rows[(row["connector_id"], row["record_key"])] = row


def snapshot(staging: Staging) -> dict[str, tuple[str, float, str]]:
    return {
        key: (r["material"], round(r["quantity"], 9), r["unit"])
        for (_, key), r in staging.rows.items()
    }


def test_check_reports_entity_set_and_missing_names(mock_sap: str) -> None:
    """check() loads $metadata; a wrong entity set is a Chinese message, not an exception."""
    status = connector(mock_sap, "c-check").check()
    assert status.ok and status.details["properties"]["GrossWeight"] == "Edm.Decimal"
    bad = connector(mock_sap, "c-bad", entity_set="A_Nope").check()
    assert not bad.ok and "A_Nope" in bad.message


def test_incremental_sync_picks_up_only_new_rows(mock_sap: str) -> None:
    """First sync reads every seeded product; after two inserts the next sync reads just those two."""
    source = connector(mock_sap, "c-inc", page_size=4)
    store, staging = MemoryWatermarkStore(), Staging()
    runner = SyncRunner(source, parse_mapping(MAPPING), staging, store, RetryPolicy(attempts=1))

    first = runner.run_once()
    assert (first.status, first.fetched, first.accepted, first.filtered, first.rejected) == (
        "success",
        SEEDED,
        9,
        1,
        0,
    )
    assert source.requests_sent == 3  # 4 + 4 + 2 rows: $top/$skip paging
    assert staging.rows[("c-inc", "('MZ-RM-S200')")]["quantity"] == pytest.approx(0.012)
    assert staging.rows[("c-inc", "('MZ-RM-S200')")]["tags"] == ("SAP", "原料")

    created = source.create(
        {
            "Product": "COKE-A",
            "ProductType": "ROH",
            "GrossWeight": Decimal("12.345"),
            "WeightUnit": "TO",
        }
    )
    source.create(
        {"Product": "COKE-B", "ProductType": "ROH", "GrossWeight": "0.5", "WeightUnit": "TO"}
    )
    assert created["GrossWeight"] == Decimal("12.345")  # Edm.Decimal text → Decimal, exactly
    assert source.session.csrf_fetches == 1  # one token fetched for both writes

    second = runner.run_once()
    assert (second.fetched, second.accepted) == (2, 2)
    new_rows = {k: r for (_, k), r in staging.rows.items() if k.startswith("('COKE")}
    assert {k: r["quantity"] for k, r in new_rows.items()} == {
        "('COKE-A')": 12.345,
        "('COKE-B')": 0.5,
    }
    assert all(isinstance(r["time"], pd.Timestamp) for r in new_rows.values())

    third = runner.run_once()
    assert (third.fetched, third.accepted) == (0, 0)
    assert len(staging.rows) == 11


def test_decimals_arrive_as_decimal_in_the_payload(mock_sap: str) -> None:
    """pyodata returns Edm.Decimal as text; the connector hands over Decimal (or float if asked)."""
    exact = connector(mock_sap, "c-dec").fetch(None)
    by_key = {r.key: r for r in exact.records}
    assert by_key["('TG12')"].payload["GrossWeight"] == Decimal("4.900")
    as_float = connector(mock_sap, "c-float", decimals="float").fetch(None)
    assert {r.key: r.payload["GrossWeight"] for r in as_float.records}["('TG12')"] == 4.9


def test_killed_run_rerun_gives_same_staging(mock_sap: str) -> None:
    """A sink that dies mid-batch leaves the watermark alone; the re-run yields the clean result."""
    clean = Staging()
    SyncRunner(
        connector(mock_sap, "c-kill"), parse_mapping(MAPPING), clean, MemoryWatermarkStore()
    ).run_once()

    store, broken = MemoryWatermarkStore(), Staging(fail_after=3)
    sleeps: list[float] = []
    runner = SyncRunner(
        connector(mock_sap, "c-kill"),
        parse_mapping(MAPPING),
        broken,
        store,
        RetryPolicy(attempts=3, base_s=0.5),
        sleep=sleeps.append,
    )
    failed = runner.run_once()
    assert failed.status == "failed" and "killed mid-batch" in failed.error
    assert (failed.attempts, sleeps) == (3, [0.5, 1.0])  # exponential backoff between attempts
    assert store.load("c-kill") is None and len(broken.rows) == 3

    broken.fail_after = None
    rerun = runner.run_once()
    assert rerun.status == "success"
    assert snapshot(broken) == snapshot(clean)
    assert store.load("c-kill") is not None
