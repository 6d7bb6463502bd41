"""``orgcarbon report``: render the built-in GB/T 32151.5 report from a package; check a template;
verify a report file.

``render`` and ``check`` work on files only (no app, no database), so a consultant can try a template
on a laptop. ``verify`` checks a report package offline with a trusted public key; any other file
(a report the platform rendered) is looked up by its SM3 in the platform's database.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

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


def _is_package(data: bytes) -> bool:
    import io
    import zipfile

    from orgcarbon.report_templates.package import MANIFEST, SIGNATURE

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return MANIFEST in names and SIGNATURE in names


def _app_context() -> AbstractContextManager[Any]:
    """The platform's app context: the current one, or the app ``orgcarbon`` builds (``ScriptInfo``)."""
    from contextlib import nullcontext

    from flask import current_app
    from flask.cli import ScriptInfo

    if current_app:
        return nullcontext()
    info = click.get_current_context().ensure_object(ScriptInfo)
    try:
        app = info.load_app()
    except Exception as exc:  # noqa: BLE001 - no app configured: say what is needed
        raise click.ClickException(
            f"查找已签名报告需要平台数据库（请通过 orgcarbon 命令并配置 ORGCARBON_DATABASE_URL）：{exc}") from exc
    context: AbstractContextManager[Any] = app.app_context()
    return context


def _package_key(public_key: str | None, data: bytes) -> str:
    """The trusted key: ``--public-key`` (hex or a file holding it), else the signer's registered key."""
    if public_key:
        path = Path(public_key)
        return path.read_text(encoding="utf-8").strip() if path.is_file() else public_key.strip()
    import io
    import json
    import zipfile

    from orgcarbon.report_templates.package import SIGNATURE

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        signer = json.loads(zf.read(SIGNATURE)).get("signer_id")
    with _app_context():
        from flask import current_app

        from orgcarbon.platform.extensions import db
        from orgcarbon.security.models import UserSecurity

        user = current_app.appbuilder.sm.find_user(username=signer)  # type: ignore[attr-defined]
        state = db.session.get(UserSecurity, user.id) if user is not None else None
        if state is None or not state.sm2_public_key:
            raise click.ClickException(f"找不到签名人“{signer}”登记的 SM2 公钥；请用 --public-key 给出受信任的公钥")
        return str(state.sm2_public_key)


@report.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", help="报告包验签用的受信任 SM2 公钥（十六进制，或保存公钥的文件）；不给出时使用签名人在平台登记的公钥")
def verify_command(file: Path, public_key: str | None) -> None:
    """验证报告文件：报告包（zip）离线验证签名与文件摘要；其他文件按 SM3 摘要在平台中查找签名并验证。"""
    from orgcarbon.report_templates.package import verify_report_package

    data = file.read_bytes()
    if _is_package(data):
        check = verify_report_package(data, _package_key(public_key, data))
        if check.ok:
            manifest = check.manifest or {}
            click.echo(f"验签通过：报告包（{manifest.get('organization')}，{manifest.get('report_year')} 年，"
                       f"{len(manifest.get('files', []))} 个文件）签名有效，文件摘要一致。")
            return
        for problem in check.problems:
            click.echo(f"  {problem}", err=True)
        click.echo("验签失败：报告包未通过验证。", err=True)
        sys.exit(1)
    with _app_context():
        from orgcarbon.platform.extensions import db
        from orgcarbon.reports.verify import verify_file_bytes

        outcome = verify_file_bytes(db.session, data)
    click.echo(f"SM3：{outcome.sm3}")
    if outcome.ok:
        click.echo(outcome.message)
        return
    click.echo(f"验签失败：{outcome.message}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    report()
