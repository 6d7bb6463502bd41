"""``pack import`` / ``pack export``: a pack is a JSON Lines file, one record per line.

An import checks every line with the same validators as the forms and either applies all of it
in one transaction or nothing, listing each problem as file, line and Chinese reason. Records
already present (same unit symbol, material name, factor code+version, formula name+version,
template name) are left as they are, so importing an exported pack changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel import validation as v
from orgcarbon.metamodel.models import Material, ProcessTemplate, Unit
from orgcarbon.metamodel.versioned import Factor, Formula
from orgcarbon.metamodel.versioning import utcnow

TYPES: dict[str, tuple[type, tuple[str, ...]]] = {
    "unit": (Unit, ("symbol",)),
    "material": (Material, ("name",)),
    "factor": (Factor, ("code", "version")),
    "formula": (Formula, ("name", "version")),
    "process_template": (ProcessTemplate, ("name",)),
}
SKIP = {"id", "published_at", "superseded_at", "status", "material_id"}


@dataclass(frozen=True)
class PackProblem:
    """One refused line."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file} 第 {self.line} 行：{self.reason}"


class PackError(ValueError):
    """The pack was refused; ``problems`` lists every refused line."""

    def __init__(self, problems: list[PackProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_lines(text: str, file: str) -> list[tuple[int, dict[str, Any]]]:
    """Parse JSON Lines; raise ``PackError`` naming each unreadable line."""
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(PackProblem(file, number, f"不是有效的 JSON（第 {exc.colno} 列：{exc.msg}）"))
            continue
        if not isinstance(record, dict) or record.get("type") not in TYPES:
            problems.append(PackProblem(file, number, f"未知的记录类型“{record.get('type') if isinstance(record, dict) else record}”"))
            continue
        records.append((number, record))
    if problems:
        raise PackError(problems)
    return records


def _columns(cls: type) -> set[str]:
    return {c.key for c in cls.__table__.columns} - SKIP


def _build(record: dict[str, Any], session: Session) -> Any:
    cls, _ = TYPES[record["type"]]
    values = {k: record.get(k) for k in _columns(cls) if k in record}
    unknown = set(record) - _columns(cls) - {"type", "material"}
    if unknown:
        raise ValueError("未知字段：" + "、".join(sorted(unknown)))
    for key in ("valid_from", "valid_to"):
        if isinstance(values.get(key), str):
            values[key] = dt.date.fromisoformat(values[key])
    item = cls(**values)
    if cls is Factor:
        material = session.scalar(select(Material).where(Material.name == record.get("material")))
        if material is None:
            raise ValueError(f"物料“{record.get('material')}”不存在（须在本行之前定义）")
        item.material = material
        item.status, item.published_at = "published", utcnow()
    if cls is Formula:
        item.status, item.published_at = "published", utcnow()
    return item


VALIDATORS = {Unit: v.validate_unit, Material: v.validate_material, Factor: v.validate_factor,
              Formula: v.validate_formula, ProcessTemplate: lambda item, session: {}}


def import_records(session: Session, records: Iterable[tuple[int, dict[str, Any]]], file: str) -> dict[str, int]:
    """Apply ``records`` in one transaction; return counts of added rows by type, or raise ``PackError``."""
    problems: list[PackProblem] = []
    added: dict[str, int] = {}
    with session.no_autoflush:
        for number, record in records:
            cls, key = TYPES[record["type"]]
            where = [getattr(cls, k) == record.get(k) for k in key]
            if session.scalar(select(cls).where(*where)) is not None:
                continue
            try:
                item = _build(record, session)
            except (TypeError, ValueError) as exc:
                problems.append(PackProblem(file, number, str(exc)))
                continue
            errors = VALIDATORS[cls](item, session)
            if errors:
                problems += [PackProblem(file, number, f"{f}：{m}") for f, m in errors.items()]
                session.expunge(item) if item in session else None
                continue
            session.add(item)
            session.flush()
            added[record["type"]] = added.get(record["type"], 0) + 1
    if problems:
        session.rollback()
        raise PackError(problems)
    session.commit()
    return added


def export_records(session: Session) -> list[dict[str, Any]]:
    """The metamodel's pack content (units, materials, published factors and formulas, templates)."""
    out: list[dict[str, Any]] = []
    for name, (cls, key) in TYPES.items():
        query = select(cls).order_by(*(getattr(cls, k) for k in key))
        if cls in (Factor, Formula):
            query = query.where(cls.status == "published")
        for item in session.scalars(query):
            row = {"type": name}
            for column in sorted(_columns(cls)):
                value = getattr(item, column)
                row[column] = value.isoformat() if isinstance(value, dt.date) else value
            if cls is Factor:
                row["material"] = item.material.name
            out.append(row)
    return out


def dumps(records: list[dict[str, Any]]) -> str:
    """Records as JSON Lines text."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
