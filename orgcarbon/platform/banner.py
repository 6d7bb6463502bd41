"""What ``make run`` prints before serving: the address and how to log in."""

from __future__ import annotations

import argparse
from pathlib import Path

from orgcarbon.config import resolve_settings


def banner(host: str, port: int) -> str:
    """The text shown by ``make run``: URL, administrator login and demo users."""
    from orgcarbon.platform.cli import DEMO_USERS, INITIAL_PASSWORD_FILE

    settings = resolve_settings()
    password_file = Path(settings["INSTANCE_PATH"]) / INITIAL_PASSWORD_FILE
    if settings.get("ADMIN_PASSWORD"):
        admin_password = "（ORGCARBON_ADMIN_PASSWORD 中设置的密码）"
    elif password_file.exists():
        admin_password = password_file.read_text(encoding="utf-8").strip() + "（首次登录时须修改）"
    else:
        admin_password = "（首次 orgcarbon init 时显示；忘记可用 orgcarbon user reset-password 重置）"
    lines = [
        "",
        "=" * 64,
        f"  组织碳平台  http://{host}:{port}/",
        f"  管理员   {settings['ADMIN_USERNAME']} / {admin_password}",
        "  演示用户（公开密码，仅用于演示）：",
        *[f"    {name:<11} {password:<18} {role}" for name, role, password in DEMO_USERS],
        "=" * 64,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="make run 启动提示")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    print(banner(args.host, args.port))
