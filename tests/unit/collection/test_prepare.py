"""The column-wise path of the staging writer gives exactly the values of the row-wise path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from orgcarbon.collection import staging
from orgcarbon.collection.names import NameIndex
from orgcarbon.rules.units import default_units

BEIJING = timezone(timedelta(hours=8))
BASE = ("api", None, 7, None, "batch", "key-1", None, None, "new", None)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _index() -> NameIndex:
    return NameIndex(
        None, 1, {"东区": [1], "西区": [2]}, {None: [1, 2]},
        {"1#高炉": [(11, 1)], "加热炉": [(12, 2)]}, {"焦炭": 21, "天然气": 22}, default_units(),
    )


def _readings(count: int) -> list[dict[str, Any]]:
    combos = [("东区", "1#高炉", "焦炭", "t"), ("西区", "加热炉", "天然气", "10^4Nm3"), ("东区", None, None, "t")]
    rows = []
    for i in range(count):
        org, sub, material, unit = combos[i % 3]
        # 16:00 UTC on the last day of a month is already the next month in Beijing
        moment = datetime(2025, 1, 31, 15, 59, tzinfo=UTC) + timedelta(minutes=i) if i % 2 else \
            datetime(2025, 3, 1, 8, i % 60, tzinfo=BEIJING)
        rows.append({"organization": org, "sub_process": sub, "material": material, "unit": unit,
                     "quantity": 100.0 + i / 8, "time": moment, "tags": ["a", "b"] if i % 4 else ["x"],
                     "ncv": 28.4 if i % 5 else None, "ef": 2.5, "record_key": f"c/{i}",
                     "reference": f"api:c:k#{i + 1}"})
    return rows


def _row_wise(rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(staging, "_prepare_clean", lambda *args: None)
        return staging._prepare(rows, _index(), BASE, NOW)


def test_clean_batch_takes_the_column_path_with_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean API batch: same values, same order, month in China time, nothing rejected."""
    rows = _readings(30)
    clean = staging._prepare_clean(rows, _index(), BASE, NOW)
    assert clean is not None
    assert (clean, []) == _row_wise(rows, monkeypatch)
    first = dict(zip(staging.ROW_FIELDS, clean["c/1"], strict=True))
    assert first["month"] == "2025-02" and first["timestamp"] == datetime(2025, 1, 31, 16, tzinfo=UTC)
    assert first["organization_id"] == 2 and first["subprocess_id"] == 12 and first["tags"] == "a,b"
    assert first["row"] == 2 and first["received_at"] == NOW and first["raw"] is None


@pytest.mark.parametrize("change", [
    {"quantity": 5},  # an int: converted row by row
    {"quantity": float("nan")},
    {"month": "2025-02"},
    {"category": "燃料燃烧"},
    {"attributes": {"meter": "M1"}},
    {"organization": "北区"},  # unknown: rejected with its reason
    {"record_key": "c/0"},  # repeated key: the last one wins
    {"record_key": " c/5"},
    {"reference": None},
    {"time": datetime(2025, 3, 1, 8)},  # naive: China time
    {"time": "2025-03-01T08:00:00+08:00"},
    {"tags": "a"},
    {"tags": [["x"]]},
    {"ncv": "28"},
    {"sub_process": ["list"]},
])
def test_any_other_batch_goes_row_by_row(change: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """One row that is not clean sends the batch the row-wise way: same values, same reasons."""
    rows = _readings(12)
    rows[5] = {**rows[5], **change}
    assert staging._prepare_clean(rows, _index(), BASE, NOW) is None
    assert staging._prepare(rows, _index(), BASE, NOW) == _row_wise(rows, monkeypatch)
