"""系统采集 pages: 采集连接器, 接口日志, API 客户端; and ``register_collection``.

Everything here is in the permission area ``Connectors`` (read: see; write: change, test, sync)
and limited to the caller's organisation subtree by ``org_scope``. The ingest API itself is in
``api.py``: it authenticates clients by their envelope, not by a user session.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import ValidationError

from orgcarbon.collection.config_form import display_value, form_fields
from orgcarbon.collection.instances import Refused, check_connector, save_client, save_connector
from orgcarbon.collection.keys import load_server_keys
from orgcarbon.collection.models import ApiClient, ConnectorInstance, InterfaceLog
from orgcarbon.connectors import connector_types
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.crypto import mask_secret
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Connectors"
PERMISSIONS = {**METHOD_PERMISSIONS, "check": "write", "sync": "write", "entry": "read"}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
LOG_PAGE = 100
MAPPING_TEMPLATE = {"fields": {"organization": {"value": ""}, "sub_process": {"field": ""},
                               "material": {"field": ""}, "quantity": {"field": ""}, "unit": {"field": ""},
                               "time": {"field": ""}}}


def _csrf() -> None:
    """Refuse a POST without a valid CSRF token (these pages are plain HTML forms)."""
    from flask import current_app

    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        abort(400)


def _organizations(writable: bool) -> list[Organization]:
    scope = org_scope()
    rows = db.session.scalars(select(Organization).order_by(Organization.id)).all()
    check = scope.can_write if writable else scope.can_read
    return [o for o in rows if check(o.id)]


def _visible(model: Any, item_id: int, write: bool = False) -> Any:
    item = db.session.get(model, item_id)
    scope = org_scope()
    if item is None or not scope.can_read(item.organization_id):
        abort(404)
    if write and not scope.can_write(item.organization_id):
        abort(403)
    return item


class _Page(BaseView):
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "index"

    def page(self, template: str, **context: Any) -> str:
        return self.render_template(template, csrf_token_value=generate_csrf(), **context)


class ConnectorView(_Page):
    """采集连接器: stored connector instances with their config, mapping and schedule."""

    route_base = "/collection/connectors"

    @expose("/")
    @has_access
    def index(self) -> str:
        scope = org_scope()
        query = select(ConnectorInstance).order_by(ConnectorInstance.id)
        if scope.readable is not None:
            query = query.where(ConnectorInstance.organization_id.in_(sorted(scope.readable)))
        return self.page("collection/connectors.html", items=db.session.scalars(query).all(),
                         types=connector_types())

    def _form(self, instance: ConnectorInstance | None, type_name: str, form: Any = None,
              errors: dict[str, str] | None = None) -> str:
        fields = form_fields(type_name)
        config = instance.config if instance is not None else {}
        values = {f"cfg.{f.name}": display_value(f, config) for f in fields}
        if form is not None:
            values.update({k: v for k, v in form.items() if k.startswith("cfg.") and not k.endswith("password")})
        if form is not None:
            mapping_text = form.get("mapping", "")
        else:
            mapping = instance.mapping if instance is not None else MAPPING_TEMPLATE
            mapping_text = json.dumps(mapping, ensure_ascii=False, indent=1)
        return self.page("collection/connector_form.html", instance=instance, type_name=type_name,
                         mapping_text=mapping_text,
                         type_title=connector_types()[type_name].title_zh, fields=fields, values=values,
                         form=form, errors=errors or {}, organizations=_organizations(writable=True))

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> Any:
        type_name = request.values.get("type") or ""
        if type_name not in connector_types():
            return self.page("collection/connector_type.html", types=connector_types())
        if request.method == "POST":
            _csrf()
            try:
                made = save_connector(db.session, None, request.form, org_scope(), getattr(g.user, "id", None))
            except Refused as exc:
                db.session.rollback()
                return self._form(None, type_name, request.form, exc.errors)
            flash(f"已保存连接器“{made.name}”", "success")
            return redirect(url_for("ConnectorView.index"))
        return self._form(None, type_name)

    @expose("/edit/<int:pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk: int) -> Any:
        instance = _visible(ConnectorInstance, pk, write=True)
        if request.method == "POST":
            _csrf()
            try:
                save_connector(db.session, instance, request.form, org_scope(), getattr(g.user, "id", None))
            except Refused as exc:
                db.session.rollback()
                return self._form(_visible(ConnectorInstance, pk), instance.type, request.form, exc.errors)
            flash(f"已保存连接器“{instance.name}”", "success")
            return redirect(url_for("ConnectorView.index"))
        return self._form(instance, instance.type)

    @expose("/delete/<int:pk>", methods=["POST"])
    @has_access
    def delete(self, pk: int) -> Response:
        _csrf()
        instance = _visible(ConnectorInstance, pk, write=True)
        logs = db.session.scalar(
            select(func.count()).select_from(InterfaceLog).where(InterfaceLog.connector_id == pk)
        )
        from orgcarbon.quality.models import StagingRow

        if db.session.scalar(select(StagingRow.id).where(StagingRow.connector_id == pk).limit(1)):
            flash("该连接器已有暂存数据，不能删除；如不再使用请停用", "danger")
            return redirect(url_for("ConnectorView.index"))
        from orgcarbon.collection.store import WATERMARKS

        # SQLite enforces ON DELETE CASCADE only with a pragma: remove the watermark explicitly.
        db.session.execute(WATERMARKS.delete().where(WATERMARKS.c.connector_id == pk))
        db.session.delete(instance)
        db.session.commit()
        flash(f"已删除连接器（保留 {logs} 条接口日志）", "success")
        return redirect(url_for("ConnectorView.index"))

    @expose("/check/<int:pk>", methods=["POST"])
    @has_access
    def check(self, pk: int) -> Response:
        _csrf()
        status = check_connector(_visible(ConnectorInstance, pk, write=True))
        flash(f"{status.message}（{status.latency_ms:.0f} ms）" if status.ok else status.message,
              "success" if status.ok else "danger")
        return redirect(url_for("ConnectorView.index"))

    @expose("/sync/<int:pk>", methods=["POST"])
    @has_access
    def sync(self, pk: int) -> Response:
        _csrf()
        from orgcarbon.collection.tasks import sync

        instance = _visible(ConnectorInstance, pk, write=True)
        result = sync.delay(instance.id, getattr(g.user, "id", None))
        if not result.ready():
            flash("同步任务已提交到后台，结果见接口日志", "info")
        else:
            outcome = result.get()
            if outcome.get("message"):
                flash(outcome["message"], "warning")
            else:
                runs = outcome.get("runs", [])
                staged = sum(r["staged"] for r in runs)
                failed = [r["error"] for r in runs if r["status"] == "failed"]
                flash(f"同步失败：{failed[-1]}" if failed else
                      f"同步完成：读取 {sum(r['fetched'] for r in runs)} 条，新写入暂存区 {staged} 条",
                      "danger" if failed else "success")
        return redirect(url_for("ConnectorView.index"))


class ApiClientView(_Page):
    """API 客户端: third parties allowed to call the ingest API, with their keys."""

    route_base = "/collection/clients"

    @expose("/")
    @has_access
    def index(self) -> str:
        scope = org_scope()
        query = select(ApiClient).order_by(ApiClient.id)
        if scope.readable is not None:
            query = query.where(ApiClient.organization_id.in_(sorted(scope.readable)))
        from flask import current_app

        keys = load_server_keys(current_app._get_current_object())
        return self.page("collection/clients.html", items=db.session.scalars(query).all(),
                         server_keys=keys.published() if keys else [], masked=mask_secret("x" * 16))

    def _form(self, client: ApiClient | None, form: Any = None, errors: dict[str, str] | None = None) -> str:
        return self.page("collection/client_form.html", client=client, form=form, errors=errors or {},
                         organizations=_organizations(writable=True))

    def _save(self, client: ApiClient | None) -> Any:
        _csrf()
        try:
            saved, secret = save_client(db.session, client, request.form, org_scope(), getattr(g.user, "id", None))
        except Refused as exc:
            db.session.rollback()
            return self._form(client, request.form, exc.errors)
        if secret:
            # Shown once: only the encrypted form is stored.
            return self.page("collection/client_secret.html", client=saved, secret=secret)
        flash(f"已保存接口客户端“{saved.name}”", "success")
        return redirect(url_for("ApiClientView.index"))

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> Any:
        return self._save(None) if request.method == "POST" else self._form(None)

    @expose("/edit/<int:pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk: int) -> Any:
        client = _visible(ApiClient, pk, write=True)
        return self._save(client) if request.method == "POST" else self._form(client)


class InterfaceLogView(_Page):
    """接口日志 (spec 6.7.2): every API call and connector run, searchable."""

    route_base = "/collection/log"

    @expose("/")
    @has_access
    def index(self) -> str:
        args = request.args
        table = InterfaceLog
        query = select(InterfaceLog)
        scope = org_scope()
        if scope.readable is not None:
            query = query.where(table.organization_id.in_(sorted(scope.readable)))
        filters: dict[str, Any] = {}
        for name in ("kind", "status"):
            if value := args.get(name):
                query, filters[name] = query.where(getattr(table, name) == value), value
        for name in ("connector_id", "api_client_id"):
            if (value := args.get(name, type=int)) is not None:
                query, filters[name] = query.where(getattr(table, name) == value), value
        for name, op in (("date_from", "ge"), ("date_to", "lt")):
            text = args.get(name) or ""
            try:
                day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            filters[name] = text
            bound = day if op == "ge" else day + dt.timedelta(days=1)
            query = query.where(table.started_at >= bound if op == "ge" else table.started_at < bound)
        page = max(args.get("page", 0, type=int), 0)
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.session.scalars(query.order_by(table.id.desc()).offset(page * LOG_PAGE).limit(LOG_PAGE)).all()
        # The filter choices name only the caller's own connectors and clients.
        connectors = {c.id: c.name for c in db.session.scalars(select(ConnectorInstance))
                      if scope.can_read(c.organization_id)}
        clients = {c.id: f"{c.name} ({c.client_id})" for c in db.session.scalars(select(ApiClient))
                   if scope.can_read(c.organization_id)}
        return self.page("collection/log.html", rows=rows, total=total, page=page, page_size=LOG_PAGE,
                         filters=filters, connectors=connectors, clients=clients)

    @expose("/<int:pk>")
    @has_access
    def entry(self, pk: int) -> str:
        row = db.session.get(InterfaceLog, pk)
        scope = org_scope()
        if row is None or (scope.readable is not None and row.organization_id not in scope.readable):
            abort(404)
        details_text = json.dumps(row.details or {}, ensure_ascii=False, indent=1)
        return self.page("collection/log_entry.html", row=row, details_text=details_text,
                         connector=db.session.get(ConnectorInstance, row.connector_id) if row.connector_id else None,
                         client=db.session.get(ApiClient, row.api_client_id) if row.api_client_id else None)


def register_collection(appbuilder: AppBuilder) -> None:
    """Attach the 系统采集 pages and menu, the ingest API and the collection tasks."""
    import orgcarbon.collection.tasks  # noqa: F401  (registers the Celery tasks and the beat entry)
    from orgcarbon.collection.api import register_api

    category = {"category": "Collection", "category_label": _l("System collection"), "category_icon": "fa-plug"}
    appbuilder.add_view(ConnectorView, "Collection connectors", label=_l("Collection connectors"),
                        icon="fa-exchange", **category)
    appbuilder.add_view(InterfaceLogView, "Interface log", label=_l("Interface log"), icon="fa-list-alt",
                        category="Collection")
    appbuilder.add_view(ApiClientView, "API clients", label=_l("API clients"), icon="fa-key",
                        category="Collection")
    from flask import current_app

    register_api(current_app._get_current_object())  # type: ignore[attr-defined]
