"""Security pages: 系统管理 → 日志管理 (area ``Audit``), 安全 → IP 白名单 and 用户安全设置
(administrators only, area ``SecuritySettings``); and ``register_security_views``."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.platform.extensions import db
from orgcarbon.security.ip_allowlist import IpListError, normalise_ip_list
from orgcarbon.security.log_search import (
    EXPORT_HEADERS,
    KIND_LABELS,
    MAX_EXPORT,
    LogQuery,
    search,
    statistics,
)
from orgcarbon.security.logstore import KINDS, security_event
from orgcarbon.security.models import RoleSecurity, UserSecurity
from orgcarbon.security.roles import SECURITY_AREA

TEMPLATES = str(Path(__file__).resolve().parent / "templates")
PAGE_SIZE = 50


def _date(name: str) -> dt.date | None:
    text = (request.args.get(name) or "").strip()
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _query() -> LogQuery:
    kind = request.args.get("kind") or None
    return LogQuery(kind=kind if kind in KINDS else None, start=_date("start"), end=_date("end"),
                    user=(request.args.get("user") or "").strip() or None,
                    text=(request.args.get("q") or "").strip() or None)


class LogView(BaseView):
    """日志管理: operation, system, error, security and interface logs; search, statistics, export."""

    route_base = "/logs"
    default_view = "index"
    template_folder = TEMPLATES
    class_permission_name = "Audit"
    method_permission_name = {"index": "read", "export": "read"}
    base_permissions = ["can_read"]

    @expose("/")
    @has_access
    def index(self) -> str:
        query = _query()
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        lines = search(db.session, query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
        stats = statistics(db.session, query)
        args = {k: v for k, v in request.args.items() if k != "page"}
        return self.render_template(
            "security/logs.html", lines=lines[:PAGE_SIZE], more=len(lines) > PAGE_SIZE, page=page, args=args,
            query=query, kinds=KINDS, kind_labels=KIND_LABELS, stats=stats,
            totals={k: sum(day[k] for day in stats.values()) for k in KINDS},
        )

    @expose("/export/<fmt>")
    @has_access
    def export(self, fmt: str) -> Response:
        if fmt not in ("csv", "xlsx"):
            abort(404)
        lines = search(db.session, _query(), limit=MAX_EXPORT)
        security_event("log_export", f"导出日志 {len(lines)} 条（{fmt}）", rows=len(lines))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(EXPORT_HEADERS)
            writer.writerows(line.as_row() for line in lines)
            # The BOM lets Excel open the UTF-8 file with its Chinese text intact.
            body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
            mimetype = "text/csv; charset=utf-8"
        else:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = book.create_sheet("日志")
            sheet.append(EXPORT_HEADERS)
            for line in lines:
                sheet.append(line.as_row())
            out = io.BytesIO()
            book.save(out)
            body = out.getvalue()
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="orgcarbon-logs-{stamp}.{fmt}"'})


class IpAllowlistView(BaseView):
    """IP 白名单 by role and 用户安全设置 (IP list, forced password change, key), for administrators."""

    route_base = "/security/access"
    default_view = "index"
    template_folder = TEMPLATES
    class_permission_name = SECURITY_AREA
    method_permission_name = {"index": "read", "user": "read", "save_role": "write", "save_user": "write"}
    base_permissions = ["can_read", "can_write"]

    @expose("/")
    @has_access
    def index(self) -> str:
        roles = db.session.scalars(select(Role).order_by(Role.id)).all()
        role_lists = {r.role_id: r.allowed_ips for r in db.session.scalars(select(RoleSecurity))}
        users = db.session.scalars(select(User).order_by(User.username)).all()
        states = {s.user_id: s for s in db.session.scalars(select(UserSecurity))}
        return self.render_template("security/access.html", roles=roles, role_lists=role_lists, users=users,
                                    states=states)

    @expose("/role/<int:role_id>", methods=["POST"])
    @has_access
    def save_role(self, role_id: int) -> Response:
        role = db.session.get(Role, role_id) or abort(404)
        try:
            value = normalise_ip_list(request.form.get("allowed_ips"))
        except IpListError as exc:
            flash(f"角色“{role.name}”的 IP 白名单未保存：{exc}", "danger")
            return redirect(url_for("IpAllowlistView.index"))
        row = db.session.get(RoleSecurity, role_id) or RoleSecurity(role_id=role_id)
        row.allowed_ips = value
        db.session.add(row)
        db.session.commit()
        security_event("ip_allowlist_changed", f"角色“{role.name}”的 IP 白名单改为：{value or '不限'}",
                       role=role.name, allowed_ips=value)
        flash(f"已保存角色“{role.name}”的 IP 白名单：{value or '不限'}", "success")
        return redirect(url_for("IpAllowlistView.index"))

    @expose("/user/<int:user_id>")
    @has_access
    def user(self, user_id: int) -> str:
        target = db.session.get(User, user_id) or abort(404)
        return self.render_template("security/user_security.html", target=target,
                                    state=db.session.get(UserSecurity, user_id))

    @expose("/user/<int:user_id>", methods=["POST"])
    @has_access
    def save_user(self, user_id: int) -> Response:
        target = db.session.get(User, user_id) or abort(404)
        try:
            value = normalise_ip_list(request.form.get("allowed_ips"))
        except IpListError as exc:
            flash(f"用户 {target.username} 的设置未保存：{exc}", "danger")
            return redirect(url_for("IpAllowlistView.user", user_id=user_id))
        state = db.session.get(UserSecurity, user_id) or UserSecurity(user_id=user_id)
        state.allowed_ips = value
        state.must_change_password = request.form.get("must_change_password") == "y"
        db.session.add(state)
        db.session.commit()
        security_event("user_security_changed",
                       f"用户 {target.username} 的安全设置已修改：IP 白名单 {value or '不限'}，"
                       f"下次登录须改密码：{'是' if state.must_change_password else '否'}",
                       target=target.username, allowed_ips=value)
        flash(f"已保存用户 {target.username} 的安全设置", "success")
        return redirect(url_for("IpAllowlistView.index"))


def register_security_views(appbuilder: AppBuilder) -> None:
    """Attach 日志管理 (系统管理) and the IP allowlist page (安全)."""
    appbuilder.add_view(LogView, "Log management", label=_l("Log management"), icon="fa-list-alt",
                        category="System", category_label=_l("System"), category_icon="fa-cogs")
    appbuilder.add_view(IpAllowlistView, "IP allowlists", label=_l("IP allowlists"), icon="fa-shield",
                        category="Security", category_label=_l("Security"), category_icon="fa-cogs")
