"""Import a rule pack into ``dq_rule`` as published version 1 of each rule, authored by "system".

Idempotent: a code that already exists (any version, perhaps edited since) is left alone, so
running it again or after users changed a shipped rule adds only what is missing. The pack's test
cases must all pass first, as for any publication; otherwise nothing is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.quality.models import QualityRule
from orgcarbon.quality.rules_store import RuleRefused, utcnow
from orgcarbon.rules.quality import RulePack, default_pack, load_pack, rule_to_dict, run_pack_tests

SYSTEM = "system"


@dataclass(frozen=True)
class PackImport:
    """What an import did: codes added and codes already present (kept as they are)."""

    pack: str
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def read_pack(path: str | Path | None = None) -> RulePack:
    """The pack at ``path`` or the shipped steel pack; ``RuleDefinitionError`` when invalid."""
    return default_pack() if path is None else load_pack(path)


def import_pack(session: Session, pack: RulePack) -> PackImport:
    """Add each rule of ``pack`` whose code is new, published by the import; flushes, does not commit."""
    failed = [r for r in run_pack_tests(pack.rules) if not r.passed]
    if failed:
        raise RuleRefused([f"规则包“{pack.name}”的测试用例未通过，未导入任何规则："] +
                          [f"{r.rule_id} {r.case}：{r.explanation}" for r in failed])
    existing = set(session.scalars(select(QualityRule.code)))
    result = PackImport(pack.name)
    now = utcnow()
    for rule in pack.rules:
        if rule.id in existing:
            result.kept.append(rule.id)
            continue
        definition = rule_to_dict(replace(rule, version=1, author=SYSTEM))
        session.add(QualityRule(
            code=rule.id, version=1, status="published", name=rule.name or rule.id, kind=rule.kind,
            action=rule.action, level=rule.level, severity=rule.severity, enabled=rule.enabled, order=rule.order,
            definition=definition, organization_id=None, author_name=SYSTEM,
            publisher_name=f"规则包 {pack.name} v{pack.version}"[:100], created_at=now, published_at=now,
            note=f"导入自规则包“{pack.name}”第 {pack.version} 版",
        ))
        result.added.append(rule.id)
    session.flush()
    return result
