"""Quality rules as versioned data: refused definitions, second-person publishing, immutability, active set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import QualityRule
from orgcarbon.quality.rules_store import RuleRefused, active_rules
from tests.conftest import login, run_cli
from tests.integration.quality.helpers import Api, add_second_modeller, org_id, rule_body

# (change to a valid rule, field, Chinese reason, line, column)
BAD_DEFINITIONS = [
    ({"condition": "ncv > (high"}, "condition", "括号未闭合", 1, 7),
    ({"condition": "nvc > high"}, "condition", '未知变量 "nvc"', 1, 1),
    ({"condition": "ncv.real > high"}, "condition", "不允许访问属性（.）", 1, 1),
    ({"kind": "cleaning"}, "action", '动作 "flag" 不适用于清洗规则', None, None),
]


def _rule_count() -> int:
    return db.session.scalar(select(func.count()).select_from(QualityRule))


def test_demo_holds_the_default_pack_published_by_system(app: Flask) -> None:
    """``orgcarbon demo`` imported the 13 rules of the steel pack as published version 1, author system."""
    with app.app_context():
        rules = db.session.scalars(select(QualityRule).order_by(QualityRule.code)).all()
        assert len(rules) == 13
        assert {r.status for r in rules} == {"published"} and {r.version for r in rules} == {1}
        assert {r.author_name for r in rules} == {"system"}
        ncv = next(r for r in rules if r.code == "ncv-solid-range")
        assert ncv.kind == "validation" and ncv.severity == "error" and ncv.definition["params"]["ncv_low"] == 5
        assert len(active_rules(db.session, org_id("东区"))) == 13


@pytest.mark.parametrize(("change", "field", "reason", "line", "column"), BAD_DEFINITIONS)
def test_bad_definition_is_refused_by_the_api_with_its_position(app: Flask, change: dict, field: str, reason: str,
                                                                 line: int | None, column: int | None) -> None:
    """Syntax, unknown variable, unsafe construct, action of the wrong kind: 422, the position, nothing saved."""
    with app.app_context():
        before = _rule_count()
    response = Api(app, "modeller").post("rules", rule_body("bad-rule", **change))
    assert response.status_code == 422, response.get_data(as_text=True)
    problems = response.get_json()["problems"]
    hit = [p for p in problems if p["field"] == field and reason in p["reason"]]
    assert hit, problems
    assert (hit[0]["line"], hit[0]["column"]) == (line, column)
    with app.app_context():
        assert _rule_count() == before


def _form(body: dict, **overrides: str) -> dict[str, str]:
    data = {
        "code": body["id"], "name": body["name"], "organization_id": "", "kind": body["kind"],
        "action": body["action"], "level": "record", "severity": body["severity"], "dimension": "", "join": "",
        "order": str(body["order"]), "enabled": "y", "condition": body["condition"],
        "scope": json.dumps(body["scope"], ensure_ascii=False), "params": json.dumps(body["params"]),
        "message": body["message"], "tests": json.dumps(body["tests"], ensure_ascii=False), "note": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("change", "field", "reason", "line", "column"), BAD_DEFINITIONS)
def test_bad_definition_is_refused_on_the_page_with_its_position(app: Flask, change: dict, field: str, reason: str,
                                                                  line: int | None, column: int | None) -> None:
    """The editor shows each problem in Chinese with field and line/column and saves nothing."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    with app.app_context():
        before = _rule_count()
    response = client.post("/quality/rules/new", data=_form(rule_body("bad-rule", **change)))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "rule-problems" in html and reason.replace('"', "&#34;") in html
    label = {"condition": "条件", "action": "动作"}[field]
    where = f"第 {line} 行第 {column} 列：" if line else ""
    assert f"{label}：{where}" in html
    with app.app_context():
        assert _rule_count() == before


def test_json_that_does_not_parse_is_a_problem_with_its_position(app: Flask) -> None:
    """A broken params text area is reported (line 2, column 12) and nothing is saved."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    response = client.post("/quality/rules/new", data=_form(rule_body("json-rule"), params='{\n  "high": 40,,\n}'))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "参数：第 2 行第 14 列：不是有效的 JSON" in html
    with app.app_context():
        assert db.session.scalar(select(QualityRule).where(QualityRule.code == "json-rule")) is None


def test_page_saves_a_valid_draft_and_shows_its_tests(app: Flask) -> None:
    """A valid form becomes draft version 1 authored by the user; its page shows the passing case."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    response = client.post("/quality/rules/new", data=_form(rule_body("coke-ncv-high")))
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.scalar(select(QualityRule).where(QualityRule.code == "coke-ncv-high"))
        assert (rule.version, rule.status, rule.author_name) == (1, "draft", "modeller")
        assert rule.definition["params"] == {"high": 40} and rule.definition["scope"] == {"materials": ["焦炭"]}
        rule_id = rule.id
    page = client.get(f"/quality/rules/{rule_id}").get_data(as_text=True)
    assert "通过：命中行 [1]" in page
    listing = client.get("/quality/rules/").get_data(as_text=True)
    assert "coke-ncv-high" in listing and "ncv-solid-range" in listing


def test_author_cannot_publish_own_draft_a_second_person_can(app: Flask) -> None:
    """Publishing needs a second holder of write on Rules; then the draft is published by that person."""
    add_second_modeller(app)
    author = Api(app, "modeller")
    draft = author.post("rules", rule_body("coke-ncv-high"))
    assert draft.status_code == 201
    rule_id = draft.get_json()["result"]["id"]
    refused = author.post(f"rules/{rule_id}/publish")
    assert refused.status_code == 422
    assert "发布需要第二个人" in refused.get_json()["message"]
    published = Api(app, "modeller2").post(f"rules/{rule_id}/publish")
    assert published.status_code == 200, published.get_data(as_text=True)
    result = published.get_json()["result"]
    assert (result["status"], result["author"], result["publisher"]) == ("published", "modeller", "modeller2")
    assert result["tests"][0]["passed"] is True
    with app.app_context():
        assert "coke-ncv-high" in {r.code for r in active_rules(db.session, org_id("东区"))}


def test_author_publishing_on_the_page_is_refused_in_chinese(app: Flask) -> None:
    """The publish button of one's own draft flashes the refusal and leaves the draft."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    client.post("/quality/rules/new", data=_form(rule_body("coke-ncv-high")))
    with app.app_context():
        rule_id = db.session.scalar(select(QualityRule.id).where(QualityRule.code == "coke-ncv-high"))
    page = client.post(f"/quality/rules/{rule_id}/publish", follow_redirects=True).get_data(as_text=True)
    assert "发布需要第二个人：草稿由 modeller 编写，不能由本人发布" in page
    with app.app_context():
        assert db.session.get(QualityRule, rule_id).status == "draft"


def test_failing_test_case_blocks_publishing(app: Flask) -> None:
    """A case expecting the wrong rows is listed with its explanation; the draft stays a draft."""
    add_second_modeller(app)
    body = rule_body("coke-ncv-high")
    body["tests"][0]["expect_findings"] = [2]
    rule_id = Api(app, "modeller").post("rules", body).get_json()["result"]["id"]
    refused = Api(app, "modeller2").post(f"rules/{rule_id}/publish")
    assert refused.status_code == 422
    message = refused.get_json()["message"]
    assert "测试用例未通过" in message and "期望命中行 [2]，实际命中行 [1]" in message
    no_cases = Api(app, "modeller").post("rules", rule_body("no-cases", tests=[]))
    refused = Api(app, "modeller2").post(f"rules/{no_cases.get_json()['result']['id']}/publish")
    assert "规则没有测试用例，不能发布" in refused.get_json()["message"]
    with app.app_context():
        assert db.session.get(QualityRule, rule_id).status == "draft"


def test_published_version_is_immutable_editing_creates_the_next_draft(app: Flask) -> None:
    """Saving a published rule on the page makes draft v2; v1 is unchanged; the ORM refuses changing v1."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    with app.app_context():
        v1 = db.session.scalar(select(QualityRule).where(QualityRule.code == "ncv-solid-range"))
        v1_id, v1_definition = v1.id, dict(v1.definition)
    form = {
        "code": "ncv-solid-range", "name": v1_definition["name"], "organization_id": "", "kind": "validation",
        "action": "flag", "level": "record", "severity": "error", "dimension": "", "join": "", "order": "100",
        "enabled": "y", "condition": v1_definition["condition"],
        "scope": json.dumps(v1_definition["scope"], ensure_ascii=False),
        "params": json.dumps({"ncv_low": 8, "ncv_high": 50}), "message": v1_definition["message"],
        "tests": json.dumps(v1_definition["tests"], ensure_ascii=False), "note": "下限改为 8",
    }
    response = client.post(f"/quality/rules/{v1_id}/edit", data=form)
    assert response.status_code == 302
    with app.app_context():
        versions = db.session.scalars(select(QualityRule).where(QualityRule.code == "ncv-solid-range")
                                      .order_by(QualityRule.version)).all()
        assert [(v.version, v.status) for v in versions] == [(1, "published"), (2, "draft")]
        assert versions[0].definition["params"]["ncv_low"] == 5
        assert versions[1].definition["params"]["ncv_low"] == 8 and versions[1].author_name == "modeller"
        versions[0].severity = "info"
        with pytest.raises(RuleRefused, match="已发布的规则版本不可修改"):
            db.session.flush()
        db.session.rollback()
    # A second edit of v1 goes to the existing draft instead of forking another version.
    assert client.get(f"/quality/rules/{v1_id}/edit").status_code == 302
    refused = Api(app, "modeller").put(f"rules/{v1_id}", {**v1_definition})
    assert refused.status_code == 422 and "已有草稿（第 2 版）" in refused.get_json()["message"]


def test_publishing_supersedes_and_a_disabled_version_leaves_the_active_set(app: Flask) -> None:
    """v2 published with enabled=false supersedes v1 and takes the code out of the active set."""
    add_second_modeller(app)
    with app.app_context():
        v1 = db.session.scalar(select(QualityRule).where(QualityRule.code == "of-range"))
        definition, v1_id = dict(v1.definition), v1.id
    draft = Api(app, "modeller").put(f"rules/{v1_id}", {**definition, "enabled": False})
    assert draft.status_code == 201 and draft.get_json()["result"]["version"] == 2
    assert Api(app, "modeller2").post(f"rules/{draft.get_json()['result']['id']}/publish").status_code == 200
    with app.app_context():
        assert db.session.get(QualityRule, v1_id).status == "superseded"
        assert "of-range" not in {r.code for r in active_rules(db.session, org_id("东区"))}


def test_organisation_rule_applies_to_its_subtree_only(app: Flask) -> None:
    """A 西区 rule is active for 西区 and not for 东区; global rules are active for both."""
    add_second_modeller(app)
    with app.app_context():
        west = org_id("西区")
    draft = Api(app, "modeller").post("rules", {**rule_body("west-only"), "organization_id": west})
    assert draft.status_code == 201 and draft.get_json()["result"]["organization_id"] == west
    assert Api(app, "modeller2").post(f"rules/{draft.get_json()['result']['id']}/publish").status_code == 200
    with app.app_context():
        assert "west-only" in {r.code for r in active_rules(db.session, west)}
        assert "west-only" not in {r.code for r in active_rules(db.session, org_id("东区"))}


def test_rules_need_read_and_write_on_the_rules_area(app: Flask) -> None:
    """The auditor reads rules but cannot save; the filler has no access at all."""
    assert Api(app, "auditor").get("rules").status_code == 200
    assert Api(app, "auditor").post("rules", rule_body("x-rule")).status_code == 403
    assert Api(app, "filler").get("rules").status_code == 403


def test_load_pack_is_idempotent_and_refuses_a_bad_pack(app: Flask, tmp_path: Path) -> None:
    """A pack with one new rule adds it once; a second run keeps it; an invalid pack imports nothing."""
    pack = {"name": "测试包", "version": 1, "rules": [rule_body("pack-rule")]}
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack, ensure_ascii=False), encoding="utf-8")
    first = run_cli(app, ["quality", "load-pack", "--pack", str(path)])
    assert first.exit_code == 0, first.output
    assert "新增 1 条已发布规则，0 条已存在" in first.output
    again = run_cli(app, ["quality", "load-pack", "--pack", str(path)])
    assert "新增 0 条已发布规则，1 条已存在" in again.output
    default = run_cli(app, ["quality", "load-pack"])
    assert "新增 0 条已发布规则，13 条已存在" in default.output
    pack["rules"] = [rule_body("broken", condition="nvc > 1")]
    path.write_text(json.dumps(pack, ensure_ascii=False), encoding="utf-8")
    bad = run_cli(app, ["quality", "load-pack", "--pack", str(path)])
    assert bad.exit_code != 0 and '未知变量 "nvc"' in bad.output
    with app.app_context():
        rule = db.session.scalar(select(QualityRule).where(QualityRule.code == "pack-rule"))
        assert (rule.status, rule.author_name, rule.version) == ("published", "system", 1)
        assert db.session.scalar(select(QualityRule).where(QualityRule.code == "broken")) is None


def test_pages_render_and_the_menu_follows_the_rules_permission(app: Flask) -> None:
    """The editor opens prefilled, the lists render; 数据质量 is in the modeller's menu, not the filler's."""
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    home = client.get("/").get_data(as_text=True)
    assert "/quality/rules/" in home and "/quality/scorecard" in home and "/quality/runs/" in home
    with app.app_context():
        ncv_id = db.session.scalar(select(QualityRule.id).where(QualityRule.code == "ncv-solid-range"))
    editor = client.get(f"/quality/rules/{ncv_id}/edit").get_data(as_text=True)
    assert "ncv &lt; ncv_low or ncv &gt; ncv_high" in editor and "&#34;ncv_low&#34;: 5" in editor
    assert "saving creates the next draft version" in editor or "保存时将生成新的草稿版本" in editor
    assert client.get("/quality/rules/new").status_code == 200
    assert client.get("/quality/runs/").status_code == 200
    assert client.get("/quality/scorecard").status_code == 200
    filler = app.test_client()
    login(filler, "filler", "Demo-filler-1")
    assert "/quality/rules/" not in filler.get("/").get_data(as_text=True)
    assert filler.get("/quality/rules/").status_code in (302, 403)
