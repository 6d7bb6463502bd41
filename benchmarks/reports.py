"""Benchmark: the annual report (docx) and tables (xlsx) for the golden case and a 20-plant group.

The group is the golden plant copied to 20 sites × 12 months (4,800 result lines). Prints a
readable summary and, as the last line, one JSON object with the measured figures.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.report_templates.generate import render_builtin
from orgcarbon.report_templates.tables import supplementary_workbook
from orgcarbon.rules.accounting import compute
from orgcarbon.rules.calc import calculate_package
from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.model import default_model
from orgcarbon.rules.records import Records
from orgcarbon.rules.results import Result

GOLDEN = Path(__file__).parents[1] / "tests/fixtures/domain/golden-bfbof-annual.package.json"
PLANTS, MONTHS = 20, 12


def group_result() -> tuple[ReportInfo, Result]:
    """The golden rows spread over 20 plants and 12 months, accounted by the real engine."""
    package, _ = calculate_package(GOLDEN)
    rows = [
        replace(
            row,
            site=f"{p + 1}号基地",
            month=f"{package.year}-{m + 1:02d}",
            quantity=row.quantity / MONTHS,
            row=len(package.rows) * (p * MONTHS + m) + i + 1,
        )
        for p in range(PLANTS)
        for m in range(MONTHS)
        for i, row in enumerate(package.rows)
    ]
    result = compute(default_model(), Records.from_rows(rows), default_library(), package.context())
    info = ReportInfo.from_package(package, org_name="示例钢铁集团（20 基地，虚构）")
    return info, result


def render_all(info: ReportInfo, result: Result) -> dict[str, float]:
    """Seconds for context, docx, xlsx template and generated tables; and the total."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    context = build_context(result, info)
    times["context_s"] = time.perf_counter() - start
    for key, step in (
        ("docx_s", lambda: render_builtin("gbt32151.5-report", context)),
        ("xlsx_s", lambda: render_builtin("gbt32151.5-tables", context)),
        ("tables_s", lambda: supplementary_workbook(context)),
    ):
        t = time.perf_counter()
        step()
        times[key] = time.perf_counter() - t
    times["total_s"] = time.perf_counter() - start
    times["lines"] = len(context["activity_data"])
    return times


def main() -> int:
    package, result = calculate_package(GOLDEN)
    render_all(ReportInfo.from_package(package), result)  # warm up imports, fonts, templates
    demo = render_all(ReportInfo.from_package(package), result)
    info, group = group_result()
    grouped = render_all(info, group)
    for label, t in (("demo", demo), ("group", grouped)):
        print(
            f"{label}: {int(t['lines'])} lines, context {t['context_s']:.3f} s, "
            f"docx {t['docx_s']:.3f} s, xlsx {t['xlsx_s']:.3f} s, "
            f"tables {t['tables_s']:.3f} s, total {t['total_s']:.3f} s"
        )
    summary: dict[str, Any] = {
        "benchmark": "reports",
        "demo_s": round(demo["total_s"], 3),
        "group_s": round(grouped["total_s"], 3),
        "group_lines": int(grouped["lines"]),
        "group_docx_s": round(grouped["docx_s"], 3),
        "group_xlsx_s": round(grouped["xlsx_s"], 3),
        "targets_met": demo["total_s"] < 2 and grouped["total_s"] < 5,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
