"""The rule editor's form: fields of a rule definition, JSON text areas for scope, params and tests.

The form only carries text (and the CSRF token); every check is the core's
``validate_rule_definition`` through ``rules_store.save_rule``, so the page and the API refuse the
same definitions with the same Chinese reasons. JSON that does not parse is reported with its
line and column like any other problem.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from orgcarbon.quality.models import QualityRule
from orgcarbon.quality.rules_store import RuleProblem
from orgcarbon.rules.quality.definitions import ACTIONS, DIMENSIONS, KINDS, LEVELS, SEVERITIES

# Chinese for JSON's own (English) error messages.
_JSON_REASONS = {
    "Expecting value": "此处应为一个值",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting property name enclosed in double quotes": "属性名须用双引号括起",
    "Unterminated string starting at": "字符串没有结束",
    "Extra data": "多余的内容",
    "Invalid control character at": "字符串中有控制字符",
    "Invalid \\escape": "无效的转义",
}
_EMPTY: dict[str, Any] = {"scope": {}, "params": {}, "tests": []}
KIND_LABELS = {"cleaning": "清洗", "validation": "校验"}
JOINS = ("process_month", "organization_month")


class RuleForm(FlaskForm):  # type: ignore[misc]
    """Every editable part of a rule version; choices are filled per request."""

    code = StringField(_l("Code"))
    name = StringField(_l("Name"))
    organization_id = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    kind = SelectField(_l("Kind"), choices=[(k, f"{k}（{KIND_LABELS[k]}）") for k in KINDS], validate_choice=False)
    action = SelectField(_l("Rule action"), choices=[(a, a) for a in ACTIONS], validate_choice=False)
    level = SelectField(_l("Level"), choices=[(x, x) for x in LEVELS], validate_choice=False)
    scope = TextAreaField(_l("Scope (JSON)"))
    condition = TextAreaField(_l("Condition"))
    params = TextAreaField(_l("Parameters (JSON)"))
    severity = SelectField(_l("Severity"), choices=[(s, s) for s in SEVERITIES], validate_choice=False)
    message = TextAreaField(_l("Message template"))
    dimension = SelectField(_l("Quality dimension"), choices=[("", "—"), *((d, d) for d in DIMENSIONS)],
                            validate_choice=False)
    join = SelectField(_l("Joined level"), choices=[("", "—"), *((j, j) for j in JOINS)], validate_choice=False)
    order = StringField(_l("Order"))
    enabled = BooleanField(_l("Enabled"))
    tests = TextAreaField(_l("Test cases (JSON)"))
    note = TextAreaField(_l("Note"))


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def fill_form(form: RuleForm, rule: QualityRule | None) -> None:
    """Put a stored version (or a new rule's defaults) into the form."""
    d: dict[str, Any] = dict(rule.definition) if rule is not None else {
        "kind": "validation", "action": "flag", "level": "record", "severity": "warning", "order": 100,
        "enabled": True, "params": {}, "scope": {}, "tests": []}
    form.code.data = rule.code if rule is not None else ""
    form.name.data = d.get("name", "")
    form.organization_id.data = str(rule.organization_id) if rule is not None and rule.organization_id else ""
    for name in ("kind", "action", "level", "condition", "severity", "message"):
        getattr(form, name).data = d.get(name) or ""
    form.dimension.data = d.get("dimension") or ""
    form.join.data = d.get("join") or ""
    form.order.data = str(d.get("order", 0))
    form.enabled.data = bool(d.get("enabled", True))
    for name in ("scope", "params", "tests"):
        getattr(form, name).data = _pretty(d.get(name) or _EMPTY[name])
    form.note.data = rule.note if rule is not None else ""


def _parse_json(field: str, text: str | None) -> tuple[Any, RuleProblem | None]:
    if not (text or "").strip():
        return _EMPTY[field], None
    try:
        return json.loads(text or ""), None
    except json.JSONDecodeError as exc:
        reason = next((zh for en, zh in _JSON_REASONS.items() if exc.msg.startswith(en)), "JSON 格式错误")
        return None, RuleProblem(field, f"不是有效的 JSON：{reason}", exc.lineno, exc.colno)


def read_form(form: RuleForm) -> tuple[dict[str, Any], list[RuleProblem], int | None, str | None]:
    """(definition dict, problems found while reading, organisation id, note) from the posted form."""
    problems: list[RuleProblem] = []
    data: dict[str, Any] = {
        "id": (form.code.data or "").strip(), "name": (form.name.data or "").strip(), "kind": form.kind.data,
        "action": form.action.data, "level": form.level.data, "condition": form.condition.data or "",
        "severity": form.severity.data, "message": form.message.data or "", "dimension": form.dimension.data or "",
        "join": form.join.data or None, "enabled": bool(form.enabled.data),
    }
    for name in ("scope", "params", "tests"):
        value, problem = _parse_json(name, getattr(form, name).data)
        if problem is not None:
            problems.append(problem)
        data[name] = value if problem is None else _EMPTY[name]
    try:
        data["order"] = int((form.order.data or "0").strip())
    except ValueError:
        problems.append(RuleProblem("order", "应为整数"))
        data["order"] = 0
    org = (form.organization_id.data or "").strip()
    organization_id = int(org) if org.isdigit() else None
    return data, problems, organization_id, (form.note.data or "").strip() or None
