"""``orgcarbon report``: render the built-in GB/T 32151.5 report from a package; check a template.

Works on files only (no app, no database), so a consultant can try a template on a laptop.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orgcarbon.report_templates.checks import check_template
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.generate import report_from_package
from orgcarbon.rules.issues import RejectedError


@click.group("report")
def report() -> None:
    """报告：从活动数据包生成 GB/T 32151.5 报告，检查报告模板。"""


@report.command("render")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件：.docx 为报告正文，.xlsx 为补充报表")
@click.option("--final", is_flag=True, help="不加“草稿”标记（仅用于已审核、已锁定的数据）")
def render_command(package: Path, output: Path, final: bool) -> None:
    """核算活动数据包并按内置模板生成报告（Word）或补充报表（Excel）。"""
    try:
        rendered = report_from_package(package, output, draft=not final)
    except RejectedError as exc:
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
        raise click.ClickException(f"数据包未通过校验（{len(exc.issues)} 处问题），未生成报告。") from exc
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in rendered.warnings:
        click.echo(f"提示：{warning}", err=True)
    click.echo(f"已生成：{output}（{len(rendered.content):,} 字节）")


@report.command("check")
@click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_command(template: Path) -> None:
    """检查 Word/Excel 报告模板：语法、被拆开的标签、未知变量、循环对象、Excel 标记。"""
    result = check_template(template.read_bytes(), template.name)
    for issue in result.issues:
        level = "错误" if issue.severity == "error" else "警告"
        click.echo(f"[{level}] {issue}")
    click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    report()
