"""The writer's column chunks (PostgreSQL) hold exactly the rows a cleaning window sees.

``collection/chunks`` encodes each batch's columns per plant × month; ``scale/pg_chunks`` reads a
window from them. These tests compare the chunks with the generic SELECT column by column on the
rows of ``test_pg_arrays`` (every special case, staged through the writer), check the marks that
send cleaning back to the rows (an UPDATE or DELETE of a staged row, an INSERT from outside the
writer), and that cleaning deletes the chunks its mark passes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from flask import Flask

from orgcarbon.collection.chunks import chunks_of, decode, encode
from orgcarbon.rules.quality import rule_from_dict
from tests.conftest import backend
from tests.integration.scale.test_columnar import EXTRA, columnar_outcome
from tests.integration.scale.test_pg_arrays import KEYED, SPEC, _assert_same, _generic
from tests.integration.scale.test_pg_arrays import _staged as _staged_rows

TEXT = ("unit", "source", "tags", "batch", "note")


def _postgres_only() -> None:
    if backend() != "postgresql":
        pytest.skip("column chunks are PostgreSQL's; they run in the PostgreSQL pass of the suite")


def _staged(session: Any) -> tuple[int, Any]:
    """The plant's three days and the odd rows, all through the writer's bulk insert."""
    return _staged_rows(session, odd_through_writer=True)


def _chunked(session: Any, org: int, names: Any, after: int = 0, limit: int = 2**31 - 1,
             text: tuple[str, ...] = TEXT) -> Any:
    from orgcarbon.scale.cleaning import Window, _from_arrays
    from orgcarbon.scale.pg_chunks import read_chunks

    arrays = read_chunks(session, org, "2023-01", after, limit, text)
    return None if arrays is None else _from_arrays(arrays.ordered(), Window(org, "2023-01", after, limit), names)


def test_chunks_hold_what_the_rows_hold(app: Flask) -> None:
    """Same ids, text, numbers and times as the generic SELECT, whole and cut windows; same rule outcome."""
    _postgres_only()
    from sqlalchemy import func, select

    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingChunk, StagingRow
    from orgcarbon.quality.rules_store import active_rules, definition_of

    with app.app_context():
        session = db.session
        org, names = _staged(session)
        chunks = session.scalars(select(StagingChunk).where(StagingChunk.organization_id == org)).all()
        rows = session.scalar(select(func.count()).select_from(StagingRow).where(StagingRow.organization_id == org,
                                                                                  StagingRow.status == "new"))
        assert len(chunks) >= 2 and sum(c.rows for c in chunks) == rows  # one per batch and month
        generic = _generic(session, org, names)
        chunked = _chunked(session, org, names)
        assert chunked is not None and len(generic) > 1000
        _assert_same(chunked, generic)
        assert {"process_flux", ""} <= set(np.asarray(chunked.text["category"], dtype=object).tolist())
        assert "P01-T0001, 备用表" in chunked.text["tags"].categories and "mqtt" in chunked.text["source"].categories
        assert np.nanmax(chunked.number("ncv")) == 26.7 and "file.xlsx#3" in chunked.text["note"].categories
        assert "key-1" in chunked.text["note"].categories and "odd-2" in chunked.text["batch"].categories
        ids = generic.row_id
        after, limit = int(ids[len(ids) // 3]), int(ids[2 * len(ids) // 3])
        _assert_same(_chunked(session, org, names, after, limit), _generic(session, org, names, after, limit))
        rules = [definition_of(r) for r in active_rules(session, org) if (r.level or "record") == "record"]
        rules += [rule_from_dict(r) for r in [*EXTRA, KEYED]]
        expected = columnar_outcome(_generic(session, org, names), rules)
        assert columnar_outcome(_chunked(session, org, names), rules) == expected
        assert expected[1]["dedupe-exact"] > 0 and expected[1]["low-first-tag"] > 0
        # Without lab values in the window the lab columns are left out, as the array fetch does.
        first_odd = int(session.scalar(select(func.min(StagingRow.id)).where(StagingRow.batch_id == "odd")))
        bare = _chunked(session, org, names, 0, first_odd - 1)
        assert set(bare.numbers) == {"quantity"}
        _assert_same(bare, _generic(session, org, names, 0, first_odd - 1))


def test_changed_or_foreign_rows_send_cleaning_back_to_the_rows(app: Flask) -> None:
    """An UPDATE or DELETE marks its partition up to the id it touched; an INSERT outside the writer
    marks every partition up to max(id). Windows reaching a mark get ``None`` (read the rows)."""
    _postgres_only()
    from sqlalchemy import delete, func, select, text, update

    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import ChunkState, StagingChunk, StagingPartition, StagingRow

    with app.app_context():
        session = db.session
        org, names = _staged(session)
        ids = session.scalars(select(StagingRow.id).where(StagingRow.organization_id == org)
                              .order_by(StagingRow.id)).all()
        assert _chunked(session, org, names) is not None
        changed = ids[100]
        session.execute(update(StagingRow).where(StagingRow.id == changed).values(quantity=1e9))
        session.commit()
        assert session.get(StagingPartition, (org, "2023-01")).unchunked_through_id == changed
        # Chunks that end at or below the mark can never be read again: the trigger deleted them.
        last_ids = session.scalars(select(StagingChunk.last_id).where(StagingChunk.organization_id == org)).all()
        assert last_ids and min(last_ids) > changed
        assert _chunked(session, org, names) is None  # the chunk still says the old quantity
        assert _chunked(session, org, names, changed - 1) is None
        after = _chunked(session, org, names, changed)  # a window above the change trusts the chunks
        _assert_same(after, _generic(session, org, names, changed))
        gone = ids[500]
        session.execute(delete(StagingRow).where(StagingRow.id == gone))
        session.commit()
        session.expire_all()
        assert session.get(StagingPartition, (org, "2023-01")).unchunked_through_id == gone
        assert _chunked(session, org, names, changed) is None
        # An ORM insert does not come with chunks: every window below its id reads the rows.
        state = session.scalar(select(ChunkState.unchunked_through_id))
        session.add(StagingRow(source="form", batch_id="orm", organization_id=org, month="2023-01", quantity=1.0,
                               status="new"))
        session.commit()
        newest = session.scalar(select(func.max(StagingRow.id)))
        assert session.scalar(select(ChunkState.unchunked_through_id)) == newest > state
        assert _chunked(session, org, names, gone) is None
        assert _chunked(session, org, names, newest) is not None
        assert session.scalar(select(func.count()).select_from(StagingChunk)) == 0  # all at or below it
        # Chunks emptied by hand (TRUNCATE) leave no staged row unseen: the insert mark rises.
        from orgcarbon.collection.staging import ROW_FIELDS
        from orgcarbon.collection.staging_sql import insert_rows

        insert_rows(session, ROW_FIELDS, [tuple({"record_key": "late", "source": "api", "batch_id": "late",
                                                 "organization_id": org, "month": "2023-01", "quantity": 2.0,
                                                 "status": "new", "received_at": dt.datetime.now(dt.UTC)}.get(n)
                                                for n in ROW_FIELDS)])
        session.commit()
        late = session.scalar(select(func.max(StagingRow.id)))
        assert late > newest and _chunked(session, org, names, newest).row_id.tolist() == [late]
        session.execute(text("TRUNCATE st_chunk"))
        session.commit()
        assert session.scalar(select(ChunkState.unchunked_through_id)) == late
        assert _chunked(session, org, names, newest) is None


def test_cleaning_reads_chunks_and_deletes_those_its_mark_passes(app: Flask) -> None:
    """clean_partition reads from chunks, deletes them with its mark, and reads a late batch's chunk next time."""
    _postgres_only()
    from sqlalchemy import func, select

    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingChunk
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.stages import clean_partition, ingest_days

    with app.app_context():
        session = db.session
        layout = build_group(session, SPEC)
        session.commit()
        ingest_days(session, SPEC, 0, 0, 2)
        org = layout.plant_ids[0]
        first = clean_partition(session, org, 2023, 1)
        assert first["read_from"] == "chunks" and first["rows"] > 1000 and first["rejected"] > 0
        assert session.scalar(select(func.count()).select_from(StagingChunk)) == 0
        ingest_days(session, SPEC, 0, 2, 1)  # a late day
        late = session.scalar(select(func.sum(StagingChunk.rows)))
        second = clean_partition(session, org, 2023, 1)
        assert second["read_from"] == "chunks" and second["rows"] == late > 0
        assert session.scalar(select(func.count()).select_from(StagingChunk)) == 0


def test_a_chunk_decodes_to_what_was_encoded() -> None:
    """Round trip with missing values, Chinese text and more than 255 labels; other bytes are refused."""
    count = 300
    stamp = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    ids = np.arange(1000, 1000 + count, dtype=np.int64)
    columns = {
        "subprocess_id": [3] * (count - 1) + [None], "material_id": [7] * count,
        "timestamp": [stamp + dt.timedelta(hours=i % 24) for i in range(count - 1)] + [None],
        "quantity": [float(i) for i in range(count - 1)] + [None],
        "unit": ["t"] * count, "source": ["api"] * count, "tags": [f"表{i}" for i in range(count)],
        "batch": ["b"] * count, "note": [None] * count, "category": [None] * (count - 1) + ["process_flux"],
        "ncv": [None] * count, "carbon_content": [None] * count, "oxidation_factor": [None] * count,
        "purity": [0.9] + [None] * (count - 1), "ef": [None] * count,
    }
    chunk = decode(encode(ids, columns))
    assert chunk.ids.tolist() == ids.tolist()
    assert chunk.pairs[0] == (3 << 32) | 7 and chunk.pairs[-1] == 7
    assert chunk.micros[1] - chunk.micros[0] == 3_600_000_000 and chunk.micros[-1] == np.iinfo(np.int64).min
    assert np.isnan(chunk.quantity[-1]) and chunk.quantity[5] == 5.0
    codes, labels = chunk.text["tags"]
    assert [labels[c] for c in codes.tolist()] == columns["tags"]
    assert chunk.text["note"][1] == [""] and chunk.text["category"][1][chunk.text["category"][0][-1]] == "process_flux"
    assert set(chunk.numbers) == {"purity"} and chunk.numbers["purity"][0] == 0.9
    data = encode(ids, columns)
    with pytest.raises(ValueError, match="格式不符"):
        decode(b"XXXX" + data[4:])
    with pytest.raises(ValueError, match="不完整|长度不符"):
        decode(data[:-8])
    with pytest.raises(ValueError, match="过短"):
        decode(b"OC")


def test_a_batch_becomes_one_chunk_per_plant_and_month_of_its_new_rows() -> None:
    """Rows of two plants and two months make three chunks; rows not stored new, or without a month, none."""
    names = ("organization_id", "month", "status", "quantity")
    rows = [(1, "2023-01", "new", 1.0), (1, "2023-02", "new", 2.0), (2, "2023-01", "new", 3.0),
            (1, "2023-01", "rejected", 4.0), (1, None, "new", 5.0), (1, "2023-01", "new", 6.0)]
    found = chunks_of(names, [list(c) for c in zip(*rows, strict=True)], np.arange(10, 16, dtype=np.int64))
    got = {(org, month): (first, last, n, decode(data).quantity.tolist()) for org, month, first, last, n, data in found}
    assert got == {(1, "2023-01"): (10, 15, 2, [1.0, 6.0]), (1, "2023-02"): (11, 11, 1, [2.0]),
                   (2, "2023-01"): (12, 12, 1, [3.0])}
