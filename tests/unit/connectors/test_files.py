"""Watched folder: CSV, Excel and logs picked up once (SM3 ledger), moved to done/ or failed/."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from orgcarbon.connectors import (
    MemoryWatermarkStore,
    RetryPolicy,
    SyncRunner,
    create_connector,
    parse_mapping,
)
from orgcarbon.connectors.mapping import MappedBatch
from orgcarbon.security.crypto import sm3_hex

MAPPING = parse_mapping(
    {
        "fields": {
            "organization": {"field": "厂区"},
            "material": {"field": "物料"},
            "quantity": {"field": "用量"},
            "unit": {"field": "单位"},
            "time": {"field": "日期"},
        },
        "target_unit": "t",
    }
)
CSV = "厂区,物料,用量,单位,日期\n一厂,焦炭,1200,kg,2025-03-01\n二厂,焦炭,3.5,t,2025-03-02\n"


def run(folder: Path, fail: bool = False) -> tuple[list[MappedBatch], str]:
    got: list[MappedBatch] = []

    def sink(batch: MappedBatch) -> None:
        if fail:
            raise RuntimeError("sink down")
        got.append(batch)

    connector = create_connector(
        "files",
        "f1",
        {
            "folder": str(folder),
            "log_pattern": r"(?P<厂区>\S+) (?P<物料>\S+) (?P<用量>[0-9.]+)(?P<单位>\w+) (?P<日期>\S+)",
        },
    )
    entry = SyncRunner(
        connector, MAPPING, sink, MemoryWatermarkStore(), RetryPolicy(attempts=1)
    ).run_once()
    return got, entry.status


def test_csv_excel_and_log_are_imported_once_and_moved(tmp_path: Path) -> None:
    """Three formats map to the same rows; a re-run and a renamed copy import nothing again."""
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["厂区", "物料", "用量", "单位", "日期"], ["三厂", "煤", 2000, "kg", "2025-03-03"]):
        sheet.append(row)
    book.save(tmp_path / "b.xlsx")
    (tmp_path / "c.log").write_text("四厂 天然气 7t 2025-03-04\n\n", encoding="utf-8")

    got, status = run(tmp_path)
    frame = got[0].frame
    assert status == "success"
    assert list(zip(frame["organization"], frame["quantity"], frame["unit"], strict=True)) == [
        ("一厂", 1.2, "t"),
        ("二厂", 3.5, "t"),
        ("三厂", 2.0, "t"),
        ("四厂", 7.0, "t"),
    ]
    digest = sm3_hex(CSV.encode())
    assert frame["record_key"][0] == f"{digest}:1" and frame["reference"][0] == "a.csv#1"
    assert sorted(
        p.name for p in (tmp_path / "done").iterdir() if not p.name.endswith(".json")
    ) == ["a.csv", "b.xlsx", "c.log"]
    assert json.loads((tmp_path / "done" / "a.csv.result.json").read_text("utf-8"))["rows"] == 2

    (tmp_path / "again.csv").write_text(CSV, encoding="utf-8")
    got, _ = run(tmp_path)
    assert got[0].accepted == 0
    result = json.loads((tmp_path / "done" / "again.csv.result.json").read_text("utf-8"))
    assert (result["status"], result["first_imported_as"]) == ("duplicate", "a.csv")


def test_failed_sink_leaves_files_waiting_and_bad_files_go_to_failed(tmp_path: Path) -> None:
    """Nothing moves until the sink accepts; an unreadable file is set aside with its reason."""
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    _, status = run(tmp_path, fail=True)
    assert status == "failed" and (tmp_path / "a.csv").exists()
    assert (
        "Excel"
        in json.loads((tmp_path / "failed" / "bad.xlsx.result.json").read_text("utf-8"))["error"]
    )
    got, status = run(tmp_path)
    assert status == "success" and got[0].accepted == 2 and not (tmp_path / "a.csv").exists()
