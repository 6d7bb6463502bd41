"""Benchmark: the annual report (docx) and tables (xlsx) of the demo enterprise and a 20-plant group.

The demo enterprise's year is the golden plant in monthly rows (240 result lines, the same total
as the platform's demo 华钢集团 2024); the group is that plant copied to 20 sites (4,800 lines).
``demo_s`` and ``group_s`` are context + Word report + Excel tables, as the platform renders a report of a run
(``orgcarbon.reports.render``); the generated write-only workbook is timed apart. Prints a readable
summary and, as the last line, exactly ``{"benchmark": "reports", "demo_s": …, "group_s": …}``.
Targets: demo < 2 s, group < 5 s.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.report_templates.generate import render_builtin
from orgcarbon.report_templates.tables import supplementary_workbook
from orgcarbon.rules.calc import calculate_package, spread_over_sites
from orgcarbon.rules.results import Result

GOLDEN = Path(__file__).parents[1] / "tests/fixtures/domain/golden-bfbof-annual.package.json"
PLANTS, MONTHS = 20, 12


def spread_result(plants: int, org_name: str) -> tuple[ReportInfo, Result]:
    """The golden rows spread over ``plants`` sites and 12 months, accounted by the real engine."""
    package, _ = calculate_package(GOLDEN)
    return ReportInfo.from_package(package, org_name=org_name), spread_over_sites(package, plants, MONTHS)


def render_all(info: ReportInfo, result: Result) -> dict[str, float]:
    """Seconds for context, docx and xlsx template (their sum is the total, ``cpu_s`` its CPU
    seconds); generated tables apart."""
    times: dict[str, float] = {}
    cpu = time.process_time()
    start = time.perf_counter()
    context = build_context(result, info)
    times["context_s"] = time.perf_counter() - start
    for key, step in (
        ("docx_s", lambda: render_builtin("gbt32151.5-report", context)),
        ("xlsx_s", lambda: render_builtin("gbt32151.5-tables", context)),
    ):
        t = time.perf_counter()
        step()
        times[key] = time.perf_counter() - t
    times["cpu_s"] = time.process_time() - cpu  # wall time on a shared machine includes waiting
    t = time.perf_counter()
    supplementary_workbook(context)
    times["tables_s"] = time.perf_counter() - t
    times["total_s"] = times["context_s"] + times["docx_s"] + times["xlsx_s"]
    times["lines"] = len(context["activity_data"])
    return times


def main() -> int:
    info, result = spread_result(1, "华钢集团（演示企业）")
    render_all(info, result)  # warm up imports, fonts, templates
    demo = render_all(info, result)
    info, group = spread_result(PLANTS, "示例钢铁集团（20 基地，虚构）")
    grouped = render_all(info, group)
    for label, t in (("demo", demo), ("group", grouped)):
        print(
            f"{label}: {int(t['lines'])} lines, context {t['context_s']:.3f} s, "
            f"docx {t['docx_s']:.3f} s, xlsx {t['xlsx_s']:.3f} s, "
            f"total {t['total_s']:.3f} s, CPU {t['cpu_s']:.3f} s "
            f"(generated tables, apart: {t['tables_s']:.3f} s)"
        )
    met = demo["total_s"] < 2 and grouped["total_s"] < 5
    print(f"targets (demo < 2 s, group < 5 s): {'met' if met else 'NOT met'}")
    summary = {"benchmark": "reports", "demo_s": round(demo["total_s"], 3), "group_s": round(grouped["total_s"], 3)}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
