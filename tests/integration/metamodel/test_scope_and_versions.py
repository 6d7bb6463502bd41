"""Data scope (API and pages) and versions: publish, frozen versions, new version, as-of, history."""

from __future__ import annotations

import time

from flask import Flask

from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import acting_as
from orgcarbon.security.scope import org_scope
from tests.conftest import login
from tests.integration.metamodel.helpers import PASSWORDS, Api


def _west_modeller(app: Flask) -> None:
    """A modeller who belongs to 西区 only (write permission, limited scope)."""
    from sqlalchemy import select

    from orgcarbon.metamodel.models import Organization, UserOrganization

    with app.app_context(), acting_as("test"):
        sm = app.appbuilder.sm
        user = sm.add_user("westmod", "西", "建模", "w@example.invalid", sm.find_role("建模管理员"), password="Demo-west-1")
        west = db.session.scalar(select(Organization).where(Organization.name == "西区"))
        db.session.add(UserOrganization(user_id=user.id, organization_id=west.id))
        db.session.commit()
    PASSWORDS["westmod"] = "Demo-west-1"


def test_scope_function_gives_subtrees(app: Flask) -> None:
    with app.app_context():
        sm = app.appbuilder.sm
        filler, modeller, admin = (sm.find_user(username=n) for n in ("filler", "modeller", "admin"))
        assert org_scope(admin).is_global
        assert len(org_scope(modeller).readable or ()) == 4  # group, company, two sites
        assert len(org_scope(filler).readable or ()) == 1  # 西区 only


def test_other_site_is_invisible_and_untouchable(app: Flask) -> None:
    _west_modeller(app)
    admin, west = Api(app), Api(app, "westmod")
    east_sub = admin.find("subprocess", "name", "1#高炉")["id"]
    east_proc = admin.find("process", "name", "炼铁")["id"]
    names = {r["name"] for r in west.get("subprocess/?q=(page_size:100)").get_json()["result"]}
    assert "1#高炉" not in names and "加热炉" in names
    assert west.get(f"subprocess/{east_sub}").status_code == 404
    assert west.put(f"subprocess/{east_sub}", {"capacity": 1.0}).status_code == 404
    assert west.delete(f"subprocess/{east_sub}").status_code == 404
    refused = west.post("subprocess/", {"name": "3#高炉", "main_process": east_proc, "status": "active"})
    assert refused.status_code == 403 and "数据范围" in refused.get_json()["message"]
    west_proc = west.find("process", "name", "轧钢")["id"]
    moved = west.find("subprocess", "name", "热轧")["id"]
    assert west.put(f"subprocess/{moved}", {"main_process": east_proc}).status_code == 403
    assert west.post("subprocess/", {"name": "精整", "main_process": west_proc, "status": "active"}).status_code == 201
    # The pages apply the same scope.
    client = app.test_client()
    login(client, "filler", PASSWORDS["filler"])
    assert "1#高炉" not in client.get("/subprocessview/list/?psize_SubProcessView=100").get_data(as_text=True)
    assert client.get(f"/subprocessview/show/{east_sub}").status_code == 404
    assert client.get(f"/metamodel/history/subprocess/{east_sub}").status_code == 404


def test_versions_publish_freeze_new_version_as_of_and_history(app: Flask) -> None:
    api = Api(app)
    material = api.find("material", "name", "无烟煤")["id"]
    body = {"code": "test/v/ncv", "kind": "ncv", "material": material, "value": 20.0, "unit": "GJ/t",
            "regime": "测试方法", "grade": "A"}
    v1 = api.post("factor/", body).get_json()["id"]
    assert api.put(f"factor/{v1}", {"value": 20.5}).status_code == 200  # a draft is edited in place
    assert api.post(f"factor/{v1}/publish").status_code == 200
    frozen = api.put(f"factor/{v1}", {"value": 21.0})
    assert frozen.status_code == 409 and "已发布的版本不可修改" in frozen.get_json()["message"]
    assert api.delete(f"factor/{v1}").status_code == 409
    published_v1 = api.get(f"factor/{v1}").get_json()["result"]
    time.sleep(1.1)  # as-of reads compare timestamps: keep v1's moment apart from v2's
    middle = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    time.sleep(1.1)
    v2 = api.post(f"factor/{v1}/new_version").get_json()["id"]
    assert api.put(f"factor/{v2}", {"value": 21.0}).status_code == 200
    assert api.post(f"factor/{v2}/publish").status_code == 200
    assert api.get(f"factor/{v1}").get_json()["result"]["status"] == "superseded"
    then = api.get(f"factor/as_of?date={middle}").get_json()["result"]
    now = api.get("factor/as_of").get_json()["result"]
    assert [r["value"] for r in then if r["code"] == "test/v/ncv"] == [20.5]
    assert [r["value"] for r in now if r["code"] == "test/v/ncv"] == [21.0]
    assert published_v1["published_at"] is not None
    history = api.get(f"factor/{v2}/history").get_json()["result"]
    assert [h["username"] for h in history] == ["admin"] * len(history)
    edit = next(h for h in history if h["action"] == "update" and any(c["field"] == "value" for c in h["changes"]))
    assert {"field": "value", "label": "数值", "before": 20.0, "after": 20.5} in edit["changes"]
    client = app.test_client()
    login(client, "admin", PASSWORDS["admin"])
    page = client.get(f"/metamodel/history/factor/{v2}").get_data(as_text=True)
    assert "<del>20.0</del>" in page and "<ins>20.5</ins>" in page
