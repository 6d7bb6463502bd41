"""Pages and APIs that are not generated from entity definitions: health and the audit log."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_appbuilder import AppBuilder, BaseView, ModelRestApi, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from orgcarbon.platform.health import health_report
from orgcarbon.security.models import AuditEntry
from orgcarbon.security.roles import METHOD_PERMISSIONS

AUDIT_LABELS = {
    "occurred_at": _l("Occurred at"),
    "username": _l("User"),
    "user_id": _l("User id"),
    "ip": _l("IP address"),
    "action": _l("Action"),
    "table_name": _l("Table"),
    "row_id": _l("Row"),
    "before": _l("Before"),
    "after": _l("After"),
}
ACTION_LABELS = {"insert": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted")}
# Chinese names of tables in the log; modules that add tables add their names here.
TABLE_LABELS = {
    "ab_user": _l("Users"),
    "ab_role": _l("Roles"),
    "ab_permission": _l("Permissions"),
    "ab_view_menu": _l("Views and menus"),
    "ab_permission_view": _l("Permissions on views"),
    "ab_group": _l("Groups"),
    "ab_api_key": _l("API keys"),
    "user_setting": _l("User settings"),
}


def _format_time(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else "—"


AUDIT_FORMATTERS = {
    "occurred_at": _format_time,
    "action": lambda v: str(ACTION_LABELS.get(v, v)),
    "table_name": lambda v: f"{TABLE_LABELS[v]} ({v})" if v in TABLE_LABELS else v,
    "ip": lambda v: v or "—",
}
AUDIT_LIST = ["occurred_at", "username", "ip", "action", "table_name", "row_id"]
AUDIT_SHOW = [*AUDIT_LIST, "user_id", "before", "after"]


class HealthView(BaseView):
    """``GET /health``: database, Redis and worker status as JSON, for load balancers and people."""

    route_base = ""

    @expose("/health")
    def health(self) -> Response:
        report = health_report(current_app)
        response = jsonify(report)
        response.status_code = 200 if report["status"] != "error" else 503
        return response


class AuditEntryView(ModelView):
    """审计日志: every insert, update and delete, read-only."""

    datamodel = SQLAInterface(AuditEntry)
    class_permission_name = "Audit"
    method_permission_name = METHOD_PERMISSIONS
    base_permissions = ["can_read"]
    list_title = _l("Data change log")
    show_title = _l("Data change")
    label_columns = AUDIT_LABELS
    formatters_columns = AUDIT_FORMATTERS
    list_columns = AUDIT_LIST
    show_columns = AUDIT_SHOW
    search_columns = ["username", "ip", "action", "table_name", "row_id", "occurred_at"]
    base_order = ("occurred_at", "desc")


class AuditEntryApi(ModelRestApi):
    """``/api/v1/audit/``: the audit log, read-only."""

    resource_name = "audit"
    datamodel = SQLAInterface(AuditEntry)
    class_permission_name = "Audit"
    method_permission_name = METHOD_PERMISSIONS
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "info"}
    list_columns = ["id", *AUDIT_LIST]
    show_columns = ["id", *AUDIT_SHOW]
    search_columns = ["username", "action", "table_name", "row_id"]
    label_columns = AUDIT_LABELS
    base_order = ("occurred_at", "desc")


def register_views(appbuilder: AppBuilder) -> None:
    """Attach the platform's own pages and APIs and their menu entries."""
    appbuilder.add_view_no_menu(HealthView)
    appbuilder.add_view(
        AuditEntryView,
        "Data change log",
        label=_l("Data change log"),
        icon="fa-history",
        category="System",
        category_label=_l("System"),
        category_icon="fa-cogs",
    )
    appbuilder.add_api(AuditEntryApi)


