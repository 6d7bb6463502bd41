"""对标值 (benchmark intensities) as data: validation, who may change which row, which rows apply.

A benchmark names an organisation (its whole subtree) or none (every organisation), a process or
none (the whole enterprise, per t crude steel), a product, a scope (``total`` with indirect, or
``direct``) and optionally a year. Global rows are visible to everyone and changed by
administrators only; an organisation's rows follow the usual data scope (``org_scope``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orgcarbon.analysis.models import Benchmark
from orgcarbon.analysis.queries import org_children, subtree_of
from orgcarbon.metamodel.guards import ScopeError
from orgcarbon.metamodel.models import Material, Organization, Process
from orgcarbon.metamodel.validation import Errors, FieldErrors
from orgcarbon.security.scope import OrgScope, org_scope, subtree_ids

SCOPES: dict[str, str] = {"total": "总排放（含间接）", "direct": "直接排放"}
UNITS = ("tCO2/t", "tCO2e/t")
YEARS = (1990, 2100)
DEMO_SOURCE = "示例对标值（虚构，仅用于演示）"
LABELS: dict[str, str] = {
    "name": "名称", "organization": "适用组织", "process_name": "工序", "product": "产品", "value": "对标值",
    "unit": "单位", "scope": "排放范围", "year": "年份", "source": "来源", "note": "备注",
}


def validate_benchmark(item: Benchmark, session: Session) -> Errors:
    """``{field: Chinese reason}`` for every field of ``item`` that is not acceptable."""
    errors: Errors = {}
    for name in ("name", "product"):
        if not (getattr(item, name) or "").strip():
            errors[name] = "不能为空"
    if not (item.source or "").strip():
        errors["source"] = f"请写明对标值的来源（文件、表号或条款）；虚构的数值请写“{DEMO_SOURCE}”"
    if item.value is None:
        errors["value"] = "不能为空"
    elif not item.value > 0:
        errors["value"] = "对标值应大于 0"
    if item.unit not in UNITS:
        errors["unit"] = f"单位应为 {' 或 '.join(UNITS)}（与碳排放强度一致）"
    if item.scope not in SCOPES:
        errors["scope"] = f"应为“{SCOPES['total']}”或“{SCOPES['direct']}”"
    if item.year is not None and not YEARS[0] <= item.year <= YEARS[1]:
        errors["year"] = f"年份应在 {YEARS[0]}–{YEARS[1]} 之间，或留空表示各年通用"
    if "product" not in errors and not session.scalar(select(Material.id).where(Material.name == item.product)):
        errors["product"] = f"物料中没有“{item.product}”"
    item.process_name = (item.process_name or "").strip() or None  # a blank form field means the enterprise
    if item.process_name and (problem := _process_problem(session, item.process_name, _org_id(item))):
        errors["process_name"] = problem
    return errors


def _org_id(item: Benchmark) -> int | None:
    return item.organization.id if item.organization is not None else item.organization_id


def _process_problem(session: Session, name: str, org_id: int | None) -> str | None:
    query = select(Process.id).where(Process.name == name)
    if org_id is not None:
        query = query.where(Process.organization_id.in_(sorted(subtree_ids(session, [org_id]))))
    if session.scalar(query.limit(1)) is not None:
        return None
    where = "任何组织" if org_id is None else "所选组织及其下级"
    return f"{where}都没有名为“{name}”的工序（留空表示全企业，按吨粗钢计）"


def stored_organization(session: Session, item: Benchmark) -> int | None:
    """The organisation the row has in the database (before the form changed it)."""
    if item.id is None:
        return None
    with session.no_autoflush:
        return session.scalar(select(Benchmark.organization_id).where(Benchmark.id == item.id))


def check_write(scope: OrgScope, org_id: int | None) -> None:
    """Raise ``ScopeError`` unless a row of ``org_id`` may be written by this scope."""
    if org_id is None and not scope.is_global:
        raise ScopeError("适用于全部组织的对标值只有系统管理员可以新增、修改或删除")
    if org_id is not None and not scope.can_write(org_id):
        raise ScopeError("无权在该组织下新增、修改或删除数据（超出您的数据范围）")


def check_change(item: Benchmark, session: Session, action: str, scope: OrgScope | None = None) -> None:
    """Raise ``FieldErrors`` or ``ScopeError`` if the add, update or delete must not happen."""
    scope = scope or org_scope()
    if action in ("update", "delete"):
        check_write(scope, stored_organization(session, item))
    if action == "delete":
        return
    errors = validate_benchmark(item, session)
    if errors:
        raise FieldErrors(errors, LABELS)
    check_write(scope, _org_id(item))


def visible(session: Session, scope: OrgScope) -> list[Benchmark]:
    """Benchmark rows the caller may read: global ones and those of readable organisations."""
    query = select(Benchmark).order_by(Benchmark.process_name.is_not(None), Benchmark.process_name, Benchmark.id)
    if scope.readable is not None:
        query = query.where(or_(Benchmark.organization_id.is_(None),
                                Benchmark.organization_id.in_(sorted(scope.readable))))
    return list(session.scalars(query))


def visible_rows(session: Session, scope: OrgScope) -> list[dict[str, Any]]:
    """``visible`` as ``as_dict`` rows, kept per process like the organisation tree.

    Benchmarks and organisations are among ``permission_cache.WATCHED_TABLES``: a changed row
    shows at the next request. The list is shared by threads: never mutate it.
    """
    from orgcarbon.security.permission_cache import derived

    rows: list[dict[str, Any]] = derived(("analysis", "benchmarks", scope.readable),
                                         lambda: [as_dict(r) for r in visible(session, scope)], session)
    return rows


def as_dict(row: Benchmark) -> dict[str, Any]:
    """JSON-able benchmark row."""
    return {"id": row.id, "name": row.name, "organization_id": row.organization_id,
            "organization": row.organization.name if row.organization is not None else None,
            "process_name": row.process_name, "product": row.product, "value": row.value, "unit": row.unit,
            "scope": row.scope, "scope_name": SCOPES.get(row.scope, row.scope), "year": row.year,
            "source": row.source, "note": row.note}


class Matcher:
    """Which benchmarks apply to an intensity row: same process (or none), product, year, scope.

    A row of an organisation's benchmark applies when every node the row covers lies in that
    organisation's subtree; a global row applies everywhere.
    """

    def __init__(self, session: Session, rows: Iterable[dict[str, Any]]) -> None:
        self.rows = [dict(r) for r in rows]  # ``as_dict`` rows; copied, as answers hand them out
        orgs = {r["organization_id"] for r in self.rows} - {None}
        children = org_children(session)
        self.subtrees = {org: subtree_of(children, org) for org in orgs}

    def applicable(self, nodes: Iterable[int], year: int) -> list[dict[str, Any]]:
        """The rows valid for ``year`` whose organisation covers all ``nodes``."""
        wanted = set(nodes)
        return [r for r in self.rows if (r["year"] is None or r["year"] == year)
                and (r["organization_id"] is None or wanted <= self.subtrees[r["organization_id"]])]

    def match(self, row: dict[str, Any], nodes: Iterable[int], year: int, process: str | None,
              product: str | None) -> list[dict[str, Any]]:
        """Benchmarks of ``process`` (None: enterprise) and ``product``, each with the row's gap to it."""
        out = []
        for bench in self.applicable(nodes, year):
            if bench["process_name"] != process or bench["product"] != product:
                continue
            value = row.get("total_per_t" if bench["scope"] == "total" else "direct_per_t")
            gap = value - bench["value"] if value is not None else None
            out.append({**bench, "intensity": value, "gap": gap,
                        "gap_pct": gap / bench["value"] * 100.0 if gap is not None else None})
        # The most specific first: an organisation's own value, then a year's.
        return sorted(out, key=lambda b: (b["organization_id"] is None, b["year"] is None, b["id"]))


DEMO_BENCHMARKS: tuple[dict[str, Any], ...] = (
    {"name": "欧盟 CBAM 高炉-转炉路线基准（直接排放，参考）", "process_name": None, "product": "粗钢",
     "value": 1.370, "unit": "tCO2e/t", "scope": "direct", "year": None, "global": True,
     "source": "欧盟实施条例 (EU) 2025/2620（CBAM 基准与免费配额调整）；数值 1.370 tCO2e/t 转引自二手资料，"
               "证据等级 D，未经核实",
     "note": "CBAM 的系统边界与 GB/T 32151.5 不同，仅作参考；正式使用前请核对官方公报原文。"},
    {"name": "集团吨钢排放强度目标（示例）", "process_name": None, "product": "粗钢", "value": 1.80,
     "unit": "tCO2/t", "scope": "total", "year": None, "global": False, "source": DEMO_SOURCE, "note": None},
    {"name": "炼铁工序强度（示例）", "process_name": "炼铁", "product": "生铁", "value": 1.5,
     "unit": "tCO2/t", "scope": "total", "year": None, "global": False, "source": DEMO_SOURCE,
     "note": "演示数据中炼铁工序只登记了外售生铁（每年 5 万 t），按它计算的工序强度远高于此值。"},
)


def seed_demo_benchmarks(session: Session, organization: Organization) -> int:
    """Add the demo benchmark rows that are missing (by name); returns how many were added.

    Only the CBAM row cites a real figure (graded D in the project's methodology notes); the
    others are invented and say so in ``source``. The caller commits.
    """
    existing = set(session.scalars(select(Benchmark.name)))
    added = 0
    for row in DEMO_BENCHMARKS:
        if row["name"] in existing:
            continue
        values = {k: v for k, v in row.items() if k != "global"}
        session.add(Benchmark(**values, organization=None if row["global"] else organization))
        added += 1
    return added
