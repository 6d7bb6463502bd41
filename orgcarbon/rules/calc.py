"""``calc PACKAGE [--json]``: account an activity package with the same engine as the platform."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from orgcarbon.rules.accounting import AccountingError, compute
from orgcarbon.rules.calc_output import render_issues, render_text, result_document
from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import AccountingModel, default_model
from orgcarbon.rules.package import Package, PackageError, read_package
from orgcarbon.rules.results import Result

__all__ = ["CalcOutcome", "calc", "calculate_package", "run_calc"]


@dataclass(frozen=True)
class CalcOutcome:
    """What the command prints and how it exits; the result is None when rejected."""

    exit_code: int
    stdout: str
    stderr: str
    result: Result | None
    issues: tuple[Issue, ...]


def calculate_package(
    path: str | Path,
    library: FactorLibrary | None = None,
    model: AccountingModel | None = None,
) -> tuple[Package, Result]:
    """Read, validate and account a package; raise ``PackageError``/``AccountingError`` if rejected."""
    library = library or default_library()
    package = read_package(path, library)
    result = compute(model or default_model(), package.records(), library, package.context())
    return package, result


def spread_over_sites(package: Package, sites: int, months: int) -> Result:
    """The package's rows copied to ``sites`` sites (1号基地 …) and split evenly over ``months`` months,
    accounted by the engine: a multi-plant result for report benchmarks and tests."""
    from dataclasses import replace

    from orgcarbon.rules.records import Records

    rows = [
        replace(row, site=f"{p + 1}号基地", month=f"{package.year}-{m + 1:02d}", quantity=row.quantity / months,
                row=len(package.rows) * (p * months + m) + i + 1)
        for p in range(sites)
        for m in range(months)
        for i, row in enumerate(package.rows)
    ]
    return compute(default_model(), Records.from_rows(rows), default_library(), package.context())


def run_calc(
    path: str | Path,
    as_json: bool = False,
    library: FactorLibrary | None = None,
    model: AccountingModel | None = None,
) -> CalcOutcome:
    """Everything ``calc`` does except printing: the text to show and the exit code."""
    try:
        package, result = calculate_package(path, library, model)
    except (PackageError, AccountingError) as exc:
        stdout = ""
        if as_json:
            document = {"rejected": True, "issues": [i.as_dict() for i in exc.issues]}
            stdout = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        return CalcOutcome(1, stdout, render_issues(exc.issues), None, exc.issues)
    if as_json:
        text = json.dumps(result_document(package, result), ensure_ascii=False, indent=1) + "\n"
    else:
        text = render_text(package, result)
    return CalcOutcome(0, text, "", result, ())


REPORT_SUFFIXES = (".docx", ".xlsx")


def write_report(package: Path, report: Path) -> str:
    """Render the built-in report (.docx) or tables (.xlsx) of an accepted package; the message to show."""
    # Imported here: docxtpl, openpyxl and matplotlib are needed only with --report.
    from orgcarbon.report_templates.generate import report_from_package

    rendered = report_from_package(package, report, draft=True)
    lines = [f"提示：{w}" for w in rendered.warnings]
    lines.append(f"已生成报告（草稿）：{report}（{len(rendered.content):,} 字节）")
    return "\n".join(lines) + "\n"


@click.command(name="calc", help="按活动数据包（orgcarbon-activity/1，.json 或 .xlsx）核算排放量。")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 文档，而不是中文表格。")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path),
              help="同时按内置 GB/T 32151.5 模板生成报告：.docx 为报告正文，.xlsx 为补充数据表（带“草稿”标记）。")
def calc(package: Path, as_json: bool, report: Path | None) -> None:
    """Account PACKAGE and print a Chinese table, or the JSON document with ``--json``."""
    if report is not None and report.suffix.lower() not in REPORT_SUFFIXES:
        raise click.BadParameter("报告文件名应以 .docx（报告）或 .xlsx（补充数据表）结尾", param_hint="--report")
    outcome = run_calc(package, as_json)
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        click.echo(outcome.stderr, nl=False, err=True)
    if outcome.exit_code:
        click.get_current_context().exit(outcome.exit_code)
    if report is not None:
        # stderr: with --json, stdout stays one JSON document.
        click.echo(write_report(package, report), nl=False, err=True)


if __name__ == "__main__":
    calc()
