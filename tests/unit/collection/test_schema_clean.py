"""The column-wise check of clean reading batches gives exactly the rows of the per-reading check."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orgcarbon.collection import schema


def _body(count: int) -> dict[str, Any]:
    combos = [("东区", "1#高炉", "焦炭", "t"), (" 西区 ", "加热炉", "天然气", "10^4Nm3"), (None, "喷煤", "烟煤", "t")]
    readings = []
    for i in range(count):
        org, sub, material, unit = combos[i % 3]
        reading: dict[str, Any] = {"sub_process": sub, "material": material, "unit": unit,
                                   "quantity": 100.5 + i if i % 2 else 100 + i,
                                   "time": f"2025-03-01T08:{i % 60:02d}:00+08:00" if i % 4 else f"2025-03-01T00:{i % 60:02d}:00"}
        if org is not None:
            reading["organization"] = org
        if i % 3:
            reading["tags"] = ["bench"] if i % 2 else ["a", "b"]
        if i % 5:
            reading["parameters"] = {"ncv": 28.435, "ef": 2, "purity": None} if i % 2 else {}
        readings.append(reading)
    return {"idempotency_key": "batch-1", "readings": readings}


def _per_reading(body: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(schema, "_clean_readings", lambda *args: None)
        try:
            return schema.parse_readings(body, "client-1")
        except schema.SchemaError as exc:
            return exc.errors


def test_clean_batch_gives_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names stripped, ints kept, naive and aware times, record keys from the reading's identity."""
    body = _body(30)
    clean = schema._clean_readings(body["readings"], "client-1")
    assert clean is not None
    batch = schema.parse_readings(body, "client-1")
    assert batch == _per_reading(body, monkeypatch)
    assert list(batch.rows[1]) == ["organization", "sub_process", "material", "unit", "quantity", "ncv", "ef",
                                   "purity", "tags", "time", "record_key"]
    assert batch.rows[1]["organization"] == "西区"
    assert batch.rows[1]["record_key"] == "client-1/西区|加热炉|天然气|2025-03-01T08:01:00+08:00"
    assert batch.rows[2]["organization"] is None and batch.rows[2]["record_key"].startswith("client-1/|喷煤|")


@pytest.mark.parametrize("change", [
    {"id": "m-1"},
    {"attributes": {"meter": "M1"}},
    {"quantity": True},
    {"quantity": "5"},
    {"time": "yesterday"},
    {"time": 20250301},
    {"unit": ""},
    {"unit": "x" * 33},
    {"material": ["焦炭"]},
    {"tags": []},
    {"tags": ["a", ""]},
    {"tags": "a"},
    {"parameters": {"ncv": "28"}},
    {"parameters": {"nvc": 28.0}},
    {"parameters": []},
    {"colour": "red"},
    {"material": "焦" * 200},  # the identity is too long for a record key: hashed
])
def test_any_other_batch_is_checked_reading_by_reading(change: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """One reading that is not clean sends the batch the per-reading way: same rows, same errors."""
    body = _body(9)
    body["readings"][4] = {**body["readings"][4], **change}
    assert schema._clean_readings(body["readings"], "client-1") is None
    expected = _per_reading(copy.deepcopy(body), monkeypatch)
    try:
        assert schema.parse_readings(body, "client-1") == expected
    except schema.SchemaError as exc:
        assert exc.errors == expected


def test_not_a_list_of_objects_is_refused_the_same_way() -> None:
    """A reading that is not an object: the per-reading error with its position."""
    with pytest.raises(schema.SchemaError) as refused:
        schema.parse_readings({"idempotency_key": "k", "readings": [*_body(2)["readings"], 5]}, "c")
    assert refused.value.errors == ["readings[2]：应为对象"]
