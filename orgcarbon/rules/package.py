"""Read and validate an ``orgcarbon-activity/1`` package (JSON or xlsx) into activity records."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.factor_resolution import AccountingContext
from orgcarbon.rules.factors import GRID_REGIONS, FactorLibrary, FactorNotFoundError
from orgcarbon.rules.issues import Issue, RejectedError
from orgcarbon.rules.package_fields import KEY_BY_HEADER, parse_number, parse_record
from orgcarbon.rules.records import RecordRow, Records
from orgcarbon.rules.units import UnitTable, default_units

__all__ = ["FORMAT", "STANDARDS", "Package", "PackageError", "parse_package", "read_package"]

FORMAT = "orgcarbon-activity/1"
STANDARDS = ("GB/T 32151.5-2015",)


class PackageError(RejectedError):
    """The package was rejected; ``issues`` names every bad row, field, value and reason."""


@dataclass(frozen=True)
class Package:
    """A validated package: who, when, overrides, and its records."""

    standard: str
    organization: str
    grid_region: str | None
    start: date
    end: date
    electricity_ef: float | None
    heat_ef: float | None
    rows: tuple[RecordRow, ...]

    @property
    def year(self) -> int:
        """The accounting year (of the period's start), used to choose the grid factor."""
        return self.start.year

    def records(self) -> Records:
        """The records in columnar form, each site labelled with the organisation's name."""
        return Records.from_rows([_with_site(r, self.organization) for r in self.rows])

    def context(self) -> AccountingContext:
        """The accounting context the package implies."""
        return AccountingContext(
            year=self.year,
            on=self.start,
            grid_region=self.grid_region,
            electricity_ef=self.electricity_ef,
            heat_ef=self.heat_ef,
            organization=self.organization,
        )


def _with_site(row: RecordRow, site: str) -> RecordRow:
    return replace(row, site=site)


def _iso(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _period(raw: Any, issues: list[Issue]) -> tuple[date, date] | None:
    if not isinstance(raw, Mapping):
        issues.append(Issue(None, "period", raw, '缺少核算期，应为 {"year": 2023} 或 start/end'))
        return None
    if raw.get("year") not in (None, ""):
        year = parse_number(raw["year"])
        if year is None or not year.is_integer() or not 1990 <= year <= 2100:
            issues.append(Issue(None, "period.year", raw["year"], "年份无效"))
            return None
        return date(int(year), 1, 1), date(int(year), 12, 31)
    start, end = _iso(raw.get("start")), _iso(raw.get("end"))
    if start is None or end is None:
        issues.append(Issue(None, "period", None, "核算期需要 year，或 start 与 end（YYYY-MM-DD）"))
        return None
    if end < start:
        issues.append(Issue(None, "period.end", str(end), "结束日期早于开始日期"))
        return None
    return start, end


def _optional_ef(data: Mapping[str, Any], key: str, issues: list[Issue]) -> float | None:
    if data.get(key) in (None, ""):
        return None
    number = parse_number(data[key])
    if number is None or number < 0:
        issues.append(Issue(None, key, data[key], "应为非负数"))
    return number


def parse_package(
    data: Any,
    library: FactorLibrary | None = None,
    units: UnitTable | None = None,
    row_numbers: Sequence[int] | None = None,
) -> Package:
    """Validate a decoded package; raise ``PackageError`` listing every issue found."""
    library = library or default_library()
    units = units or default_units()
    issues: list[Issue] = []
    if not isinstance(data, Mapping):
        raise PackageError([Issue(None, "", None, "数据包顶层必须是一个对象")])
    if data.get("format") != FORMAT:
        issues.append(Issue(None, "format", data.get("format"), f"格式应为 {FORMAT}"))
    standard = data.get("standard")
    if standard not in STANDARDS:
        issues.append(
            Issue(None, "standard", standard, "不支持的核算方法，可用：" + "、".join(STANDARDS))
        )
    org = data.get("organization")
    name = org.get("name") if isinstance(org, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        issues.append(Issue(None, "organization.name", name, "缺少组织名称"))
    region = org.get("grid_region") if isinstance(org, Mapping) else None
    region = region or None
    if region is not None and region not in GRID_REGIONS:
        issues.append(
            Issue(
                None, "organization.grid_region", region, "电网区域应为：" + "、".join(GRID_REGIONS)
            )
        )
    period = _period(data.get("period"), issues)
    electricity_ef = _optional_ef(data, "electricity_ef", issues)
    heat_ef = _optional_ef(data, "heat_ef", issues)

    raw_records = data.get("records")
    rows: list[RecordRow] = []
    if not isinstance(raw_records, list) or not raw_records:
        issues.append(Issue(None, "records", None, "缺少活动记录（records 应为非空列表）"))
        raw_records = []
    for i, raw in enumerate(raw_records):
        row_number = row_numbers[i] if row_numbers is not None else i + 1
        record, found = parse_record(raw, row_number, library, units, period)
        issues += found
        if record is not None:
            rows.append(record)

    uses_grid = any(r.category.endswith("_electricity") for r in rows)
    if uses_grid and electricity_ef is None and period is not None:
        try:
            library.grid_factor(region, period[0].year)
        except FactorNotFoundError as exc:
            issues.append(
                Issue(None, "electricity_ef", None, f"{exc}；数据包也未给出 electricity_ef")
            )
    if issues or period is None:
        raise PackageError(sorted(issues, key=lambda i: (i.row or 0, i.field)))
    return Package(
        standard=str(standard),
        organization=str(name).strip(),
        grid_region=region,
        start=period[0],
        end=period[1],
        electricity_ef=electricity_ef,
        heat_ef=heat_ef,
        rows=tuple(rows),
    )


def _read_workbook(path: Path) -> tuple[dict[str, Any], list[int], list[Issue]]:
    """Turn the ``package`` and ``records`` sheets into the JSON shape, with sheet row numbers."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    issues: list[Issue] = []
    data: dict[str, Any] = {}
    try:
        if "package" not in workbook.sheetnames:
            issues.append(Issue(None, "package", None, "工作簿缺少名为 package 的工作表"))
        else:
            for cells in workbook["package"].iter_rows(values_only=True):
                if not cells or cells[0] in (None, ""):
                    continue
                value = cells[1] if len(cells) > 1 else None
                target = data
                *parents, leaf = str(cells[0]).strip().split(".")
                for part in parents:
                    target = target.setdefault(part, {})
                target[leaf] = value
        records: list[dict[str, Any]] = []
        numbers: list[int] = []
        if "records" not in workbook.sheetnames:
            issues.append(Issue(None, "records", None, "工作簿缺少名为 records 的工作表"))
        else:
            rows = workbook["records"].iter_rows(values_only=True)
            headers = [str(h).strip() if h is not None else "" for h in next(rows, ())]
            for column, header in enumerate(headers, start=1):
                if header and header not in KEY_BY_HEADER:
                    issues.append(Issue(1, header, None, f"第 {column} 列：未知列名"))
            for number, cells in enumerate(rows, start=2):
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                records.append(
                    {h: c for h, c in zip(headers, cells, strict=False) if h and h in KEY_BY_HEADER}
                )
                numbers.append(number)
        data["records"] = records
    finally:
        workbook.close()
    return data, numbers, issues


def read_package(
    path: str | Path, library: FactorLibrary | None = None, units: UnitTable | None = None
) -> Package:
    """Read a ``.json`` or ``.xlsx`` package and validate it; raise ``PackageError`` if rejected."""
    path = Path(path)
    if not path.is_file():
        raise PackageError([Issue(None, "", str(path), "文件不存在")])
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            reason = f"JSON 格式错误：第 {exc.lineno} 行第 {exc.colno} 列"
            raise PackageError([Issue(None, "", None, reason)]) from None
        except UnicodeDecodeError:
            raise PackageError([Issue(None, "", None, "文件不是 UTF-8 编码的文本")]) from None
        return parse_package(data, library, units)
    if suffix in (".xlsx", ".xlsm"):
        try:
            data, numbers, sheet_issues = _read_workbook(path)
        except Exception as exc:  # openpyxl raises several unrelated types for a broken file
            raise PackageError([Issue(None, "", None, f"无法读取工作簿：{exc}")]) from None
        try:
            package = parse_package(data, library, units, numbers)
        except PackageError as exc:
            raise PackageError([*sheet_issues, *exc.issues]) from None
        if sheet_issues:
            raise PackageError(sheet_issues)
        return package
    raise PackageError([Issue(None, "", path.suffix, "不支持的文件类型（应为 .json 或 .xlsx）")])
