"""Create, read, update and delete every metamodel entity through the REST API and the pages."""

from __future__ import annotations

from flask import Flask

from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.metamodel.helpers import Api

FORMULA = {
    "name": "测试/数量×因子", "activity": "quantity", "factor": "ef", "variables": "quantity=t, ef=tCO2/t",
    "result_unit": "tCO2", "test_cases": '[{"inputs": {"quantity": 2, "ef": 1.5}, "expected": 3}]',
}


def _crud(api: Api, resource: str, body: dict, change: dict) -> int:
    created = api.post(f"{resource}/", body)
    assert created.status_code == 201, created.get_json()
    pk = created.get_json()["id"]
    assert api.put(f"{resource}/{pk}", change).status_code == 200
    shown = api.get(f"{resource}/{pk}").get_json()["result"]
    for key, value in change.items():
        assert shown[key] == value
    return pk


def test_every_entity_crud_through_the_api(app: Flask) -> None:
    api = Api(app)
    group = api.find("organization", "name", "华钢集团")["id"]
    org = _crud(api, "organization", {"name": "测试厂区", "level": "厂区", "parent": group,
                                      "uscc": "91110000100000000R", "grid_region": "华东"},
                {"address": "上海市"})
    proc = _crud(api, "process", {"name": "炼铁", "organization": org, "status": "active"}, {"capacity": 100.0})
    sub = _crud(api, "subprocess", {"name": "3#高炉", "main_process": proc, "status": "active"}, {"capacity": 5.0})
    assert api.get(f"subprocess/{sub}").get_json()["result"]["organization"]["id"] == org
    unit = _crud(api, "unit", {"symbol": "g", "dimension": "mass", "factor": 1e-6, "name_zh": "克"}, {"aliases": "克"})
    material = _crud(api, "material", {"name": "氢气", "category": "fuel", "unit": "10^4Nm3", "state": "gas"},
                     {"description": "绿氢"})
    factor = _crud(api, "factor", {"code": "test/氢气/ncv", "kind": "ncv", "material": material, "value": 10.8,
                                   "unit": "GJ/10^4Nm3", "regime": "GB/T 32151.5-2015", "grade": "A"},
                   {"value": 10.79})
    formula = _crud(api, "formula", FORMULA, {"description": "简单公式"})
    binding = _crud(api, "binding", {"subprocess": sub, "material": material, "direction": "in",
                                     "category": "fuel_combustion", "formula": formula}, {"direction": "out"})
    model = _crud(api, "accounting_model", {"name": "测试模型", "standard": "GB/T 32151.5-2015",
                                            "regime": "GB/T 32151.5-2015", "bindings": [binding]},
                  {"description": "说明"})
    activity = _crud(api, "activity", {"subprocess": sub, "material": material, "category": "fuel_combustion",
                                       "month": "2024-01", "quantity": 12.0, "unit": "10^4Nm3"}, {"quantity": 13.0})
    link = api.post("user_organization/", {"user": 1, "organization": org})
    assert link.status_code == 201
    # Delete in dependency order: every delete answers 200 and the row is gone.
    for resource, pk in [("user_organization", link.get_json()["id"]), ("activity", activity),
                         ("accounting_model", model), ("binding", binding), ("factor", factor),
                         ("formula", formula), ("subprocess", sub), ("process", proc), ("material", material),
                         ("unit", unit), ("organization", org)]:
        assert api.delete(f"{resource}/{pk}").status_code == 200, resource
        assert api.get(f"{resource}/{pk}").status_code == 404


def test_pages_add_edit_and_delete_a_material(app: Flask) -> None:
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    form = {"name": "测试介质", "category": "other", "unit": "t", "state": "solid"}
    assert client.post("/materialview/add", data=form, follow_redirects=True).status_code == 200
    api = Api(app)
    row = api.find("material", "name", "测试介质")
    page = client.post(f"/materialview/edit/{row['id']}", data={**form, "description": "改过"}, follow_redirects=True)
    assert page.status_code == 200
    assert api.get(f"material/{row['id']}").get_json()["result"]["description"] == "改过"
    shown = client.get(f"/materialview/show/{row['id']}").get_data(as_text=True)
    assert "测试介质" in shown and "其他" in shown  # the category shows its Chinese label
    client.post(f"/materialview/delete/{row['id']}", follow_redirects=True)
    assert api.get(f"material/{row['id']}").status_code == 404
