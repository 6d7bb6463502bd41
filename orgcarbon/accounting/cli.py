"""Commands ``orgcarbon account``, ``export-package`` and ``import-package``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select


def _org_id(value: str) -> int:
    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.extensions import db

    found = db.session.scalars(select(Organization).where(Organization.name == value)).all()
    if not found and value.isdigit() and db.session.get(Organization, int(value)) is not None:
        return int(value)
    if len(found) != 1:
        raise click.ClickException(f"找不到组织“{value}”" if not found else f"有多个组织名为“{value}”，请用编号")
    return found[0].id


def _issues(exc: Exception) -> str:
    return "\n".join(f"  {issue}" for issue in getattr(exc, "issues", [])) or str(exc)


@click.command("account")
@click.option("--org", "org", required=True, help="组织名称或编号（含其全部下级）")
@click.option("--year", type=int, required=True, help="核算年份")
@click.option("--model", "model_id", type=int, default=None, help="核算模型编号（默认：组织适用的已发布模型）")
@click.option("--electricity-ef", type=float, default=None, help="电网排放因子 tCO2/MWh（默认按电网区域与年份选取）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@with_appcontext
def account_command(org: str, year: int, model_id: int | None, electricity_ef: float | None, as_json: bool) -> None:
    """核算一个组织（含下级）一年的排放并保存结果与溯源信息。"""
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    with acting_as("cli:account"):
        try:
            run = AccountOrganisation(db.session, _org_id(org), year, model_id, electricity_ef).run()
        except AccountingRefused as exc:
            raise click.ClickException("核算被拒绝，未保存任何结果：\n" + "\n".join(f"  {r}" for r in exc.reasons)) from exc
    if as_json:
        click.echo(json.dumps({
            "run": run.id, "organization": run.organization.name, "year": run.year,
            "model": run.model_id, "model_version": run.model_version, "total_tco2": run.total_tco2,
            "direct_tco2": run.direct_tco2, "indirect_tco2": run.indirect_tco2, "by_category": run.by_category,
            "lines": run.line_count, "notes": (run.notes or "").splitlines(), "inputs_digest": run.inputs_digest,
        }, ensure_ascii=False, indent=2))
        return
    click.echo(f"核算完成：{run.organization.name} {run.year} 年，运行编号 {run.id}，{run.line_count} 条结果")
    for note in (run.notes or "").splitlines():
        click.echo(f"说明：{note}")
    click.echo(f"直接排放：{run.direct_tco2:,.2f} tCO2")
    click.echo(f"间接排放：{run.indirect_tco2:,.2f} tCO2")
    click.echo(f"排放总量：{run.total_tco2:,.2f} tCO2")


@click.command("export-package")
@click.option("--org", "org", required=True, help="组织名称或编号（含其全部下级）")
@click.option("--year", type=int, required=True, help="年份")
@click.option("--electricity-ef", type=float, default=None, help="写入数据包的电网排放因子 tCO2/MWh")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="输出文件（默认标准输出）")
@with_appcontext
def export_package_command(org: str, year: int, electricity_ef: float | None, output: str | None) -> None:
    """把一个组织一年的活动数据导出为 orgcarbon-activity/1 数据包（JSON）。"""
    from orgcarbon.accounting.transfer import export_package
    from orgcarbon.platform.extensions import db

    text = json.dumps(export_package(db.session, _org_id(org), year, electricity_ef), ensure_ascii=False, indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"已导出到 {output}", err=True)
    else:
        click.echo(text)


@click.command("import-package")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "org", required=True, help="导入到的组织名称或编号")
@with_appcontext
def import_package_command(file: str, org: str) -> None:
    """把数据包的活动记录导入一个组织（全部成功或全部不导入）。"""
    from orgcarbon.accounting.transfer import import_package
    from orgcarbon.platform.extensions import db
    from orgcarbon.rules.package import PackageError
    from orgcarbon.security.audit import acting_as

    with acting_as("cli:import-package"):
        try:
            package, count = import_package(db.session, file, _org_id(org))
        except PackageError as exc:
            raise click.ClickException(f"数据包被拒绝，未导入任何记录：共 {len(exc.issues)} 处问题\n" + _issues(exc)) from exc
    hint = f"（数据包指定电网排放因子 {package.electricity_ef}，核算时请加 --electricity-ef）" if package.electricity_ef else ""
    click.echo(f"已导入 {count} 条活动记录，{package.year} 年{hint}")


COMMANDS = (account_command, export_package_command, import_package_command)
