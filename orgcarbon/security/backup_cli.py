"""``orgcarbon backup ...``: full and incremental backups, list, verify, restore, prune."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from orgcarbon.security.backup import BackupError, BackupFile, BackupService


def _service() -> BackupService:
    from orgcarbon.platform.extensions import db

    # Our own connections do the work; the app's pooled ones must not hold a lock on the file
    # (SQLite) or see a schema that restore is about to replace.
    db.session.remove()
    db.engine.dispose()
    return BackupService.from_app(current_app)


def _describe(made: BackupFile) -> str:
    rows = sum(made.manifest["row_counts"].values())
    return f"{made.path}（{made.manifest['created_at']}，{len(made.manifest['row_counts'])} 张表，{rows} 行）"


@click.group("backup")
def backup() -> None:
    """数据库备份与恢复（SM4 加密、SM3 校验）。"""


@backup.command("full")
@with_appcontext
def full_command() -> None:
    """全量备份整个数据库。"""
    try:
        made = _service().full()
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("全量备份完成：" + _describe(made))


@backup.command("incremental")
@with_appcontext
def incremental_command() -> None:
    """增量备份：上次备份以来内容有变化的全部数据段（含日志、密钥轮换后重新加密的值）。"""
    try:
        made = _service().incremental()
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    changed = sum(made.manifest["changed_lines"].values())
    click.echo(f"增量备份完成：{_describe(made)}，变更记录 {changed} 条")


@backup.command("list")
@with_appcontext
def list_command() -> None:
    """列出备份目录中的备份。"""
    service = _service()
    found = service.list_backups()
    if not found:
        click.echo(f"备份目录 {service.backup_dir} 中没有备份")
    kinds = {"full": "全量", "incremental": "增量"}
    for item in found:
        m = item.manifest
        base = f"  基于 {m['previous_id']}" if m.get("previous_id") else ""
        click.echo(
            f"{m['id']}  {kinds.get(item.kind, item.kind)}  {m['created_at']}  "
            f"{item.path.stat().st_size} 字节{base}"
        )


@backup.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def verify_command(file: Path) -> None:
    """校验备份文件的 SM3 校验值与 SM4-GCM 认证标签（不恢复）。"""
    try:
        made = _service().verify(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("校验通过：" + _describe(made))


@backup.command("restore")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--force", is_flag=True, help="目标数据库非空时也恢复（覆盖现有数据）")
@with_appcontext
def restore_command(files: tuple[Path, ...], force: bool) -> None:
    """恢复：先全量备份，再按顺序列出其后的增量备份。"""
    try:
        made = _service().restore(list(files), force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"恢复完成，已恢复到 {made.id}；结构版本与各表行数与清单一致")


@backup.command("prune")
@click.option("--keep", type=click.IntRange(min=1), required=True, help="保留最近几份全量备份")
@with_appcontext
def prune_command(keep: int) -> None:
    """只保留最近 N 份全量备份及其增量备份，删除其余备份文件。"""
    try:
        removed = _service().prune(keep)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in removed:
        click.echo(f"已删除：{path.name}")
    click.echo(f"清理完成：删除 {len(removed)} 个文件，保留最近 {keep} 份全量备份")
