"""Activity packages through the import pages: kept, validated per record in Chinese, all or nothing,
written as activity rows by the transfer module, and not imported twice."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openpyxl
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.forms.evidence import verify_file
from orgcarbon.forms.models import ImportBatch
from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.platform.extensions import db
from tests.conftest import login
from tests.integration.forms.workflow_helpers import org

YEAR = 2019  # the demo enterprise has no activity data for it


def _package(**record_changes: Any) -> dict[str, Any]:
    records = [
        {"process": "炼铁", "subprocess": "1#高炉", "category": "fuel_combustion", "material": "焦炭",
         "quantity": 1200, "unit": "t", "month": f"{YEAR}-01"},
        {"process": "炼钢", "subprocess": "1#转炉", "category": "process_flux", "material": "石灰石",
         "quantity": 300, "unit": "t", "month": f"{YEAR}-01"},
    ]
    records[1].update(record_changes)
    return {"format": "orgcarbon-activity/1", "standard": "GB/T 32151.5-2015", "organization": {"name": "西区"},
            "period": {"year": YEAR}, "electricity_ef": 0.5703, "records": records}


def _workbook(package: dict[str, Any]) -> bytes:
    wb = openpyxl.Workbook()
    info = wb.active
    info.title = "package"
    for key, value in (("format", package["format"]), ("standard", package["standard"]),
                       ("organization.name", "西区"), ("period.year", YEAR)):
        info.append([key, value])
    records = wb.create_sheet("records")
    headers = ["工序", "子工序", "月份", "类别", "物料", "数量", "单位"]
    keys = ["process", "subprocess", "month", "category", "material", "quantity", "unit"]
    records.append(headers)
    for record in package["records"]:
        records.append([record.get(k) for k in keys])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(client: Any, organization_id: int, content: bytes, name: str) -> ImportBatch:
    response = client.post("/forms/package", data={"organization_id": str(organization_id),
                                                   "file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    import_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    found = db.session.get(ImportBatch, import_id)
    assert found is not None
    return found


def _activity(organization_id: int) -> int:
    return int(db.session.scalar(select(func.count()).select_from(ActivityRecord).where(
        ActivityRecord.organization_id == organization_id, ActivityRecord.month.like(f"{YEAR}%"))) or 0)


def test_good_package_writes_activity_rows_once(app: Flask) -> None:
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    content = json.dumps(_package(), ensure_ascii=False).encode()
    with app.app_context():
        west = org(db.session, "西区").id
        batch = _upload(client, west, content, "西区-2019.json")
        assert batch.status == "done", batch.errors
        assert batch.kind == "package" and batch.form_id is None and batch.created_count == 2
        rows = db.session.scalars(select(ActivityRecord).where(ActivityRecord.organization_id == west,
                                                               ActivityRecord.month == f"{YEAR}-01")).all()
        assert sorted((r.material.name, r.quantity, r.source) for r in rows) == [
            ("焦炭", 1200.0, "package"), ("石灰石", 300.0, "package")]
        again = _upload(client, west, content, "again.json")
        assert again.status == "rejected" and again.message.endswith(f"（批次 #{batch.id}），未重复导入")
        assert _activity(west) == 2
    page = client.get(f"/forms/imports/{batch.id}").get_data(as_text=True)
    assert "已导入 2 条活动记录" in page


def test_unknown_material_in_a_package_is_refused_and_nothing_written(app: Flask) -> None:
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    content = json.dumps(_package(material="月球土"), ensure_ascii=False).encode()
    with app.app_context():
        west = org(db.session, "西区").id
        batch = _upload(client, west, content, "bad.json")
        assert batch.status == "rejected"
        assert [(e["row"], e["field"], e["value"], e["reason"]) for e in batch.errors] == [
            (2, "物料", "月球土", "未知物料（因子库中没有此物料）")]
        assert verify_file(app.instance_path, batch.stored_path, batch.sm3)
        assert _activity(west) == 0


def test_package_workbook_errors_name_sheet_row_and_column_and_are_annotated(app: Flask) -> None:
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    content = _workbook(_package(quantity=-30))
    with app.app_context():
        west = org(db.session, "西区").id
        batch = _upload(client, west, content, "package.xlsx")
        assert batch.status == "rejected"
        error = batch.errors[0]
        assert (error["sheet"], error["row"], error["column"], error["field"]) == ("records", 3, "F", "数量")
        assert error["reason"] == "只有燃料燃烧的净消耗量可以为负数"
        assert _activity(west) == 0
        report = openpyxl.load_workbook(io.BytesIO((Path(app.instance_path) / batch.report_path).read_bytes()))
        assert "只有燃料燃烧" in report["records"]["F3"].comment.text


def test_package_outside_the_users_scope_is_refused_without_keeping_it(app: Flask) -> None:
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")  # 西区 only
    with app.app_context():
        east = org(db.session, "东区").id
        response = client.post("/forms/package", data={"organization_id": str(east), "file": (
            io.BytesIO(json.dumps(_package()).encode()), "p.json")}, content_type="multipart/form-data")
        assert response.status_code == 302 and response.headers["Location"].endswith("/forms/package")
        assert db.session.query(ImportBatch).count() == 0 and _activity(east) == 0
