"""``orgcarbon collection``: sync a connector, run the due ones, listen to subscriptions, keys."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("collection")
def collection() -> None:
    """系统采集：同步连接器、运行到期任务、保持订阅、管理接口密钥。"""


@collection.command("sync")
@click.argument("connector_id", type=int)
@with_appcontext
def sync_command(connector_id: int) -> None:
    """立即同步一个连接器（增量），并打印每次运行的结果。"""
    from orgcarbon.collection.tasks import sync

    click.echo(json.dumps(sync.run(connector_id), ensure_ascii=False, indent=1))


@collection.command("run-due")
@with_appcontext
def run_due_command() -> None:
    """同步所有到期的定时连接器（无 Celery beat 时可由 cron 每分钟调用）。"""
    from orgcarbon.collection.tasks import dispatch

    click.echo(json.dumps(dispatch.run(), ensure_ascii=False))


@collection.command("listen")
@click.option("--flush-seconds", default=5.0, show_default=True, help="缓冲消息写入暂存区的间隔（秒）")
@click.option("--refresh-seconds", default=60.0, show_default=True, help="重新读取连接器配置的间隔（秒）")
@with_appcontext
def listen_command(flush_seconds: float, refresh_seconds: float) -> None:
    """保持所有已启用的订阅型连接器（MQTT）在线，并定时写入暂存区；Ctrl+C 停止。"""
    from orgcarbon.collection.listener import SubscriptionListener

    listener = SubscriptionListener(current_app._get_current_object(), flush_seconds, refresh_seconds)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"订阅已启动：{listener.refresh() or '（没有启用的订阅型连接器）'}")
    try:
        listener.run(stop)
    finally:
        listener.close()
    click.echo("订阅已停止，缓冲消息已写入暂存区。")


@collection.command("server-key")
@with_appcontext
def server_key_command() -> None:
    """打印接口服务器的 SM2 公钥及其编号（发给第三方客户端）。"""
    from orgcarbon.collection.keys import load_server_keys

    keys = load_server_keys(current_app._get_current_object())
    if keys is None:
        raise click.ClickException("未配置 ORGCARBON_API_KEY_FILE：生产模式下接口密钥必须由配置给出。")
    for item in keys.published():
        mark = "（当前）" if item["active"] else ""
        click.echo(f"{item['key_id']}{mark}  {item['public_key']}")


@collection.command("keygen")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--key-id", default=None, help="新密钥编号（默认 srv-年月日）")
def keygen_command(file: str, key_id: str | None) -> None:
    """生成新的服务器 SM2 密钥并追加到密钥文件（权限 0600），设为当前密钥；旧密钥保留以便过渡。"""
    import datetime as dt

    from orgcarbon.collection.keys import KeyFileError, parse_server_keys
    from orgcarbon.security.crypto import generate_keypair

    path = Path(file)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    key_id = key_id or f"srv-{dt.date.today():%Y%m%d}"
    kept = [line for line in old.splitlines() if not line.strip().startswith("active")]
    if any(line.split("=", 1)[0].strip() == key_id for line in kept):
        raise click.ClickException(f"密钥编号 {key_id} 已存在")
    pair = generate_keypair()
    text = "\n".join([*kept, f"{key_id} = {pair.private_key}", f"active = {key_id}", ""])
    try:
        parse_server_keys(text, file)
    except KeyFileError as exc:
        raise click.ClickException(f"密钥文件无效：{exc}") from exc
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"已生成 {key_id}，公钥：{pair.public_key}")


COMMANDS = (collection,)
