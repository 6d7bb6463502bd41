"""对标值 as data: the demo rows, Chinese validation on every field, data scope, global rows for administrators."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from orgcarbon.analysis.benchmarks import DEMO_BENCHMARKS, DEMO_SOURCE, seed_demo_benchmarks
from orgcarbon.analysis.models import Benchmark
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, login


def _org(name: str) -> int:
    return int(db.session.scalar(select(Organization.id).where(Organization.name == name)))


def _rows(app: Flask) -> dict[str, Benchmark]:
    with app.app_context():
        rows = {b.name: b for b in db.session.scalars(select(Benchmark))}
        for row in rows.values():
            db.session.expunge(row)
        return rows


def _form(**change: Any) -> dict[str, Any]:
    form = {"name": "测试对标值", "organization": "", "process_name": "", "product": "粗钢", "value": "1.6",
            "unit": "tCO2/t", "scope": "total", "year": "", "source": "测试来源：企业内部目标文件第 3 条", "note": ""}
    return {**form, **change}


def test_demo_loader_seeds_the_benchmarks_once_with_their_sources(app: Flask) -> None:
    """Three demo rows; only the CBAM one cites a figure, the others say they are invented; reseeding adds none."""
    rows = _rows(app)
    assert set(rows) == {row["name"] for row in DEMO_BENCHMARKS}
    cbam = rows["欧盟 CBAM 高炉-转炉路线基准（直接排放，参考）"]
    assert (cbam.value, cbam.scope, cbam.organization_id, cbam.product) == (1.370, "direct", None, "粗钢")
    assert "2025/2620" in cbam.source and "未经核实" in cbam.source
    invented = [r for r in rows.values() if r is not cbam]
    assert all(r.source == DEMO_SOURCE == "示例对标值（虚构，仅用于演示）" for r in invented)
    with app.app_context():
        group = db.session.get(Organization, _org("华钢集团"))
        assert all(r.organization_id == group.id for r in invented)
        assert seed_demo_benchmarks(db.session, group) == 0
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Benchmark)) == 3


@pytest.mark.parametrize(("change", "message"), [
    ({"value": "0"}, "对标值：对标值应大于 0"),
    ({"value": "-1.2"}, "对标值应大于 0"),
    ({"source": ""}, "来源：请写明对标值的来源"),
    ({"name": ""}, "名称：不能为空"),
    ({"unit": "kgCO2/t"}, "单位应为 tCO2/t 或 tCO2e/t"),
    ({"year": "1800"}, "年份应在 1990–2100 之间"),
    ({"product": "不存在的产品"}, "物料中没有“不存在的产品”"),
    ({"process_name": "不存在的工序"}, "都没有名为“不存在的工序”的工序"),
    ({"process_name": "轧钢", "organization": "东区"}, "所选组织及其下级都没有名为“轧钢”的工序"),
])
def test_each_field_is_validated_in_chinese_and_nothing_is_saved(
        app: Flask, client: FlaskClient, change: dict[str, str], message: str) -> None:
    """A refused add shows the form again with the reason; no row is written."""
    with app.app_context():
        if change.get("organization"):
            change = {**change, "organization": str(_org(change["organization"]))}
    login(client, "modeller", "Demo-modeller-1")
    change.setdefault("organization", str(_org_id(app, "华钢集团")))
    page = client.post("/benchmarkview/add", data=_form(**change), follow_redirects=True).get_data(as_text=True)
    assert message in page
    assert "测试对标值" not in _rows(app)


def _org_id(app: Flask, name: str) -> int:
    with app.app_context():
        return _org(name)


def test_modeller_keeps_rows_of_own_subtree_but_not_global_ones(app: Flask, client: FlaskClient) -> None:
    """建模管理员 (华钢集团): adds a 东区 炼铁 row; a global row is refused to add, edit and delete."""
    login(client, "modeller", "Demo-modeller-1")
    east = _org_id(app, "东区")
    saved = client.post("/benchmarkview/add", data=_form(organization=str(east), process_name="炼铁", product="生铁",
                                                         value="1.45", year="2024"), follow_redirects=True)
    assert saved.status_code == 200
    row = _rows(app)["测试对标值"]
    assert (row.organization_id, row.process_name, row.product, row.value, row.year) == (east, "炼铁", "生铁", 1.45, 2024)

    page = client.post("/benchmarkview/add", data=_form(name="全局行"), follow_redirects=True).get_data(as_text=True)
    assert "适用于全部组织的对标值只有系统管理员可以新增、修改或删除" in page and "全局行" not in _rows(app)

    cbam = _rows(app)["欧盟 CBAM 高炉-转炉路线基准（直接排放，参考）"]
    edit = _form(name=cbam.name, value="9.9", source=cbam.source, scope="direct", unit="tCO2e/t")
    page = client.post(f"/benchmarkview/edit/{cbam.id}", data=edit, follow_redirects=True).get_data(as_text=True)
    assert "只有系统管理员" in page
    # Moving the global row into one's own subtree is the same change and is refused too.
    client.post(f"/benchmarkview/edit/{cbam.id}", data={**edit, "organization": str(east)}, follow_redirects=True)
    page = client.post(f"/benchmarkview/delete/{cbam.id}", follow_redirects=True).get_data(as_text=True)
    assert "只有系统管理员" in page
    after = _rows(app)[cbam.name]
    assert (after.value, after.organization_id) == (1.370, None)


def test_admin_may_change_global_rows(app: Flask, client: FlaskClient) -> None:
    """系统管理员 adds and edits a row for every organisation."""
    login(client, "admin", ADMIN_PASSWORD)
    client.post("/benchmarkview/add", data=_form(name="全局行", scope="direct"), follow_redirects=True)
    row = _rows(app)["全局行"]
    assert (row.organization_id, row.scope, row.value) == (None, "direct", 1.6)
    client.post(f"/benchmarkview/edit/{row.id}", data=_form(name="全局行", value="1.55"), follow_redirects=True)
    assert _rows(app)["全局行"].value == 1.55


def test_users_see_global_rows_and_their_own_subtree_only(app: Flask, client: FlaskClient) -> None:
    """填报员 of 西区 sees the global CBAM row but not 华钢集团's, and may not add; an outsider's row stays hidden."""
    login(client, "filler", "Demo-filler-1")
    page = client.get("/benchmarkview/list/").get_data(as_text=True)
    assert "欧盟 CBAM" in page and "集团吨钢排放强度目标" not in page
    refused = client.post("/benchmarkview/add", data=_form(organization=str(_org_id(app, "西区"))))
    assert refused.status_code in (302, 403) and "测试对标值" not in _rows(app)
    group_row = _rows(app)["集团吨钢排放强度目标（示例）"]
    assert client.get(f"/benchmarkview/show/{group_row.id}").status_code == 404
    client.get("/logout/")
    login(client, "modeller", "Demo-modeller-1")
    page = client.get("/benchmarkview/list/").get_data(as_text=True)
    assert "欧盟 CBAM" in page and "集团吨钢排放强度目标" in page and "示例对标值（虚构，仅用于演示）" in page
