"""``orgcarbon quality``: import a rule pack into the database, run a dry run from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.group("quality")
def quality_group() -> None:
    """数据质量：导入规则包、试运行规则。"""


@quality_group.command("load-pack")
@click.option("--pack", "pack_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="规则包 JSON 文件（默认：钢铁行业默认规则包）。")
@with_appcontext
def load_pack_command(pack_path: Path | None) -> None:
    """把规则包导入为已发布的规则（作者 system）；已存在的规则编号保持不变，可重复运行。"""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.pack_import import import_pack, read_pack
    from orgcarbon.quality.rules_store import RuleRefused
    from orgcarbon.rules.quality import RuleDefinitionError
    from orgcarbon.security.audit import acting_as

    try:
        pack = read_pack(pack_path)
        with acting_as("cli:quality-load-pack"):
            result = import_pack(db.session, pack)
            db.session.commit()
    except RuleDefinitionError as exc:
        raise click.ClickException("规则包无效，未导入：\n" + "\n".join(str(p) for p in exc.problems)) from exc
    except RuleRefused as exc:
        db.session.rollback()
        raise click.ClickException("\n".join(exc.reasons)) from exc
    click.echo(f"规则包“{result.pack}”：新增 {len(result.added)} 条已发布规则，"
               f"{len(result.kept)} 条已存在（保持不变）。")


@quality_group.command("dry-run")
@click.option("--org", "org_name", required=True, help="组织名称（含其下级组织）。")
@click.option("--year", type=int, required=True)
@click.option("--month", type=click.IntRange(1, 12), default=None)
@click.option("--dataset", type=click.Choice(["activity", "staging"]), default="activity")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON。")
@with_appcontext
def dry_run_command(org_name: str, year: int, month: int | None, dataset: str, as_json: bool) -> None:
    """试运行当前生效的规则：记录哪些规则命中了哪些记录，不修改数据。"""
    from sqlalchemy import select

    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import QualityRun
    from orgcarbon.quality.report import verification_report
    from orgcarbon.quality.runs import RunRefused
    from orgcarbon.quality.tasks import start_dry_run
    from orgcarbon.security.audit import acting_as

    org_id = db.session.scalar(select(Organization.id).where(Organization.name == org_name))
    if org_id is None:
        raise click.ClickException(f"组织不存在：{org_name}")
    try:
        with acting_as("cli:quality-dry-run"):
            run_id = start_dry_run(db.session, org_id, year, month, dataset)
    except RunRefused as exc:
        raise click.ClickException("；".join(exc.reasons)) from exc
    run = db.session.get(QualityRun, run_id)
    assert run is not None
    if as_json:
        click.echo(json.dumps(verification_report(db.session, run), ensure_ascii=False, indent=1, default=str))
        return
    counts = run.counts or {}
    severity = counts.get("by_severity", {})
    click.echo(f"试运行 #{run.id}（{run.status}）：{counts.get('rows', 0)} 条记录，问题 {counts.get('findings', 0)} 条"
               f"（错误 {severity.get('error', 0)}，警告 {severity.get('warning', 0)}，提示 {severity.get('info', 0)}），"
               f"清洗变更 {counts.get('changes', 0)} 处。")
    if run.error:
        raise click.ClickException(run.error)


@quality_group.command("clean")
@click.option("--org", "org_name", required=True, help="组织名称（含其下级组织）。")
@click.option("--year", type=int, required=True)
@click.option("--month", type=click.IntRange(1, 12), default=None)
@with_appcontext
def clean_command(org_name: str, year: int, month: int | None) -> None:
    """清洗暂存数据（写回清洗结果）并按月汇总为活动数据；已关闭期间跳过。"""
    from sqlalchemy import select

    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.cleaning import clean_and_promote
    from orgcarbon.quality.runs import RunRefused
    from orgcarbon.security.audit import acting_as

    org_id = db.session.scalar(select(Organization.id).where(Organization.name == org_name))
    if org_id is None:
        raise click.ClickException(f"组织不存在：{org_name}")
    try:
        with acting_as("cli:quality-clean"):
            run, promotion = clean_and_promote(db.session, org_id, year, month)
    except RunRefused as exc:
        db.session.rollback()
        raise click.ClickException("；".join(exc.reasons)) from exc
    applied = (run.counts or {}).get("applied", {})
    click.echo(f"清洗 #{run.id}：已清洗 {applied.get('cleaned', 0)} 行，剔除 {applied.get('rejected', 0)} 行，"
               f"修改 {applied.get('values_changed', 0)} 个值；汇总为 {len(promotion.created)} 条活动数据"
               f"（{promotion.rows} 行暂存数据）。")
    for reason in promotion.skipped:
        click.echo(f"  未汇总：{reason}")
