"""Commands ``orgcarbon account``, ``export-package``, ``import-package``, ``stale-runs``, ``recalc`` and ``restate``."""

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


def _app_user(username: str):  # type: ignore[no-untyped-def]
    from flask import current_app

    user = current_app.appbuilder.sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"找不到用户“{username}”")
    return user


def _restatement_text(data: dict) -> str:  # type: ignore[type-arg]
    lines = [f"重述申请 #{data['id']}：因子 {data['factor_code']} v{data['factor_version']}，策略 {data['policy']}，"
             f"状态 {data['status']}，申请人 {data['requested_by'] or '—'}"]
    for r in data["runs"]:
        lines.append(f"  核算结果 #{r['run_id']} {r['organization']} {r['year']}：{r['before_tco2']:,.2f} → "
                     f"{r['after_tco2']:,.2f} tCO2（差 {r['diff_tco2']:+,.2f}）"
                     + (f"，新结果 #{r['new_run_id']}" if r["new_run_id"] else "")
                     + ("（活动数据也已变化）" if r["data_changed"] else ""))
    if data["preview"]:
        lines.append("  组织 / 工序 / 月份：重述前 → 重述后（差额）")
        lines += [f"  {d['organization']} / {d['process']} / {d['month']}：{d['before_tco2']:,.2f} → "
                  f"{d['after_tco2']:,.2f}（{d['diff_tco2']:+,.2f}）" for d in data["preview"]]
    return "\n".join(lines)


@click.command("stale-runs")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@with_appcontext
def stale_runs_command(as_json: bool) -> None:
    """列出因活动数据或因子变化而过期的现行核算结果及原因。"""
    from orgcarbon.accounting.recalc import stale_runs
    from orgcarbon.platform.extensions import db

    found = [s.as_dict() for s in stale_runs(db.session)]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("没有过期的核算结果")
    for s in found:
        click.echo(f"核算结果 #{s['run_id']} {s['organization']} {s['year']}：" + "；".join(s["reasons"]))


@click.command("recalc")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@with_appcontext
def recalc_command(as_json: bool) -> None:
    """重算活动数据或核算模型已变化的现行核算结果（只重算受影响的结果；因子变化请用 restate）。"""
    from orgcarbon.accounting.recalc import recalculate_stale
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    with acting_as("cli:recalc"):
        done = recalculate_stale(db.session)
        data = done.as_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data["runs"] and not data["skipped"]:
        click.echo("没有需要重算的核算结果")
    for r in data["runs"]:
        click.echo(f"已重算：{r['organization']} {r['year']}，新核算结果 #{r['run_id']}（替代 #{r['replaces']}），"
                   f"排放总量 {r['total_tco2']:,.2f} tCO2")
    for s in data["skipped"]:
        click.echo(f"未重算：核算结果 #{s['run_id']} {s['organization']} {s['year']}：" + "；".join(s["reasons"]))


@click.group("restate")
def restate_group() -> None:
    """因子变化的重述：预览（申请）、冻结、批准应用、驳回、列表。"""


def _factor(factor: str, version: int | None):  # type: ignore[no-untyped-def]
    from orgcarbon.metamodel.versioned import Factor
    from orgcarbon.platform.extensions import db

    if factor.isdigit() and version is None:
        return db.session.get(Factor, int(factor))
    query = select(Factor).where(Factor.code == factor)
    query = query.where(Factor.version == version) if version is not None else query.where(Factor.status == "published")
    return db.session.scalar(query)


@restate_group.command("preview")
@click.option("--factor", required=True, help="因子编号，或因子代码（默认取其已发布版本）")
@click.option("--version", type=int, default=None, help="因子版本（与因子代码一起使用）")
@click.option("--by", "by", required=True, help="申请人用户名")
@click.option("--freeze", "policy_freeze", is_flag=True, help="选择冻结策略：过去的结果保持不变（不需要批准）")
@click.option("--note", default=None, help="说明")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@with_appcontext
def restate_preview(factor: str, version: int | None, by: str, policy_freeze: bool, note: str | None,
                    as_json: bool) -> None:
    """计算重述预览（不保存核算结果）并保存为待批准的申请；或用 --freeze 记录冻结决定。"""
    from orgcarbon.accounting.restatement import (
        RestatementRefused,
        freeze,
        request_restatement,
        restatement_dict,
    )
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    user = _app_user(by)
    with acting_as(user.username, user.id):
        try:
            found = _factor(factor, version)
            made = (freeze if policy_freeze else request_restatement)(db.session, found, user, None, note)
        except RestatementRefused as exc:
            db.session.rollback()
            raise click.ClickException("\n".join(exc.reasons)) from exc
    data = restatement_dict(made)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else _restatement_text(data))


@restate_group.command("apply")
@click.argument("restatement_id", type=int)
@click.option("--by", "by", required=True, help="批准人用户名（不能是申请人）")
@with_appcontext
def restate_apply(restatement_id: int, by: str) -> None:
    """批准并应用重述申请：只重算受影响的核算结果，旧结果保留并标记为已替代。"""
    from orgcarbon.accounting.restatement import RestatementRefused, approve, restatement_dict
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    user = _app_user(by)
    with acting_as(user.username, user.id):
        try:
            done = approve(db.session, restatement_id, user)
        except RestatementRefused as exc:
            raise click.ClickException("重述未应用：\n" + "\n".join(f"  {r}" for r in exc.reasons)) from exc
    click.echo(_restatement_text(restatement_dict(done)))


@restate_group.command("reject")
@click.argument("restatement_id", type=int)
@click.option("--by", "by", required=True, help="用户名")
@click.option("--note", default=None, help="说明")
@with_appcontext
def restate_reject(restatement_id: int, by: str, note: str | None) -> None:
    """驳回（或由申请人撤回）待批准的重述申请。"""
    from orgcarbon.accounting.restatement import RestatementRefused, reject
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    user = _app_user(by)
    with acting_as(user.username, user.id):
        try:
            reject(db.session, restatement_id, user, None, note)
        except RestatementRefused as exc:
            raise click.ClickException("\n".join(exc.reasons)) from exc
    click.echo(f"重述申请 #{restatement_id} 已驳回")


@restate_group.command("list")
@with_appcontext
def restate_list() -> None:
    """列出重述申请与冻结决定。"""
    from orgcarbon.accounting.models import Restatement
    from orgcarbon.platform.extensions import db

    for r in db.session.scalars(select(Restatement).order_by(Restatement.id.desc())):
        click.echo(f"#{r.id} {r.factor_code} v{r.factor_version} {r.policy} {r.status} "
                   f"申请人 {r.requested_by_name or '—'} 决定人 {r.decided_by_name or '—'}")


COMMANDS = (account_command, export_package_command, import_package_command, stale_runs_command, recalc_command,
            restate_group)
