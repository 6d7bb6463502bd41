"""``orgcarbon keys status|rotate``, ``orgcarbon signatures verify``, ``orgcarbon user reset-password``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("keys")
def keys_group() -> None:
    """数据加密密钥：查看使用情况、轮换（SM4，密钥不存数据库）。"""


@keys_group.command("status")
@with_appcontext
def keys_status() -> None:
    """列出每个加密字段在各密钥下的值的数量。"""
    from orgcarbon.platform.extensions import db
    from orgcarbon.platform.metadata import all_metadata
    from orgcarbon.security.encrypted import data_key_ring
    from orgcarbon.security.keys import key_usage

    ring = data_key_ring()
    click.echo(f"当前密钥：{ring.active_id}；密钥环中共 {len(ring.keys)} 个密钥：{'、'.join(ring.keys)}")
    with db.engine.connect() as conn:
        usage = key_usage(conn, all_metadata())
    for column, counts in usage.by_column.items():
        shown = "，".join(f"{'未加密' if k == 'plain' else k} {n} 条" for k, n in sorted(counts.items())) or "无数据"
        click.echo(f"  {column}：{shown}")


@keys_group.command("rotate")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="新密钥环文件的位置（当前密钥来自 ORGCARBON_DATA_KEY 时必填）")
@with_appcontext
def keys_rotate(key_file: Path | None) -> None:
    """生成新的数据密钥并用它重新加密全部加密字段；旧密钥保留在密钥文件中用于读取旧备份。"""
    from orgcarbon.platform.extensions import db
    from orgcarbon.platform.metadata import all_metadata
    from orgcarbon.security.audit import acting_as
    from orgcarbon.security.encrypted import data_key_ring, install_ring
    from orgcarbon.security.keys import new_ring, reencrypt_all, write_key_file
    from orgcarbon.security.logstore import security_event

    settings = current_app.config["ORGCARBON"]
    configured = settings.get("DATA_KEY_FILE")
    target = Path(configured) if configured else key_file
    if target is None:
        raise click.ClickException(
            "当前密钥来自 ORGCARBON_DATA_KEY，轮换后需要把多个密钥保存在密钥文件中："
            "请用 --key-file 指定文件位置（放在数据库与备份目录之外）。"
        )
    old = data_key_ring()
    ring = new_ring(old)
    # The file first: no value may be encrypted under a key that is not saved anywhere.
    write_key_file(target, ring)
    db.session.remove()
    with acting_as("cli:keys-rotate"), db.engine.begin() as conn:
        changed = reencrypt_all(conn, all_metadata(), ring)
    install_ring(current_app, ring)
    security_event("keys_rotated", f"数据密钥已轮换：{old.active_id} → {ring.active_id}",
                   username="cli:keys-rotate", columns=changed)
    click.echo(f"新密钥 {ring.active_id} 已写入 {target}（旧密钥保留）；已重新加密：")
    for column, count in changed.items():
        click.echo(f"  {column}：{count} 条")
    if not configured:
        click.echo(f"请设置 ORGCARBON_DATA_KEY_FILE={target} 并重启全部 Web 与后台进程。")
    else:
        click.echo("请重启全部 Web 与后台进程，使其使用新密钥。")


@click.group("signatures")
def signatures_group() -> None:
    """SM2 电子签名（提交、审核、批准的不可否认性）。"""


@signatures_group.command("verify")
@click.option("--object-type", help="只校验这一类对象的签名，例如 fm_submission")
@click.option("--object-id", type=int, help="只校验这一个对象的签名")
@with_appcontext
def signatures_verify(object_type: str | None, object_id: int | None) -> None:
    """逐条校验签名：内容的 SM3 摘要与签名人登记公钥的 SM2 签名。"""
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.signatures import check_signature, signatures_of

    found = signatures_of(db.session, object_type, object_id)
    bad = 0
    for signature in found:
        result = check_signature(db.session, signature)
        if not result.ok:
            bad += 1
            click.echo(f"  签名 {signature.id}（{signature.object_type} #{signature.object_id} "
                       f"{signature.action}，{signature.username}）：{result.reason}", err=True)
    if bad:
        raise click.ClickException(f"签名校验失败：{bad} 条有问题（共 {len(found)} 条）。")
    click.echo(f"签名校验通过：共 {len(found)} 条，全部有效。")


@click.command("reset-password")
@click.argument("username")
@click.option("--keep", is_flag=True, help="不要求该用户下次登录时修改密码")
@click.password_option("--password", prompt="新密码", confirmation_prompt="再次输入新密码",
                       help="新密码（不给出时交互输入）")
@with_appcontext
def reset_password(username: str, keep: bool, password: str) -> None:
    """重置用户密码（检查复杂度与历史密码）；默认要求其下次登录时修改密码。"""
    from orgcarbon.security.audit import acting_as
    from orgcarbon.security.password_state import must_change, reused
    from orgcarbon.security.passwords import password_problems

    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    user = sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"用户不存在：{username}")
    if problems := password_problems(password):
        raise click.ClickException("密码不符合要求：" + "；".join(problems))
    if reused(sm.session, user, password):
        raise click.ClickException("不能使用最近用过的密码")
    with acting_as("cli:user-reset-password"), must_change(not keep):
        sm.reset_password(user.id, password)
    click.echo(f"已重置 {username} 的密码" + ("。" if keep else "，其下次登录时须修改密码。"))


def register_security_commands(cli: click.Group) -> None:
    """Add the security commands to the ``orgcarbon`` command line."""
    cli.add_command(keys_group)
    cli.add_command(signatures_group)
    user = cli.commands.get("user")
    if isinstance(user, click.Group):
        user.add_command(reset_password)
