"""The national carbon market's monthly evidence workbook (月度存证工作簿), written with openpyxl.

Sheets as the third-party-observed 2026 workbook names them (grade D): 企业层级生产数据及排放量表
(monthly emissions by term, production, and every key parameter with its source and evidence),
排放量汇总表 (the four-line summary by month) and 工序-生产线生产数据及排放量表 (each process type's
production lines by month), plus 说明 (regime, factor set with fallbacks and grades, exclusions).
The column layout of the official workbook was not available; this one is the platform's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.regimes import GRADE_NAMES, EtsResult

SHEETS = ("企业层级生产数据及排放量表", "排放量汇总表", "工序-生产线生产数据及排放量表", "说明")
TCO2 = "#,##0.00"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TERMS = (("fuel_combustion", "化石燃料燃烧排放", 1), ("process", "工业生产过程排放", 1),
         ("fixed_carbon", "含碳产品隐含排放（扣减）", -1))
TERM_OF = {"fuel_combustion": "fuel_combustion", "process_flux": "process", "process_electrode": "process",
           "process_raw_material": "process", "fixed_carbon_product": "fixed_carbon"}


def _title(ws: Worksheet, text: str) -> None:
    ws.append([text])
    ws.cell(ws.max_row, 1).font = Font(bold=True, size=13)


def _header(ws: Worksheet, cells: Sequence[Any]) -> None:
    ws.append(list(cells))
    for cell in ws[ws.max_row]:
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def _rows(ws: Worksheet, rows: Iterable[Sequence[Any]], numeric_from: int) -> None:
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row][numeric_from:]:
            if isinstance(cell.value, float):
                cell.number_format = TCO2


def _widths(ws: Worksheet, first: int = 16, rest: int = 14) -> None:
    for i in range(1, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(i)].width = first if i == 1 else rest


def _monthly(by_month: dict[str, float], months: Sequence[str]) -> list[float]:
    values = [float(by_month.get(m, 0.0)) for m in months]
    return [*values, sum(by_month.values())]


def _enterprise_sheet(ws: Worksheet, result: EtsResult, data: dict[str, Any]) -> None:
    months = list(result.months)
    _title(ws, f"{result.organization} {result.year} 年 企业层级生产数据及排放量表（{result.regime.name}）")
    ws.append(["一、排放量（tCO2）"])
    _header(ws, ["项目", "单位", *months, "全年"])
    term_months: dict[str, dict[str, float]] = {key: {} for key, _, _ in TERMS}
    for line in result.lines:
        term = TERM_OF.get(line.category, "")
        bucket = term_months.setdefault(term, {})
        bucket[line.month] = bucket.get(line.month, 0.0) + line.tco2
    enterprise = next(s for s in result.summary if s.key == "enterprise")
    _rows(ws, ([name, "tCO2", *_monthly(term_months[key], months)] for key, name, _ in TERMS), 2)
    _rows(ws, [["企业层级排放量（燃烧 + 过程 − 含碳产品）", "tCO2", *_monthly(dict(enterprise.by_month), months)]], 2)
    ws.append([])
    ws.append(["二、生产数据（产品产量记录；粗钢按含碳产品记录）"])
    _header(ws, ["产品", "单位", "全年产量", "厂区/工序/子工序"])
    if result.crude_steel_t:
        ws.append(["粗钢", "t", result.crude_steel_t, "含碳产品（粗钢）记录"])
    for p in result.process_rows:
        for material, tonnes in p.products:
            ws.append([material, "t", tonnes, f"{p.site}/{p.process}/{p.subprocess}"])
    ws.append([])
    ws.append(["三、关键参数（逐月；实测值来自活动记录，证据文件来自批准该数据的表单提交）"])
    _header(ws, ["月份", "厂区", "工序", "子工序", "物料", "类别", "消耗量/产量", "单位", "低位发热量", "单位热值含碳量",
                 "碳氧化率", "排放因子", "排放因子单位", "纯度", "排放量 tCO2", "参数来源", "证据等级", "证据文件（SM3）", "活动记录"])
    for p in data["parameters"]:
        values = p["values"]

        def v(name: str, values: dict[str, Any] = values) -> Any:
            return values[name]["value"] if name in values else None

        sources = "；".join(f"{x['label']}：{x['source']}" for x in values.values())
        grades = "、".join(sorted({x["grade"] for x in values.values() if x.get("grade")})) or "实测"
        evidence = p.get("evidence") or {}
        files = "；".join(f"{f['filename']}（{f['sm3'][:12]}…）" for f in evidence.get("files", []))
        origin = evidence.get("origin", "")
        ws.append([p["month"], p["site"], p["process"], p["subprocess"], p["material"],
                   CATEGORY_NAMES.get(p["category"], p["category"]), p["quantity"], p["unit"], v("ncv"), v("cc"), v("of"),
                   p["ef"], p["ef_unit"], v("purity"), p["tco2"], sources, grades,
                   (origin + "：" + files) if files else origin, p["record_id"]])
        ws.cell(ws.max_row, 15).number_format = TCO2
    ws.freeze_panes = "B4"
    _widths(ws, 34)


def _summary_sheet(ws: Worksheet, result: EtsResult) -> None:
    months = list(result.months)
    _title(ws, f"{result.organization} {result.year} 年 排放量汇总表（tCO2）")
    _header(ws, ["项目", *months, "全年"])
    _rows(ws, ([s.name, *_monthly(dict(s.by_month), months)] for s in result.summary), 1)
    ws.append([])
    ws.append(["按工序类型"])
    _header(ws, ["工序类型", *months, "全年"])
    _rows(ws, ([s.name, *_monthly(dict(s.by_month), months)] for s in result.by_type), 1)
    ws.append([])
    ws.append(["企业层级排放总量 = 工序层级排放总量 + 掺烧自产二次能源的化石燃料发电设施排放总量 + 其他排放总量"])
    if result.regime.summary_evidence is not None:
        ws.append([f"证据等级 {GRADE_NAMES.get(result.regime.summary_evidence.grade)}：{result.regime.summary_evidence.basis}"])
    ws.freeze_panes = "B3"
    _widths(ws, 44)


def _process_sheet(ws: Worksheet, result: EtsResult) -> None:
    months = list(result.months)
    _title(ws, f"{result.organization} {result.year} 年 工序-生产线生产数据及排放量表（tCO2）")
    _header(ws, ["工序类型", "厂区", "工序", "生产线（子工序）", "映射依据", *months, "全年", "产品产量（t）"])
    for p in result.process_rows:
        products = "；".join(f"{m} {t:,.2f}" for m, t in p.products)
        ws.append([p.process_type_name, p.site, p.process, p.subprocess, p.mapped_by,
                   *_monthly(dict(p.by_month), months), products])
        for cell in ws[ws.max_row][5:5 + len(months) + 1]:
            cell.number_format = TCO2
    ws.freeze_panes = "F3"
    _widths(ws, 30)


def _notes_sheet(ws: Worksheet, result: EtsResult) -> None:
    regime = result.regime
    _title(ws, f"{regime.name}（{regime.standard}）")
    ws.append([f"口径证据等级 {GRADE_NAMES.get(regime.evidence.grade)}：{regime.evidence.basis}"])
    ws.append([])
    _header(ws, ["类别", "处理", "原因 / 依据", "证据等级"])
    for c in regime.categories:
        ws.append([c.label, "计入" if c.counted else "不计入", c.reason or c.evidence.basis, c.evidence.grade])
    for r in regime.reclassify:
        ws.append([f"{'、'.join(r.materials)}（{CATEGORY_NAMES.get(r.category)}，负值）", "改按含碳产品扣减", r.reason,
                   r.evidence.grade])
    ws.append([])
    _header(ws, ["物料", "因子", "取值", "单位", "因子口径", "是否沿用", "证据等级", "来源"])
    for c in result.factor_choices:
        ws.append([c.material, c.kind, c.value, c.unit, c.source_regime, "沿用" if c.fallback else "本口径",
                   c.grade, c.source])
    ws.append([])
    for note in result.notes:
        ws.append([note])
    if result.excluded:
        ws.append([])
        _header(ws, ["不计入的记录", "月份", "物料", "数量", "单位", "原因"])
        for e in result.excluded:
            ws.append([f"{e.site}/{e.process}/{e.subprocess}", e.month, e.material, e.quantity, e.unit, e.reason])
    _widths(ws, 40, 18)


def ets_workbook(result: EtsResult, data: dict[str, Any]) -> bytes:
    """The monthly evidence workbook of ``result`` (``data``: its JSON form, with evidence)."""
    wb = Workbook()
    sheets = [wb.active, *(wb.create_sheet() for _ in SHEETS[1:])]
    for ws, name in zip(sheets, SHEETS, strict=True):
        ws.title = name
    _enterprise_sheet(sheets[0], result, data)
    _summary_sheet(sheets[1], result)
    _process_sheet(sheets[2], result)
    _notes_sheet(sheets[3], result)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
