"""Data scope: the one function that decides which organisation nodes a user may read and write.

A user belongs to organisation nodes (``mm_user_organization``) and with each node to its whole
subtree. Administrators (the admin role) see and change everything. Views, APIs, exports, reports
and tasks all ask ``org_scope``; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select


@dataclass(frozen=True)
class OrgScope:
    """Readable and writable organisation ids; ``None`` means every node (administrators)."""

    readable: frozenset[int] | None
    writable: frozenset[int] | None

    @property
    def is_global(self) -> bool:
        """True when the user is not limited to a subtree."""
        return self.readable is None

    def can_read(self, organization_id: int | None) -> bool:
        """True if rows of ``organization_id`` are visible."""
        return self.readable is None or organization_id in self.readable

    def can_write(self, organization_id: int | None) -> bool:
        """True if rows of ``organization_id`` may be inserted, changed or deleted."""
        return self.writable is None or organization_id in self.writable


EVERYTHING = OrgScope(None, None)
NOTHING = OrgScope(frozenset(), frozenset())


def subtree_ids(session: Any, roots: Iterable[int]) -> frozenset[int]:
    """The ids of ``roots`` and of every node below them."""
    from orgcarbon.metamodel.models import Organization

    edges = session.execute(select(Organization.id, Organization.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for node, parent in edges:
        children.setdefault(parent, []).append(node)
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return frozenset(seen)


def _is_admin(user: Any) -> bool:
    from orgcarbon.security.roles import ADMIN_ROLE

    return any(role.name == ADMIN_ROLE for role in getattr(user, "roles", ()) or ())


def org_scope(user: Any = None, session: Any = None) -> OrgScope:
    """The scope of ``user`` (default: the signed-in user of this request; none → nothing)."""
    from flask import g, has_request_context

    from orgcarbon.metamodel.models import UserOrganization
    from orgcarbon.platform.extensions import db

    if user is None and has_request_context():
        user = getattr(g, "user", None)
        cached = getattr(g, "_org_scope", None)
        if cached is not None and cached[0] == getattr(user, "id", None):
            return cached[1]
    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    if _is_admin(user):
        scope = EVERYTHING
    else:
        session = session or db.session
        roots = session.scalars(
            select(UserOrganization.organization_id).where(UserOrganization.user_id == user.id)
        ).all()
        ids = subtree_ids(session, roots)
        scope = OrgScope(ids, ids)
    if has_request_context():
        g._org_scope = (user.id, scope)
    return scope
