"""The ``orgcarbon`` command line: init, run, worker, demo, roles, calc and Flask-Migrate's ``db``."""

from __future__ import annotations

import secrets
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app():  # type: ignore[no-untyped-def]
    from orgcarbon.platform.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def cli() -> None:
    """组织碳平台命令行工具。配置通过 ORGCARBON_* 环境变量给出（见 README）。"""


def _generate_password() -> str:
    # Always satisfies the complexity rules: letters of both cases, digits and a symbol.
    return secrets.token_urlsafe(12) + "-Aa1"


def ensure_user(username: str, role_name: str, password: str, first: str, last: str) -> bool:
    """Create ``username`` with ``role_name`` unless it exists; True when it was created."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username) is not None:
        return False
    role = sm.find_role(role_name)
    if role is None:
        raise click.ClickException(f"角色不存在：{role_name}（请先运行 orgcarbon init）")
    user = sm.add_user(username, first, last, f"{username}@example.invalid", role, password=password)
    if not user:
        raise click.ClickException(f"创建用户 {username} 失败")
    return True


INITIAL_PASSWORD_FILE = "initial_admin_password"


def _keep_initial_password(password: str) -> None:
    # Development only, like Jenkins' initialAdminPassword: lets `make run` show the login again.
    import os
    from pathlib import Path

    path = Path(current_app.instance_path) / INITIAL_PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """迁移数据库到最新版本、同步内置角色与权限、创建首个管理员（可重复运行）。"""
    from flask_migrate import upgrade

    from orgcarbon.platform.extensions import MIGRATIONS_DIR
    from orgcarbon.security.audit import acting_as
    from orgcarbon.security.passwords import password_problems

    with acting_as("cli:init"):
        upgrade(directory=str(MIGRATIONS_DIR))
        counts = current_app.appbuilder.sm.sync_roles()
        click.echo("数据库已迁移到最新版本；角色：" + "，".join(f"{k}（{v} 项权限）" for k, v in counts.items()))

        settings = current_app.config["ORGCARBON"]
        username = settings["ADMIN_USERNAME"]
        given = settings.get("ADMIN_PASSWORD")
        if given and (problems := password_problems(given)):
            raise click.ClickException("ORGCARBON_ADMIN_PASSWORD 不符合密码规则：" + "；".join(problems))
        password = given or _generate_password()
        from orgcarbon.security.password_state import must_change
        from orgcarbon.security.roles import ADMIN_ROLE

        with must_change(not given):  # a generated password is shown once: replace it at first login
            created = ensure_user(username, ADMIN_ROLE, password, "系统", "管理员")
        if created:
            if given:
                click.echo(f"已创建管理员 {username}，密码取自 ORGCARBON_ADMIN_PASSWORD。")
            else:
                click.echo(f"已创建管理员 {username}，初始密码（只显示这一次）：{password}")
                if settings["ENV"] == "development":
                    _keep_initial_password(password)
                click.echo("首次登录后须修改该密码。")
        else:
            click.echo(f"管理员 {username} 已存在，未修改。")
        _load_default_pack()
        _seed_builtin_templates()


def _seed_builtin_templates() -> None:
    # The two shipped report templates as version 1 of built-in 报告模板 rows (idempotent).
    from orgcarbon.platform.extensions import db
    from orgcarbon.reports.templates_service import seed_builtin

    seed_builtin(db.session, current_app.instance_path)
    db.session.commit()


def _load_default_pack() -> None:
    # The shipped GB/T 32151.5 pack is loaded once, into an empty metamodel; later runs leave it.
    from sqlalchemy import select

    from orgcarbon.metamodel.models import Unit
    from orgcarbon.metamodel.packs.build import default_pack_records
    from orgcarbon.metamodel.packs.transfer import import_records
    from orgcarbon.platform.extensions import db

    if db.session.scalar(select(Unit).limit(1)) is not None:
        return
    records = list(enumerate(default_pack_records(), start=1))
    added = import_records(db.session, records, "GB/T 32151.5-2015")
    click.echo("已载入行业包 GB/T 32151.5-2015：" + "，".join(f"{k} {v} 条" for k, v in added.items()))


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=int, help="监听端口")
@with_appcontext
def run_command(host: str, port: int) -> None:
    """启动 Web 服务（内置服务器；生产环境请用 gunicorn，见 README）。"""
    click.echo(f"组织碳平台已启动：http://{host}:{port}/  （Ctrl+C 停止）")
    from werkzeug.serving import run_simple

    # Flask ignores app.run() inside its CLI, so serve through Werkzeug directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


@cli.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, type=int, help="并发进程数")
@click.option("--queues", "-Q", default="celery", show_default=True, help="监听的队列")
@click.option("--beat", is_flag=True, help="同时运行定时调度（Celery beat，如按计划同步采集连接器）；全部 worker 中只能有一个带此选项")
@with_appcontext
def worker_command(concurrency: int, queues: str, beat: bool) -> None:
    """启动 Celery 后台任务进程（需要 ORGCARBON_REDIS_URL）。"""
    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager:
        raise click.ClickException("未配置 ORGCARBON_REDIS_URL：任务在 Web 进程内执行，无需 worker。")
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", f"--queues={queues}"]
    if beat:
        from pathlib import Path

        argv += ["--beat", f"--schedule={Path(current_app.instance_path) / 'celerybeat-schedule'}"]
    celery.worker_main(argv)


DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("modeller", "建模管理员", "Demo-modeller-1"),
    ("filler", "数据填报员", "Demo-filler-1"),
    ("reviewer", "数据审核员", "Demo-reviewer-1"),
    ("approver", "数据审核员", "Demo-approver-1"),
    ("consultant", "报告顾问", "Demo-consultant-1"),
    ("auditor", "审计员", "Demo-auditor-1"),
    ("viewer", "只读用户", "Demo-viewer-1"),
)


@cli.command("demo")
@click.option("--account", "account_year", type=int, default=None,
              help="并核算演示企业该年度（已有该年度核算结果时跳过），使核算结果、碳全景与报告页面有数据")
@with_appcontext
def demo_command(account_year: int | None) -> None:
    """载入演示数据：每个角色一个演示用户（密码为公开的演示密码，切勿用于生产）。"""
    from orgcarbon.security.audit import acting_as

    if current_app.config["ORGCARBON"]["ENV"] == "production":
        raise click.ClickException("生产模式下不能载入演示数据（演示密码是公开的）。")
    with acting_as("cli:demo"):
        for username, role, password in DEMO_USERS:
            created = ensure_user(username, role, password, username, "演示")
            state = "已创建" if created else "已存在"
            click.echo(f"  {state}  {username:<11} {role:<6} 密码 {password}")
        from orgcarbon.metamodel.demo import load_demo_enterprise
        from orgcarbon.platform.extensions import db

        sm = current_app.appbuilder.sm
        users = {name: sm.find_user(username=name) for name, _, _ in DEMO_USERS}
        if load_demo_enterprise(db.session, users):
            click.echo("  已创建演示企业：华钢集团（两个厂区、12 个工序、一年的月度活动数据）")
        if account_year is not None:
            _account_demo(account_year)


def _account_demo(year: int) -> None:
    """Account the demo group for ``year`` once (a later ``make run`` finds the run and skips)."""
    from sqlalchemy import select

    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
    from orgcarbon.accounting.models import AccountingRun
    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.extensions import db

    group = db.session.scalar(select(Organization.id).where(Organization.name == "华钢集团"))
    if group is None:
        raise click.ClickException("未找到演示企业“华钢集团”，无法核算。")
    if db.session.scalar(select(AccountingRun.id).where(AccountingRun.organization_id == group,
                                                        AccountingRun.year == year)) is not None:
        click.echo(f"  已存在华钢集团 {year} 年的核算结果，跳过")
        return
    try:
        run = AccountOrganisation(db.session, group, year, None, None).run()
    except AccountingRefused as exc:
        raise click.ClickException("演示核算被拒绝：" + "；".join(exc.reasons)) from exc
    click.echo(f"  已核算华钢集团 {year} 年：运行 #{run.id}，排放总量 {run.total_tco2:,.2f} tCO2")


@cli.group("pack")
def pack_group() -> None:
    """行业包：导入、导出因子、物料、单位、公式与标准工序（JSON Lines）。"""


@pack_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def pack_import(file: str) -> None:
    """导入行业包文件；有任何错误则列出文件、行号与原因，且不做任何修改。"""
    from pathlib import Path

    from orgcarbon.metamodel.packs.transfer import PackError, import_records, read_lines
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    try:
        with acting_as("cli:pack-import"):
            added = import_records(db.session, read_lines(Path(file).read_text(encoding="utf-8"), file), file)
    except PackError as exc:
        raise click.ClickException("行业包导入失败，未做任何修改：\n" + str(exc)) from exc
    click.echo("导入完成：" + ("，".join(f"{k} {v} 条" for k, v in added.items()) or "没有新内容"))


@pack_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def pack_export(file: str | None) -> None:
    """导出当前的单位、物料、已发布因子与公式、标准工序；不给文件名则输出到标准输出。"""
    from pathlib import Path

    from orgcarbon.metamodel.packs.transfer import dumps, export_records
    from orgcarbon.platform.extensions import db

    text = dumps(export_records(db.session))
    if file:
        Path(file).write_text(text, encoding="utf-8")
        click.echo(f"已导出 {text.count(chr(10))} 条记录到 {file}")
    else:
        click.echo(text, nl=False)


@cli.group("user")
def user_group() -> None:
    """用户管理：解锁因登录失败被锁定的账户。"""


@user_group.command("unlock")
@click.argument("username")
@with_appcontext
def unlock_command(username: str) -> None:
    """解锁账户（清零登录失败次数，记入审计日志）。"""
    from orgcarbon.security.audit import acting_as
    from orgcarbon.security.lockout import unlock

    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"用户不存在：{username}")
    with acting_as("cli:user-unlock"):
        was_locked = unlock(sm.session, user, by="cli")
    click.echo(f"已解锁 {username}。" if was_locked else f"{username} 没有登录失败记录，无需解锁。")


@cli.group("audit")
def audit_group() -> None:
    """审计日志：校验防篡改哈希链。"""


@audit_group.command("verify")
@with_appcontext
def audit_verify_command() -> None:
    """逐条校验审计日志的 SM3 哈希链，找出被修改、删除或调换顺序的记录。"""
    from sqlalchemy import select

    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit_chain import verify_chain
    from orgcarbon.security.models import AuditEntry

    table = AuditEntry.__table__
    rows = db.session.execute(select(table).order_by(table.c.id).execution_options(yield_per=2000)).mappings()
    report = verify_chain(rows)
    if report.ok:
        click.echo(f"审计日志完整：已校验 {report.checked} 条记录，哈希链无断裂。最新哈希 {report.last_hash}")
        return
    for problem in report.problems:
        click.echo(f"  记录 {problem.entry_id}：{problem.reason}", err=True)
    raise click.ClickException(f"审计日志校验失败：发现 {len(report.problems)} 处问题（已校验 {report.checked} 条）。")


@cli.command("roles")
def roles_command() -> None:
    """打印内置角色的权限矩阵（Markdown）。"""
    from orgcarbon.security.roles import matrix_markdown

    click.echo(matrix_markdown())


def _register_pure_commands() -> None:
    # These commands need no app or database: they work on files.
    from orgcarbon.report_templates.report_cli import report
    from orgcarbon.rules.calc import calc
    from orgcarbon.rules.quality.validate_cli import validate

    cli.add_command(calc)
    cli.add_command(validate)
    cli.add_command(report)


_register_pure_commands()


def _register_accounting_commands() -> None:
    # account, export-package, import-package, backup: they need the app and its database.
    from orgcarbon.accounting.cli import COMMANDS
    from orgcarbon.security.backup_cli import backup

    for command in COMMANDS:
        cli.add_command(command)
    cli.add_command(backup)


_register_accounting_commands()


def _register_quality_commands() -> None:
    # orgcarbon quality load-pack | dry-run
    from orgcarbon.quality.cli import quality_group

    cli.add_command(quality_group)


_register_quality_commands()


def _register_collection_commands() -> None:
    # orgcarbon collection sync | run-due | listen | server-key | keygen
    from orgcarbon.collection.cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register_collection_commands()


def _register_security_commands() -> None:
    # orgcarbon keys status|rotate, signatures verify, user reset-password
    from orgcarbon.security.security_cli import register_security_commands

    register_security_commands(cli)


_register_security_commands()


def main() -> None:
    """Entry point of the ``orgcarbon`` console script."""
    cli.main(prog_name="orgcarbon", args=sys.argv[1:])


if __name__ == "__main__":
    main()
