"""What every generated view and API runs before a change: version lock, validation, data scope."""

from __future__ import annotations

from typing import Any

from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import or_
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Organization
from orgcarbon.metamodel.spec import Entity
from orgcarbon.metamodel.validation import FieldErrors
from orgcarbon.metamodel.versioning import check_editable
from orgcarbon.security.scope import org_scope


class ScopeError(PermissionError):
    """A change outside the user's organisation subtree; the message is Chinese."""


class ScopeFilter(BaseFilter):
    """FAB base filter: only rows of the user's readable organisation nodes (``value``: nullable)."""

    name = "Data scope"
    arg_name = None

    def apply(self, query: Any, value: Any) -> Any:
        scope = org_scope()
        if scope.readable is None:
            return query
        column = getattr(self.model, self.column_name)
        condition = column.in_(sorted(scope.readable))
        return query.filter(or_(condition, column.is_(None)) if value else condition)


def base_filters(entity: Entity) -> list[list[Any]]:
    """The scope filter of ``entity`` in FAB's ``base_filters`` shape (none if unscoped)."""
    if entity.scope_column is None:
        return []
    return [[entity.scope_column, ScopeFilter, entity.scope_nullable]]


def _target_organization(entity: Entity, item: Any, adding: bool) -> tuple[bool, int | None]:
    """(check needed, organisation id the change lands in)."""
    if isinstance(item, Organization):
        if not adding:
            from sqlalchemy import inspect

            history = inspect(item).attrs.parent.history
            if not history.has_changes():
                return True, item.id
        return True, item.parent.id if item.parent is not None else None
    if entity.scope_column is None:
        return False, None
    org = getattr(item, "organization", None)
    org_id = org.id if org is not None else getattr(item, entity.scope_column, None)
    if org_id is None and entity.scope_nullable:
        return False, None
    return True, org_id


def check_change(entity: Entity, item: Any, session: Session, action: str) -> None:
    """Raise ``VersionError``, ``FieldErrors`` or ``ScopeError`` if the change must not happen."""
    if entity.versioned and action in ("update", "delete"):
        check_editable(item)
    if action != "delete":
        errors = entity.validator(item, session)
        if errors:
            raise FieldErrors(errors, {k: str(v) for k, v in entity.labels.items()})
    check_scope(entity, item, adding=action == "add")


def check_scope(entity: Entity, item: Any, adding: bool = False) -> None:
    """Raise ``ScopeError`` unless the change lands inside the user's writable subtree."""
    needed, org_id = _target_organization(entity, item, adding)
    if needed and not org_scope().can_write(org_id):
        raise ScopeError("无权在该组织下新增、修改或删除数据（超出您的数据范围）")
