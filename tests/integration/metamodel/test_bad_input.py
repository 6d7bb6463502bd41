"""Bad input is refused with a Chinese message naming the field, through the API and the form."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.metamodel.helpers import Api


def _factor(api: Api, **change: object) -> dict:
    material = api.find("material", "name", "无烟煤")["id"]
    return {"code": "test/无烟煤/ncv", "kind": "ncv", "material": material, "value": 20.0, "unit": "GJ/t",
            "regime": "测试方法", "grade": "A", **change}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"value": -1.0}, "value", ["数值", "低位发热量", "负数"]),
        ({"kind": "of", "value": 93.0, "unit": "1"}, "value", ["数值", "0.93"]),
        ({"unit": "GJ/吨吨"}, "unit", ["单位", "未知单位"]),
        ({"unit": "tC/GJ"}, "unit", ["单位", "量纲"]),
        ({"kind": "process", "unit": "tCO2/t"}, "kind", ["44/12"]),
    ],
)
def test_factor_refusals(app: Flask, change: dict, field: str, words: list[str]) -> None:
    api = Api(app)
    response = api.post("factor/", _factor(api, **change))
    assert response.status_code == 422
    message = response.get_json()["message"][field][0]
    for word in words:
        assert word in message, message


def test_overlapping_validity_for_the_same_key_is_refused(app: Flask) -> None:
    api = Api(app)
    first = _factor(api, valid_from="2024-01-01", valid_to="2024-12-31")
    assert api.post("factor/", first).status_code == 201
    second = {**first, "code": "test/无烟煤/ncv-2", "valid_from": "2024-06-01", "valid_to": None}
    response = api.post("factor/", second)
    assert response.status_code == 422
    assert "有效期重叠" in response.get_json()["message"]["valid_from"][0]
    later = {**second, "valid_from": "2025-01-01"}
    assert api.post("factor/", later).status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"factor": "ef * oxidation"}, "factor", ["因子表达式", "未知变量", "oxidation"]),
        ({"activity": "quantity * ef"}, "result_unit", ["单位不一致"]),
        ({"activity": "quantity +"}, "activity", ["活动数据表达式"]),
    ],
)
def test_formula_refusals(app: Flask, change: dict, field: str, words: list[str]) -> None:
    api = Api(app)
    body = {"name": "坏公式", "activity": "quantity", "factor": "ef", "variables": "quantity=t, ef=tCO2/t",
            "result_unit": "tCO2", **change}
    response = api.post("formula/", body)
    assert response.status_code == 422
    message = response.get_json()["message"][field][0]
    for word in words:
        assert word in message, message


def test_bad_uscc_and_unknown_material_unit(app: Flask) -> None:
    api = Api(app)
    org = api.post("organization/", {"name": "坏代码公司", "level": "公司", "uscc": "91110000100000000X"})
    assert org.status_code == 422
    assert "统一社会信用代码：校验位错误" in org.get_json()["message"]["uscc"][0]
    material = api.post("material/", {"name": "怪料", "category": "other", "unit": "桶"})
    assert "未知单位" in material.get_json()["message"]["unit"][0]


def test_form_shows_the_refusal_and_saves_nothing(app: Flask) -> None:
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    form = {"name": "怪料", "category": "other", "unit": "桶", "state": "solid"}
    page = client.post("/materialview/add", data=form, follow_redirects=True).get_data(as_text=True)
    assert "单位：未知单位“桶”" in page
    api = Api(app)
    assert api.get("material/?q=(filters:!((col:name,opr:eq,value:'怪料')))").get_json()["count"] == 0


def test_refused_form_keeps_what_the_user_typed(app: Flask) -> None:
    """The form comes back (no redirect) with the typed values and the reason beside the field."""
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    form = {"name": "怪料", "category": "other", "unit": "桶", "state": "solid", "description": "保留我"}
    response = client.post("/materialview/add", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="怪料"' in page and "保留我" in page and 'value="桶"' in page
    assert page.count("未知单位“桶”") >= 2  # flash summary and beside the unit field
