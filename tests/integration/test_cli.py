"""The orgcarbon command line: help everywhere, idempotent init, password rules, demo users."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import build_app, dispose, run_cli

COMMANDS = ["init", "run", "worker", "demo", "roles", "calc", "validate", "pack", "report", "account", "export-package", "import-package", "backup", "audit", "user", "db"]


def test_help_lists_every_command_in_chinese() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "orgcarbon.platform.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert f"  {command} " in out, command
    assert "组织碳平台命令行工具" in out


@pytest.mark.parametrize("command", ["init", "run", "worker", "demo", "roles"])
def test_each_command_has_help(app: Flask, command: str) -> None:
    result = run_cli(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_run_has_host_and_port_options(app: Flask) -> None:
    out = run_cli(app, ["run", "--help"]).output
    assert "--host" in out and "--port" in out


def test_init_is_idempotent_and_keeps_the_admin(app: Flask) -> None:
    result = run_cli(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "管理员 admin 已存在，未修改" in result.output
    with app.app_context():
        assert len(app.appbuilder.sm.get_all_users()) == 8


def test_init_generates_and_prints_a_password_once(db_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.empty()
    app = build_app(url, tmp_path / "instance", ADMIN_PASSWORD=None)
    try:
        first = run_cli(app, ["init"])
        assert first.exit_code == 0, first.output
        line = next(x for x in first.output.splitlines() if "初始密码" in x)
        password = line.rsplit("：", 1)[1].strip()
        assert len(password) >= 16
        kept = (tmp_path / "instance" / "initial_admin_password").read_text().strip()
        assert kept == password
        second = run_cli(app, ["init"])
        assert password not in second.output
        client = app.test_client()
        page = client.post("/login/", data={"username": "admin", "password": password}, follow_redirects=True)
        # The generated password works once: the first login leads to the change-password form.
        assert page.request.path == "/resetmypassword/form" and "请先设置新密码" in page.get_data(as_text=True)
    finally:
        dispose(app)
        db_factory.drop(url)


def test_weak_admin_password_is_refused_with_reason(db_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.empty()
    app = build_app(url, tmp_path / "instance", ADMIN_PASSWORD="password")
    try:
        result = run_cli(app, ["init"])
        assert result.exit_code != 0
        assert "ORGCARBON_ADMIN_PASSWORD 不符合密码规则" in result.output
        assert "长度至少 8 位" not in result.output  # 'password' is 8 long: only the class rule
        assert "三类" in result.output
    finally:
        dispose(app)
        db_factory.drop(url)


def test_demo_is_refused_in_production(database_url: str, tmp_path: Path) -> None:
    app = build_app(database_url, tmp_path / "instance", ENV="production")
    try:
        result = run_cli(app, ["demo"])
        assert result.exit_code != 0
        assert "生产模式下不能载入演示数据" in result.output
    finally:
        dispose(app)


def test_worker_without_redis_explains_why(app: Flask) -> None:
    result = run_cli(app, ["worker"])
    assert result.exit_code != 0
    assert "未配置 ORGCARBON_REDIS_URL" in result.output
