"""History of a metamodel row, read from the one audit trail: who changed what, when, and how.

Nothing here writes: the audit listener already records every insert, update and delete with
before/after values. For versioned entities the history spans every version of the lineage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, render_template_string
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.spec import Entity
from orgcarbon.metamodel.versioning import lineage_column
from orgcarbon.security.models import AuditEntry

HIDDEN = frozenset({"id"})
# Strings the page template translates at render time, listed here so extraction finds them.
TEMPLATE_STRINGS = (_l("Occurred at"), _l("User"), _l("Action"), _l("Version"), _l("Changes"))


def _row_ids(entity: Entity, item: Any, session: Session) -> list[str]:
    if not entity.versioned:
        return [str(item.id)]
    key = lineage_column(entity.model)
    ids = session.scalars(select(entity.model.id).where(key == getattr(item, key.key)))
    return [str(i) for i in ids]


def history_entries(entity: Entity, item: Any, session: Session) -> list[dict[str, Any]]:
    """Audit entries of ``item`` (all versions), oldest first, each with a field-by-field diff."""
    table = inspect(entity.model).persist_selectable.name
    labels = {k: str(v) for k, v in entity.labels.items()}
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == table, AuditEntry.row_id.in_(_row_ids(entity, item, session)))
        .order_by(AuditEntry.id)
    ).all()
    result = []
    for row in rows:
        before, after = row.before or {}, row.after or {}
        fields = [k for k in dict.fromkeys([*before, *after]) if k not in HIDDEN]
        changes = [
            {"field": k, "label": labels.get(k.removesuffix("_id"), labels.get(k, k)),
             "before": before.get(k), "after": after.get(k)}
            for k in fields
            if before.get(k) != after.get(k)
        ]
        result.append({
            "occurred_at": row.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), "username": row.username, "ip": row.ip,
            "action": row.action, "row_id": row.row_id,
            "version": after.get("version", before.get("version")), "changes": changes,
        })
    return result


def state_as_of(entity: Entity, item: Any, session: Session, when: dt.datetime) -> dict[str, Any] | None:
    """The row's column values as they stood at ``when``, rebuilt from the audit trail (None: absent)."""
    table = inspect(entity.model).persist_selectable.name
    state: dict[str, Any] | None = None
    for row in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == table, AuditEntry.row_id == str(item.id), AuditEntry.occurred_at <= when)
        .order_by(AuditEntry.id)
    ):
        if row.action == "delete":
            state = None
        elif row.action == "insert":
            state = dict(row.after or {})
        elif state is not None:
            state.update(row.after or {})
    return state


TEMPLATE = """{% extends appbuilder.base_template %}
{% block content %}
<h2>{{ title }}：{{ item }}</h2>
<table class="table table-bordered table-condensed">
<thead><tr><th>{{ _('Occurred at') }}</th><th>{{ _('User') }}</th><th>{{ _('Action') }}</th>
<th>{{ _('Version') }}</th><th>{{ _('Changes') }}</th></tr></thead>
<tbody>{% for e in entries %}<tr class="history-entry">
<td>{{ e.occurred_at }}</td><td>{{ e.username }}</td><td>{{ actions.get(e.action, e.action) }}</td>
<td>{{ e.version or '' }}</td><td><table class="table table-condensed diff">
<tr><th></th><th>{{ _('Before') }}</th><th>{{ _('After') }}</th></tr>
{% for c in e.changes %}<tr><th>{{ c.label }}</th><td class="before"><del>{{ c.before if c.before is not none else '' }}</del></td>
<td class="after"><ins>{{ c.after if c.after is not none else '' }}</ins></td></tr>{% endfor %}
</table></td></tr>{% endfor %}</tbody></table>
{% endblock %}"""


class HistoryView(BaseView):
    """``/metamodel/history/<entity>/<pk>``: the change history page of any metamodel row."""

    route_base = "/metamodel/history"
    class_permission_name = "Metamodel"
    method_permission_name = {"show": "read"}
    base_permissions = ["can_read"]
    entities: dict[str, tuple[Entity, Any]] = {}

    @expose("/<entity>/<int:pk>")
    @has_access
    def show(self, entity: str, pk: int) -> Any:
        from orgcarbon.platform.extensions import db

        if entity not in self.entities:
            abort(404)
        spec, view = self.entities[entity]
        item = view.datamodel.get(pk, view._base_filters)  # the list's scope filter applies here too
        if item is None:
            abort(404)
        actions = {"insert": str(_l("Created")), "update": str(_l("Changed")), "delete": str(_l("Deleted"))}
        return render_template_string(
            TEMPLATE, appbuilder=self.appbuilder, base_template=self.appbuilder.base_template,
            title=str(spec.title), item=item, entries=history_entries(spec, item, db.session),
            actions=actions,
        )
