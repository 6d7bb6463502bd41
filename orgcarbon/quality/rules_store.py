"""Quality rules as versioned data: check and save drafts, publish by a second person, the active set.

One ``dq_rule`` row per version; ``definition`` is the core's rule dict (``rules/quality``). The
ideas are those of ``metamodel/versioning``: a draft is edited, publishing freezes it and
supersedes the previous version, a published or superseded version never changes again (editing
it creates the next draft) and ``install_rule_guard`` refuses such a change in every session.
Publishing needs a second person (publisher ≠ the draft's author, who is whoever saved it last)
and the rule's test cases must pass first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session

from orgcarbon.quality.models import QualityRule
from orgcarbon.rules.quality import (
    CaseResult,
    DefinitionProblem,
    RuleDefinition,
    rule_from_dict,
    rule_to_dict,
    run_rule_tests,
    validate_rule_definition,
)
from orgcarbon.security.models import utcnow  # one clock for every table
from orgcarbon.security.scope import OrgScope

FROZEN_MESSAGE = "已发布的规则版本不可修改或删除：修改它会生成新的草稿版本，在草稿上修改后再发布"
LIFECYCLE_COLUMNS = frozenset({"status", "superseded_at"})
SCOPE_KEYS = ("processes", "materials", "sources", "tags", "categories")
# Chinese names of definition fields, for the problems shown beside the editor.
FIELD_LABELS = {
    "id": "规则编号", "code": "规则编号", "name": "名称", "kind": "类型", "action": "动作", "level": "层级",
    "scope": "范围", "condition": "条件", "params": "参数", "severity": "严重程度", "message": "提示信息模板",
    "dimension": "质量维度", "join": "关联层级", "order": "顺序", "enabled": "启用", "tests": "测试用例",
    "version": "版本", "organization_id": "组织", "": "规则定义",
}


@dataclass(frozen=True)
class RuleProblem:
    """One reason a definition is refused: the field, where in it (1-based) and why, in Chinese."""

    field: str
    reason: str
    line: int | None = None
    column: int | None = None

    @property
    def label(self) -> str:
        """The field's Chinese name (``params.low`` → 参数 low)."""
        if self.field.startswith("params."):
            return "参数 " + self.field.split(".", 1)[1]
        return FIELD_LABELS.get(self.field, self.field)

    def __str__(self) -> str:
        where = f"第 {self.line} 行第 {self.column} 列：" if self.line is not None else ""
        return f"{self.label}：{where}{self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (API 422 answers, the editor)."""
        return {"field": self.field, "label": self.label, "reason": self.reason, "line": self.line,
                "column": self.column, "text": str(self)}


class RuleRefused(ValueError):
    """Saving or publishing was refused; ``problems`` (definition) and ``reasons`` are Chinese."""

    def __init__(self, reasons: Iterable[str], problems: Iterable[RuleProblem] = ()) -> None:
        self.problems = list(problems)
        self.reasons = list(reasons) + [str(p) for p in self.problems]
        super().__init__("；".join(self.reasons))



def _from_core(problem: DefinitionProblem) -> RuleProblem:
    return RuleProblem(problem.field, problem.reason, problem.line, problem.column)


def _structure_problems(data: Mapping[str, Any]) -> list[RuleProblem]:
    """Types the core's loader would choke on or silently ignore (unknown scope keys)."""
    problems: list[RuleProblem] = []
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, Mapping):
        problems.append(RuleProblem("scope", "应为 JSON 对象，例如 {\"processes\": [\"炼铁\"]}"))
    elif scope:
        for key, value in scope.items():
            if key not in SCOPE_KEYS:
                problems.append(RuleProblem("scope", f'未知的范围键 "{key}"，可选：' + "、".join(SCOPE_KEYS)))
            elif not isinstance(value, str | list) or (
                    isinstance(value, list) and not all(isinstance(v, str) for v in value)):
                problems.append(RuleProblem("scope", f'"{key}" 应为文本列表'))
    if data.get("params") is not None and not isinstance(data.get("params"), Mapping):
        problems.append(RuleProblem("params", "应为 JSON 对象，例如 {\"low\": 5}"))
    tests = data.get("tests")
    if tests is not None and not isinstance(tests, list):
        problems.append(RuleProblem("tests", "应为 JSON 列表，每个用例一个对象"))
    elif tests:
        for number, case in enumerate(tests, start=1):
            if not isinstance(case, Mapping) or not isinstance(case.get("rows"), list) or not all(
                    isinstance(r, Mapping) for r in case["rows"]):
                problems.append(RuleProblem("tests", f"第 {number} 个用例应为对象，rows 为记录对象的列表"))
    for name in ("order", "version"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(RuleProblem(name, "应为整数"))
    if data.get("enabled") is not None and not isinstance(data.get("enabled"), bool):
        problems.append(RuleProblem("enabled", "应为 true 或 false"))
    code = str(data.get("id") or "")
    if len(code) > 100 or any(c.isspace() for c in code):
        problems.append(RuleProblem("code", "规则编号最长 100 个字符，不能含空白"))
    if len(str(data.get("name") or "")) > 200:
        problems.append(RuleProblem("name", "名称最长 200 个字符"))
    return problems


def check_definition(data: Mapping[str, Any]) -> list[RuleProblem]:
    """Every problem of a rule dict: structure first, then the core's ``validate_rule_definition``."""
    problems = _structure_problems(data)
    if problems:
        return problems
    return [_from_core(p) for p in validate_rule_definition(data)]


def normalise(data: Mapping[str, Any], code: str, version: int, author: str) -> dict[str, Any]:
    """The stored form of a checked definition: the core's dict with the row's identity."""
    rule = rule_from_dict({**data, "id": code, "version": version, "author": author})
    return rule_to_dict(rule)


def definition_of(rule: QualityRule) -> RuleDefinition:
    """The core's definition of a stored version (identity and switches from the row)."""
    return rule_from_dict({**rule.definition, "id": rule.code, "version": rule.version, "enabled": rule.enabled,
                           "order": rule.order, "author": rule.author_name or ""})


def rule_tests(rule: QualityRule) -> list[CaseResult]:
    """Run the version's test cases (a rule without cases gets one failing result).

    A disabled rule is tested as if enabled: the cases check what it does when switched on.
    """
    return run_rule_tests(replace(definition_of(rule), enabled=True))


def can_edit(rule: QualityRule | None, organization_id: int | None, scope: OrgScope) -> bool:
    """Global rules are edited by every holder of write on Rules; an organisation's within its scope."""
    owners = {organization_id, rule.organization_id if rule is not None else None} - {None}
    return all(scope.can_write(o) for o in owners)


def _identity(user: Any) -> tuple[int, str]:
    """The signed-in user's id and name; refused when unknown (authorship is what publishing checks)."""
    user_id, name = getattr(user, "id", None), getattr(user, "username", None)
    if user_id is None or not name:
        raise RuleRefused(["无法确认当前用户：请重新登录后再保存或发布规则"])
    return int(user_id), str(name)


def _apply(row: QualityRule, definition: dict[str, Any], organization_id: int | None, note: str | None,
           user: Any) -> None:
    row.definition = definition
    row.name = definition["name"] or row.code
    for name in ("kind", "action", "level", "severity", "enabled", "order"):
        setattr(row, name, definition[name])
    row.organization_id = organization_id
    row.note = note
    row.author_id, row.author_name = _identity(user)


def save_rule(session: Session, data: Mapping[str, Any], user: Any, scope: OrgScope,
              base: QualityRule | None = None, organization_id: int | None = None, note: str | None = None,
              problems: Iterable[RuleProblem] = ()) -> QualityRule:
    """Save a draft: create a rule, update a draft, or start the next version of a published one.

    ``problems`` found earlier (JSON the editor could not parse) are refused together with the
    definition's own; nothing is written when there is any.
    """
    code = str(data.get("id") or data.get("code") or "").strip()
    data = {**data, "id": code}
    earlier = list(problems)
    broken = {p.field for p in earlier}
    core = check_definition(data)
    if "params" in broken:  # the condition and message use params: their problems would only mislead
        core = [p for p in core if p.field not in ("condition", "message") and not p.field.startswith("params")]
    found = earlier + [p for p in core if p.field not in broken]
    if base is not None and code and code != base.code:
        found.append(RuleProblem("code", f"规则编号不能修改（原为 {base.code}）；新编号请新建规则"))
    if found:
        raise RuleRefused([], found)
    _identity(user)
    if not can_edit(base, organization_id, scope):
        raise RuleRefused(["无权修改该组织的规则（超出您的数据范围）"])
    versions = session.scalars(select(QualityRule).where(QualityRule.code == code)
                               .order_by(QualityRule.version)).all()
    draft = next((r for r in versions if r.status == "draft"), None)
    if base is not None and base.status == "draft":
        row = base
    elif draft is not None:
        raise RuleRefused([f"规则 {code} 已有草稿（第 {draft.version} 版），请修改该草稿后发布"])
    else:
        top = session.scalar(select(func.max(QualityRule.version)).where(QualityRule.code == code)) or 0
        row = QualityRule(code=code, version=top + 1, status="draft")
        session.add(row)
    _apply(row, normalise(data, code, row.version, _identity(user)[1]), organization_id, note, user)
    session.flush()
    return row


def _same_person(rule: QualityRule, user: Any) -> bool:
    user_id, name = _identity(user)
    return rule.author_id == user_id if rule.author_id is not None else rule.author_name == name


def publish_rule(session: Session, rule: QualityRule, user: Any, scope: OrgScope) -> list[CaseResult]:
    """Publish a draft after its test cases pass, by someone other than its author; returns the results."""
    if rule.status != "draft":
        raise RuleRefused(["只有草稿可以发布"])
    if not can_edit(rule, None, scope):
        raise RuleRefused(["无权发布该组织的规则（超出您的数据范围）"])
    if _same_person(rule, user):
        raise RuleRefused([f"发布需要第二个人：草稿由 {rule.author_name} 编写，不能由本人发布"])
    if problems := check_definition({**rule.definition, "id": rule.code}):
        raise RuleRefused(["规则定义有问题，不能发布"], problems)
    results = rule_tests(rule)
    failed = [r for r in results if not r.passed]
    if failed:
        raise RuleRefused(["测试用例未通过，不能发布：" + "；".join(
            f"{r.case or '（无用例）'}：{r.explanation}" for r in failed)])
    now = utcnow()
    for previous in session.scalars(select(QualityRule).where(
            QualityRule.code == rule.code, QualityRule.status == "published", QualityRule.id != rule.id)):
        previous.status, previous.superseded_at = "superseded", now
    rule.status, rule.published_at = "published", now
    rule.publisher_id, rule.publisher_name = _identity(user)
    session.flush()
    return results


def active_rules(session: Session, organization_id: int) -> list[QualityRule]:
    """Latest published version of each code if enabled: global rules and those of the node or an ancestor."""
    from orgcarbon.accounting.loader import ancestors

    owners = {o.id for o in ancestors(session, organization_id)}
    latest: dict[str, QualityRule] = {}
    for row in session.scalars(select(QualityRule).where(QualityRule.status == "published")
                               .order_by(QualityRule.code, QualityRule.version)):
        latest[row.code] = row
    return [r for r in latest.values()
            if r.enabled and (r.organization_id is None or r.organization_id in owners)]


def visible_rule(session: Session, rule_id: int, scope: OrgScope) -> QualityRule | None:
    """The version if it is global or of an organisation the caller may read."""
    rule = session.get(QualityRule, rule_id)
    if rule is None or (rule.organization_id is not None and not scope.can_read(rule.organization_id)):
        return None
    return rule


def visible_rules(session: Session, scope: OrgScope) -> list[QualityRule]:
    """Every version the caller may read, by code then newest version first."""
    rows = session.scalars(select(QualityRule).order_by(QualityRule.code, QualityRule.version.desc())).all()
    return [r for r in rows if r.organization_id is None or scope.can_read(r.organization_id)]


def lineage(session: Session, rule: QualityRule) -> list[QualityRule]:
    """All versions of the rule's code, newest first."""
    return list(session.scalars(select(QualityRule).where(QualityRule.code == rule.code)
                                .order_by(QualityRule.version.desc())))


def rule_dict(rule: QualityRule) -> dict[str, Any]:
    """A version as JSON."""
    return {
        "id": rule.id, "code": rule.code, "version": rule.version, "status": rule.status, "name": rule.name,
        "kind": rule.kind, "action": rule.action, "level": rule.level, "severity": rule.severity,
        "enabled": rule.enabled, "order": rule.order, "organization_id": rule.organization_id,
        "author": rule.author_name, "publisher": rule.publisher_name,
        "created_at": rule.created_at.isoformat() if rule.created_at else None,
        "published_at": rule.published_at.isoformat() if rule.published_at else None,
        "definition": rule.definition, "note": rule.note,
    }


def _committed_status(item: QualityRule) -> str | None:
    history: Any = inspect(item).attrs.status.history
    return history.deleted[0] if history.deleted else item.status


def _guard(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, QualityRule) and _committed_status(obj) in ("published", "superseded"):
            raise RuleRefused([FROZEN_MESSAGE])
    for obj in session.dirty:
        if not isinstance(obj, QualityRule) or _committed_status(obj) not in ("published", "superseded"):
            continue
        state: Any = inspect(obj)
        changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
        if changed - LIFECYCLE_COLUMNS:
            raise RuleRefused([FROZEN_MESSAGE + "（字段：" + "、".join(sorted(changed)) + "）"])


_installed = False


def install_rule_guard() -> None:
    """Refuse, in every session, a flush that changes or deletes a published rule version (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _guard)
        _installed = True
