"""What every generated view and API runs before a change: version lock, validation, data scope."""

from __future__ import annotations

from typing import Any

from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import event, or_, select
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


class ParentScopeFilter(ScopeFilter):
    """Organisation choices for a node's parent: the readable nodes and the parents of their roots.

    A plant's user edits the plant, whose parent (the company) lies outside the plant's subtree; the
    current parent must stay selectable or the form could never be saved. Choosing it again changes
    nothing; choosing another node outside the writable scope is refused by ``check_scope``.
    """

    name = "Data scope or parent"

    def apply(self, query: Any, value: Any) -> Any:
        scope = org_scope()
        if scope.readable is None:
            return query
        from orgcarbon.platform.extensions import db

        parents = db.session.scalars(
            select(Organization.parent_id).where(Organization.id.in_(sorted(scope.readable)))
        ).all()
        allowed = sorted(scope.readable | {p for p in parents if p is not None})
        return query.filter(getattr(self.model, self.column_name).in_(allowed))


def base_filters(entity: Entity) -> list[list[Any]]:
    """The scope filter of ``entity`` in FAB's ``base_filters`` shape (none if unscoped)."""
    if entity.scope_column is None:
        return []
    return [[entity.scope_column, ScopeFilter, entity.scope_nullable]]


def scoped_relation_filters(datamodel: Any, given: dict[str, list[list[Any]]] | None = None,
                            ) -> dict[str, list[list[Any]]]:
    """``*_query_rel_fields``: every select of related rows that belong to organisations is limited to
    the user's data scope (rows without an organisation stay when the column allows them)."""
    filters = dict(given or {})
    for name in datamodel.get_columns_list():
        if name in filters or not datamodel.is_relation(name):
            continue
        target = datamodel.get_related_model(name)
        if target is Organization:
            own_parent = datamodel.obj is Organization and name == "parent"
            filters[name] = [["id", ParentScopeFilter if own_parent else ScopeFilter, False]]
        elif "organization_id" in target.__table__.columns:
            filters[name] = [["organization_id", ScopeFilter, target.__table__.c.organization_id.nullable]]
    return filters


@event.listens_for(Organization, "load")
@event.listens_for(Organization, "refresh")
def _remember_parent(target: Organization, context: Any, attrs: Any = None) -> None:
    # The parent as loaded from the database, kept apart from SQLAlchemy's history: a query between
    # the change and the scope check autoflushes the new parent and empties the history.
    if attrs is None or "parent_id" in attrs:
        target.__dict__["_stored_parent_id"] = target.__dict__.get("parent_id")


def _target_organizations(entity: Entity, item: Any, adding: bool) -> list[int | None]:
    """The organisation ids the change lands in (all must be writable); empty: nothing to check."""
    if isinstance(item, Organization):
        parent = item.parent.id if item.parent is not None else item.parent_id
        if adding:
            return [parent]
        stored = item.__dict__.get("_stored_parent_id", parent)
        return [item.id] if parent == stored else [item.id, parent]
    if entity.scope_column is None:
        return []
    org = getattr(item, "organization", None)
    org_id = org.id if org is not None else getattr(item, entity.scope_column, None)
    return [] if org_id is None and entity.scope_nullable else [org_id]


def check_change(entity: Entity, item: Any, session: Session, action: str) -> None:
    """Raise ``VersionError``, ``ScopeError`` or ``FieldErrors`` if the change must not happen."""
    if entity.versioned and action in ("update", "delete"):
        check_editable(item)
    if action != "delete":
        # Before the validators, whose reasons would name what lies outside the scope.
        check_links(entity, item)
        check_scope(entity, item, adding=action == "add", known_only=True)
        # Validators also derive the organisation (a sub-process takes its process's), so they run
        # before the scope check; without autoflush, so that their queries neither write the change
        # early nor hide it from the checks.
        with session.no_autoflush:
            errors = entity.validator(item, session)
        if errors:
            raise FieldErrors(errors, {k: str(v) for k, v in entity.labels.items()})
    check_scope(entity, item, adding=action == "add")


def check_links(entity: Entity, item: Any) -> None:
    """Raise ``ScopeError`` if the row links to rows (an accounting model's bindings) the user may not use."""
    scope = org_scope()
    for name in (f.name for f in entity.fields if f.many):
        for linked in getattr(item, name, None) or ():
            if not scope.can_write(getattr(linked, "organization_id", None)):
                raise ScopeError("不能关联超出您数据范围的记录")


def check_scope(entity: Entity, item: Any, adding: bool = False, known_only: bool = False) -> None:
    """Raise ``ScopeError`` unless the change lands inside the user's writable subtree.

    ``known_only``: skip organisations not set yet (validators derive some of them).
    """
    scope = org_scope()
    targets = _target_organizations(entity, item, adding)
    if not all(scope.can_write(org_id) for org_id in targets if org_id is not None or not known_only):
        raise ScopeError("无权在该组织下新增、修改或删除数据（超出您的数据范围）")
