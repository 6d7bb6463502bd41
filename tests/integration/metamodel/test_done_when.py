"""Issue 3's "done when", through the pages only: 3#高炉, 氢气, its factor and formula, bind, publish."""

from __future__ import annotations

import json

from flask import Flask

from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.metamodel.helpers import PASSWORDS, Api


def _post(client, url: str, data: dict) -> str:  # type: ignore[no-untyped-def]
    response = client.post(url, data=data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_administrator_models_a_new_process_through_the_ui(app: Flask) -> None:
    client, api = app.test_client(), Api(app)
    login(client, "admin", ADMIN_PASSWORD)
    iron = api.find("process", "name", "炼铁")["id"]
    _post(client, "/subprocessview/add", {"name": "3#高炉", "main_process": iron, "status": "active", "capacity": "4000"})
    _post(client, "/materialview/add", {"name": "氢气", "category": "fuel", "unit": "10^4Nm3", "state": "gas"})
    h2 = api.find("material", "name", "氢气")["id"]
    factors = [("ncv", "10.8", "GJ/10^4Nm3"), ("cc", "0", "tC/GJ"), ("of", "0.99", "1")]
    for kind, value, unit in factors:
        _post(client, "/factorview/add", {"code": f"demo/氢气/{kind}", "kind": kind, "material": h2, "value": value,
                                          "unit": unit, "regime": "GB/T 32151.5-2015", "grade": "A", "measured": "y"})
    cases = [{"inputs": {"quantity": 10, "ncv": 10.8, "cc": 0, "of": 0.99}, "expected": 0}]
    _post(client, "/formulaview/add", {
        "name": "氢气燃烧", "activity": "quantity * ncv", "factor": "cc * of * 44 / 12",
        "variables": "quantity=10^4Nm3, ncv=GJ/10^4Nm3, cc=tC/GJ, of=1", "activity_unit": "GJ",
        "factor_unit": "tCO2/GJ", "result_unit": "tCO2", "test_cases": json.dumps(cases)})
    formula = api.find("formula", "name", "氢气燃烧")["id"]
    sub = api.find("subprocess", "name", "3#高炉")["id"]
    _post(client, "/bindingview/add", {"subprocess": sub, "material": h2, "direction": "in",
                                       "category": "fuel_combustion", "formula": formula})
    binding = max(api.get("binding/?q=(page_size:100)").get_json()["ids"])
    for kind, _, _ in factors:
        factor = api.find("factor", "code", f"demo/氢气/{kind}")["id"]
        _post(client, f"/factorview/action/publish/{factor}", {})
    _post(client, f"/formulaview/action/publish/{formula}", {})
    _post(client, f"/bindingview/action/publish/{binding}", {})
    model = api.find("accounting_model", "status", "published")
    draft_page = _post(client, f"/accountingmodelview/action/new_version/{model['id']}", {})
    assert "已创建下一版本的草稿" in draft_page
    draft = api.find("accounting_model", "status", "draft")
    ids = [b["id"] for b in api.get(f"accounting_model/{draft['id']}").get_json()["result"]["bindings"]]
    page = _post(client, f"/accountingmodelview/edit/{draft['id']}",
                 {"name": draft["name"], "standard": "GB/T 32151.5-2015", "regime": "GB/T 32151.5-2015",
                  "organization": api.find("organization", "name", "华钢集团")["id"], "bindings": [*ids, binding]})
    assert "版本已发布" in _post(client, f"/accountingmodelview/action/publish/{draft['id']}", {}), page[-2000:]

    shown = api.get(f"accounting_model/{draft['id']}").get_json()["result"]
    assert shown["status"] == "published" and shown["version"] == 2
    assert binding in [b["id"] for b in shown["bindings"]]
    history = api.get(f"accounting_model/{draft['id']}/history").get_json()["result"]
    assert any(c["field"] == "status" and c["after"] == "published" for h in history for c in h["changes"])
    assert "3#高炉" in client.get(f"/metamodel/history/subprocess/{sub}").get_data(as_text=True)
    # A data-entry user of the other site sees none of it.
    filler = Api(app, "filler")
    assert filler.get(f"subprocess/{sub}").status_code == 404
    assert filler.get(f"binding/{binding}").status_code == 404
    assert PASSWORDS["filler"]
