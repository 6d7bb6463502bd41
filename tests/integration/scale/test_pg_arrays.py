"""PostgreSQL's array fetch of a partition reads exactly what the generic SELECT reads.

``scale/pg_arrays`` has the server aggregate each column into one array and hashes text; these
tests compare it column by column with the generic path (``_raw_sql``) on rows that exercise every
special case (NULL quantity and time, own categories, lab values, commas and Chinese in tags,
other sources, batch and note), and the rules' outcome on both.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

import numpy as np
import pytest
from flask import Flask

from orgcarbon.rules.quality import rule_from_dict
from orgcarbon.rules.quality.columnar import compile_columnar
from orgcarbon.scale.generator import GroupSpec
from orgcarbon.scale.pg_arrays import PartitionArrays, read_array
from tests.conftest import backend
from tests.integration.scale.test_columnar import EXTRA, columnar_outcome

SPEC = GroupSpec(plants=1, tags=30, hours=24 * 3, gap_rate=0.02, spike_rate=0.01, duplicate_rate=0.03)
KEYED = {"id": "dedupe-batch-note", "kind": "cleaning", "action": "deduplicate", "order": 35,
         "params": {"mode": "exact", "keys": ["batch", "note", "tags", "timestamp"]}}


def _odd_rows(org_id: int, sub_id: int, material_id: int) -> list[dict[str, object]]:
    """Rows the generator never sends: every column the fetch has to get right."""
    stamp = dt.datetime(2023, 1, 2, 3, tzinfo=dt.UTC)
    common = {"source": "api", "batch_id": "odd", "organization_id": org_id, "month": "2023-01",
              "subprocess_id": sub_id, "material_id": material_id, "unit": "t", "status": "new"}
    return [
        {**common, "quantity": None, "timestamp": stamp, "tags": "P01-T0001"},
        {**common, "quantity": 12.5, "timestamp": None, "tags": "P01-T0002"},
        {**common, "quantity": 7.0, "timestamp": stamp, "tags": "P01-T0001, 备用表", "category": "process_flux",
         "ncv": 26.7, "carbon_content": 0.0285, "reference": "file.xlsx#3"},
        {**common, "quantity": 7.0, "timestamp": stamp, "tags": "P01-T0001, 备用表", "category": "",
         "oxidation_factor": 0.98, "request_id": "key-1"},
        {**common, "quantity": 3.0, "timestamp": stamp, "tags": None, "unit": None, "source": "mqtt",
         "purity": 0.9, "ef": 1.5, "batch_id": "odd-2"},
        {**common, "quantity": 3.0, "timestamp": stamp, "tags": None, "unit": None, "source": "mqtt",
         "purity": 0.9, "ef": 1.5, "batch_id": "odd-2"},  # an exact duplicate of the row before
        {**common, "subprocess_id": None, "material_id": None, "quantity": 1.0, "timestamp": stamp, "tags": "孤立"},
    ]


def _staged(session: Any, odd_through_writer: bool = False) -> tuple[int, Any]:
    """The plant's three days staged through the writer plus the odd rows; (plant id, its names).

    The odd rows go in as ORM objects, or with ``odd_through_writer`` through the writer's bulk
    insert (which stores their column chunks on PostgreSQL).
    """
    from sqlalchemy import select

    from orgcarbon.collection.staging import ROW_FIELDS
    from orgcarbon.collection.staging_sql import insert_rows
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.scale.cleaning import partition_names
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.stages import ingest_days

    layout = build_group(session, SPEC)
    session.commit()
    ingest_days(session, SPEC, 0, 0, 3)
    org = layout.plant_ids[0]
    sub, material = session.execute(select(StagingRow.subprocess_id, StagingRow.material_id)
                                    .where(StagingRow.organization_id == org).limit(1)).one()
    odd = _odd_rows(org, sub, material)
    if odd_through_writer:
        now = dt.datetime.now(dt.UTC)
        insert_rows(session, ROW_FIELDS, [tuple({"record_key": f"odd-{i}", "received_at": now, **row}.get(n)
                                                for n in ROW_FIELDS) for i, row in enumerate(odd)])
    else:
        session.add_all(StagingRow(**row) for row in odd)
    session.commit()
    return org, partition_names(session, org)


def _assert_same(fast: Any, generic: Any) -> None:
    """Column by column: ids, every text column, every number (NaN = NaN), every time."""
    assert fast.row_id.tolist() == generic.row_id.tolist()
    assert set(fast.text) == set(generic.text)
    for name, column in generic.text.items():
        assert np.asarray(fast.text[name], dtype=object).tolist() == np.asarray(column, dtype=object).tolist(), name
    for name in generic.numbers:  # the fast path leaves out lab columns that are empty everywhere
        assert np.array_equal(fast.number(name), generic.number(name), equal_nan=True), name
    assert fast.stamps().tolist() == generic.stamps().tolist()


def _generic(session: Any, org: int, names: Any, after: int = 0, limit: int = 2**31 - 1) -> Any:
    from orgcarbon.scale.cleaning import Window, _from_frame, _raw_sql

    window = Window(org, "2023-01", after, limit)
    return _from_frame(_raw_sql(session, window), window, names)


def _fast(session: Any, org: int, names: Any, after: int = 0, limit: int = 2**31 - 1,
          text: tuple[str, ...] = ("unit", "source", "tags", "batch", "note")) -> Any:
    from orgcarbon.scale.cleaning import Window, _from_arrays
    from orgcarbon.scale.pg_arrays import fetch_arrays

    arrays = fetch_arrays(session, org, "2023-01", after, limit, text)
    return _from_arrays(arrays.ordered(), Window(org, "2023-01", after, limit), names)


def _postgres_only() -> None:
    if backend() != "postgresql":
        pytest.skip("the array fetch is PostgreSQL's; it runs in the PostgreSQL pass of the suite")


def test_array_fetch_equals_the_generic_select(app: Flask) -> None:
    """Same ids, text, numbers and times as the generic SELECT; same rule outcome."""
    _postgres_only()
    from sqlalchemy import func, select

    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.rules_store import active_rules, definition_of
    from orgcarbon.scale.cleaning import Window, fetch_columns

    with app.app_context():
        session = db.session
        org, names = _staged(session)
        window = Window(org, "2023-01", 0, 2**31 - 1)
        generic = _generic(session, org, names)
        assert len(generic) > 1000
        _assert_same(_fast(session, org, names), generic)
        # A window that starts and ends inside the partition.
        ids = generic.row_id
        after, limit = int(ids[len(ids) // 3]), int(ids[2 * len(ids) // 3])
        cut = _generic(session, org, names, after, limit)
        assert 0 < len(cut) < len(ids)
        _assert_same(_fast(session, org, names, after, limit), cut)
        fast = _fast(session, org, names)
        # The odd rows really are in the comparison.
        assert np.isnan(fast.number("quantity")).any() and (fast.stamps() == np.iinfo(np.int64).min).any()
        assert {"process_flux", ""} <= set(np.asarray(fast.text["category"], dtype=object).tolist())
        assert "P01-T0001, 备用表" in fast.text["tags"].categories and "mqtt" in fast.text["source"].categories
        assert np.nanmax(fast.number("ncv")) == 26.7 and "file.xlsx#3" in fast.text["note"].categories

        rules = [definition_of(r) for r in active_rules(session, org) if (r.level or "record") == "record"]
        rules += [rule_from_dict(r) for r in [*EXTRA, KEYED]]
        expected = columnar_outcome(generic, rules)
        assert columnar_outcome(fast, rules) == expected
        assert expected[1]["dedupe-exact"] > 0 and expected[1]["low-first-tag"] > 0
        # Without batch and note (no rule names them) the published cleaning still agrees
        # (fresh columns: evaluating writes the changed values into the columns it was given).
        published = rules[:-len(EXTRA) - 1]
        plain = fetch_columns(session, window, names)
        generic = _generic(session, org, names)
        assert "batch" not in plain.text and columnar_outcome(plain, published) == columnar_outcome(generic, published)
        # The generator's rows alone (below the odd rows) have no lab values: the fast path leaves
        # those columns out, the generic one has them all NaN; rules that read or write ncv agree.
        last = int(session.scalar(select(func.min(StagingRow.id)).where(StagingRow.batch_id == "odd"))) - 1
        bare, bare_generic = _fast(session, org, names, 0, last), _generic(session, org, names, 0, last)
        assert set(bare.numbers) == {"quantity"} and set(bare_generic.numbers) >= {"ncv", "cc", "of", "purity", "ef"}
        _assert_same(bare, bare_generic)
        outcome = columnar_outcome(bare, rules)
        assert outcome == columnar_outcome(bare_generic, rules) and outcome[1]["fill-ncv"] > 0
        # A rule naming batch and note as keys gets them (what clean_partition passes).
        keyed = fetch_columns(session, window, names, compile_columnar(rules).named_keys)
        assert {"batch", "note"} <= set(keyed.text) and "odd-2" in keyed.text["batch"].categories


def _array_bytes(values: list[int], kind: str = "i8", has_null: int = 0, width: int = 8) -> bytes:
    head = struct.pack(">iiiii", 1, has_null, 20, len(values), 1)
    return head + b"".join(struct.pack(">i", width) + struct.pack(">" + ("q" if kind == "i8" else "i"), v)
                           for v in values)


def test_read_array_reads_binary_arrays_and_refuses_what_it_cannot_read() -> None:
    """One-dimensional arrays without NULLs are read; anything else is refused, not misread."""
    assert read_array(_array_bytes([3, -1, 2**40]), "i8").tolist() == [3, -1, 2**40]
    assert read_array(None, "i8").tolist() == []
    assert read_array(struct.pack(">iii", 0, 0, 20), "i8").tolist() == []
    with pytest.raises(ValueError, match="无空值"):
        read_array(_array_bytes([1], has_null=1), "i8")
    with pytest.raises(ValueError, match="长度"):
        read_array(_array_bytes([1, 2])[:-1], "i8")
    with pytest.raises(ValueError, match="元素长度"):
        read_array(_array_bytes([1, 2], kind="i4", width=4) + b"\0" * 8, "i8")


def test_arrays_are_put_in_id_order() -> None:
    """The server's scan order need not be id order: every column follows the ids."""
    arrays = PartitionArrays(
        ids=np.array([5, 2, 9]), pairs=np.array([50, 20, 90]), stamps=np.array([500, 200, 900]),
        quantity=np.array([0.5, 0.2, 0.9]), numbers={"ncv": np.array([5.0, np.nan, 9.0])},
        text={"tags": (np.array([0, 1, 0]), ["a", "b"])},
        own_category=(np.array([True, False, False]), np.array([0, 0, 0]), ["x"]))
    ordered = arrays.ordered()
    assert ordered.ids.tolist() == [2, 5, 9] and ordered.pairs.tolist() == [20, 50, 90]
    assert ordered.stamps.tolist() == [200, 500, 900] and ordered.quantity.tolist() == [0.2, 0.5, 0.9]
    assert np.array_equal(ordered.numbers["ncv"], [np.nan, 5.0, 9.0], equal_nan=True)
    assert ordered.text["tags"][0].tolist() == [1, 0, 0]
    assert ordered.own_category is not None and ordered.own_category[0].tolist() == [False, True, False]


def test_a_write_between_the_statements_of_a_fetch_starts_it_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A label whose row changed after the arrays were read is caught by its hash; the fetch reads again."""
    _postgres_only()
    from sqlalchemy import text

    from orgcarbon.platform.extensions import db
    from orgcarbon.scale import pg_arrays

    with app.app_context():
        session = db.session
        org, names = _staged(session)
        original, calls = pg_arrays._labels, []

        def rename_first(cursor: Any, wanted: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:  # another transaction renames a tag after the arrays were read
                with db.engine.begin() as other:
                    other.execute(text("UPDATE st_row SET tags = 'P01-T9999' WHERE tags = 'P01-T0005'"))
            return original(cursor, wanted)

        monkeypatch.setattr(pg_arrays, "_labels", rename_first)
        fast = _fast(session, org, names)
        assert len(calls) == 2
        assert "P01-T9999" in fast.text["tags"].categories and "P01-T0005" not in fast.text["tags"].categories
        monkeypatch.setattr(pg_arrays, "_labels", original)
        _assert_same(fast, _generic(session, org, names))

        def always_changed(cursor: Any, wanted: Any) -> Any:
            raise pg_arrays._Changed("tags")

        monkeypatch.setattr(pg_arrays, "_labels", always_changed)
        with pytest.raises(RuntimeError, match="反复修改"):
            _fast(session, org, names)
