"""Activity packages (``orgcarbon-activity/1``) out of and into the platform.

Export writes any organisation's year so that ``orgcarbon calc`` recomputes the platform's figures;
import reads a package into one organisation in one transaction (all rows or none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.loader import activity_rows, grid_region
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process, SubProcess
from orgcarbon.metamodel.rules_inputs import factor_library, unit_table
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.package import (
    FORMAT,
    STANDARDS,
    Package,
    PackageError,
    parse_package,
    read_package,
)
from orgcarbon.security.scope import subtree_ids

# Package key → activity column of a measured parameter (purity is stored under its own name).
MEASURED_COLUMNS = {"ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor", "ef": "ef"}


def export_package(session: Session, org_id: int, year: int, electricity_ef: float | None = None) -> dict[str, Any]:
    """The organisation subtree's activity rows of ``year`` as a package document."""
    org = session.get(Organization, org_id)
    if org is None:
        raise PackageError([Issue(None, "organization", org_id, "组织不存在")])
    records = []
    for row in activity_rows(session, org_id, year):
        record: dict[str, Any] = {
            "process": row.process, "subprocess": row.subprocess, "category": row.category,
            "material": row.material, "quantity": row.quantity, "unit": row.unit,
        }
        if len(row.month) == 7:
            record["month"] = row.month
        for name, value in row.measured().items():
            record[name] = value
        records.append(record)
    organization: dict[str, Any] = {"name": org.name}
    if region := grid_region(session, org_id):
        organization["grid_region"] = region
    package: dict[str, Any] = {
        "format": FORMAT, "standard": STANDARDS[0], "organization": organization, "period": {"year": year},
    }
    if electricity_ef is not None:
        package["electricity_ef"] = electricity_ef
    package["records"] = records
    return package


def _validated(session: Session, source: str | Path | dict[str, Any]) -> Package:
    library, units = factor_library(session), unit_table(session)
    if isinstance(source, dict):
        return parse_package(source, library, units)
    return read_package(source, library, units)


def import_package(session: Session, source: str | Path | dict[str, Any], org_id: int) -> tuple[Package, int]:
    """Store the package's records under ``org_id``; raise ``PackageError`` and write nothing if refused.

    Measured NCV/CC/OF/EF and purity are stored on the rows (they win over the library's defaults);
    every row is marked ``source="package"``. A product-output record whose product is not a material
    yet creates it (category 产品, unit t).
    """
    org = session.get(Organization, org_id)
    if org is None:
        raise PackageError([Issue(None, "organization", org_id, "目标组织不存在")])
    package = _validated(session, source)
    issues: list[Issue] = []
    year = package.year
    if package.end.year != year:
        issues.append(Issue(None, "period", f"{package.start}~{package.end}", "平台按自然年导入，核算期不能跨年"))
    existing = session.scalar(
        select(func.count()).select_from(ActivityRecord).where(
            ActivityRecord.organization_id.in_(sorted(subtree_ids(session, [org_id]))),
            ActivityRecord.month.like(f"{year}%"),
        )
    )
    if existing:
        issues.append(Issue(None, "organization", org.name, f"该组织 {year} 年已有 {existing} 条活动数据，未导入"))
    if issues:
        raise PackageError(issues)
    materials = {m.name: m for m in session.scalars(select(Material))}
    processes = {p.name: p for p in session.scalars(select(Process).where(Process.organization_id == org_id))}
    subs = {(s.process_id, s.name): s for s in session.scalars(
        select(SubProcess).where(SubProcess.organization_id == org_id))}
    try:
        for row in package.rows:
            process = processes.get(row.process)
            if process is None:
                process = processes[row.process] = Process(organization=org, name=row.process, status="active")
                session.add(process)
                session.flush()
            sub_name = row.subprocess or row.process
            sub = subs.get((process.id, sub_name))
            if sub is None:
                sub = subs[(process.id, sub_name)] = SubProcess(
                    main_process=process, organization=org, name=sub_name, status="active")
                session.add(sub)
                session.flush()
            material = materials.get(row.material)
            if material is None:  # only a product-output record may name a material the library lacks
                material = materials[row.material] = Material(name=row.material, category="product", unit="t")
                session.add(material)
            session.add(ActivityRecord(
                organization=org, subprocess=sub, material=material, category=_category(row.category),
                month=row.month or str(year), quantity=row.quantity, unit=row.unit, purity=row.purity,
                source="package", **{column: getattr(row, key) for key, column in MEASURED_COLUMNS.items()},
            ))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return package, len(package.rows)


def _category(label: str) -> str:
    from orgcarbon.rules.model import category_from_label

    return category_from_label(label) or label
