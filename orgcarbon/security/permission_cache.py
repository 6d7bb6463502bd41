"""What a user may do, cached per process for a few seconds: roles, permissions, IP lists, forced
password change and data scope.

Without it every API request asked the database eleven times before the view ran (the public
role twice, the user twice, roles, groups, the permission, the IP lists, the password state):
most of a cached dashboard request's cost. A ``Grants`` entry answers all of them from memory.

Freshness (the rule the tests hold it to):

* Every entry is tagged with the installation's **security stamp**, read *before* the entry is
  built from the database. The stamp changes after every commit that inserts, updates or deletes
  a row of the security tables (``SECURITY_TABLES``: users, roles, groups, permissions, their
  links, IP lists, password state, organisations and user organisations), an accounting run or a
  benchmark value. A lookup whose entry carries another stamp rebuilds it: a revocation counts
  from the next request on.
* The stamp is this process's change counter plus the identity of a file in the instance folder
  (``security.stamp``) that each such commit replaces, so the other processes of the same
  installation on the same host (gunicorn workers, Celery workers, ``orgcarbon`` commands) see
  the change at their next request too; reading it is one ``stat``.
* Changes the listeners cannot see (another host with its own instance folder, SQL typed into
  the database) are bounded by the **time to live**: ``PERMISSION_CACHE_SECONDS`` (default 5 s;
  0 turns the cache off). No entry is ever used longer than that after it was built.
* An entry built while the session holds uncommitted security changes is used for that request
  only, never stored.

The same mechanism, with its own stamp file and tables, keeps other values read on every
dashboard request that change often but must show at once: ``workflow_cache`` (the count of
submissions waiting for review, ``WORKFLOW_TABLES``). Each cache is invalidated only by commits
to its own tables, so saving a form does not empty the permission cache.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from orgcarbon.security.ip_allowlist import IpDecision, decide
from orgcarbon.security.scope import OrgScope

log = logging.getLogger(__name__)

TTL_SECONDS = 5.0
MAX_ENTRIES = 4096
STAMP_FILE = "security.stamp"
PUBLIC = "public"  # the key of the public (anonymous) role's permissions
SECURITY_TABLES = frozenset({
    "ab_user", "ab_role", "ab_group", "ab_user_role", "ab_user_group", "ab_group_role",
    "ab_permission", "ab_view_menu", "ab_permission_view", "ab_permission_view_role",
    "sec_user_security", "sec_role_security", "mm_user_organization", "mm_organization",
})
# Read on every dashboard request and changed a few times a year: the list of accounting runs and
# the benchmark values (``derived`` values of the analysis). A new run renews the stamp like a
# security change does.
WATCHED_TABLES = SECURITY_TABLES | {"ac_run", "an_benchmark"}
# Submissions move through review all day: their own cache and stamp file (``workflow_cache``).
WORKFLOW_TABLES = frozenset({"fm_submission"})
WORKFLOW_STAMP_FILE = "workflow.stamp"
# Login bookkeeping changes a user row at every login; it decides nothing a cached entry holds.
USER_COUNTERS = frozenset({"last_login", "login_count", "fail_login_count", "changed_on", "changed_by_fk"})
_CHANGED = "_orgcarbon_security_changed"


@dataclass
class Grants:
    """One user's roles, permissions, IP lists, forced password change and data scope."""

    user_id: int
    role_names: tuple[str, ...]  # FAB's get_user_roles: the user's roles and their groups' roles
    permissions: frozenset[tuple[str, str]]  # (permission, view) granted by roles stored in the database
    own_ips: str | None
    role_ips: tuple[str | None, ...]  # the lists of the user's own roles, as ip_allowlist reads them
    must_change_password: bool
    scope: OrgScope
    _ip_decisions: dict[str | None, IpDecision] = field(default_factory=dict, repr=False)

    def ip_decision(self, address: str | None) -> IpDecision:
        """``ip_allowlist.decide`` for ``address``, remembered per address."""
        decision = self._ip_decisions.get(address)
        if decision is None:
            decision = decide(address, self.own_ips, self.role_ips)
            if len(self._ip_decisions) < 64:
                self._ip_decisions[address] = decision
        return decision


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[int, tuple[int, int, int] | None]
    expires: float
    value: Any


class PermissionCache:
    """Entries by key (a user id, or ``PUBLIC``), each valid for one stamp and ``ttl`` seconds."""

    def __init__(self, stamp_path: Path | None, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES,
                 tables: frozenset[str] = WATCHED_TABLES) -> None:
        self.stamp_path = stamp_path
        self.tables = tables  # a commit changing one of these invalidates the cache
        self.ttl = ttl
        self.max_entries = max_entries
        self._generation = 0
        self._entries: dict[Any, _Entry] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def stamp(self) -> tuple[int, tuple[int, int, int] | None]:
        """This process's change counter and the stamp file's identity (None when it is missing)."""
        if self.stamp_path is None:
            return self._generation, None
        try:
            st = os.stat(self.stamp_path)
        except OSError:
            return self._generation, None
        return self._generation, (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self, key: Any, build: Callable[[], Any], storable: Callable[[], bool] = lambda: True) -> Any:
        """The entry under ``key`` if it is of the current stamp and younger than the TTL, else ``build()``
        (stored unless ``storable()`` says no after building)."""
        if self.ttl <= 0:
            return build()
        stamp = self.stamp()  # before building: a change committed meanwhile makes the entry stale
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry.stamp == stamp and entry.expires > now:
            return entry.value
        value = build()
        if storable():
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = _Entry(stamp, now + self.ttl, value)
        return value

    def invalidate(self) -> None:
        """Forget every entry here, and tell the other processes through the stamp file."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
        if self.stamp_path is not None:
            _touch(self.stamp_path)


_CACHES: weakref.WeakSet[PermissionCache] = weakref.WeakSet()


def _touch(path: Path) -> None:
    """Replace the stamp file (a new inode, so every reader's ``stat`` differs)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        temporary.write_text(uuid.uuid4().hex, encoding="ascii")
        os.replace(temporary, path)
    except OSError as exc:  # the TTL still bounds what the other processes keep
        log.warning("security stamp %s not written: %s", path, exc)
        temporary.unlink(missing_ok=True)


def invalidate_all(tables: Iterable[str] | None = None) -> None:
    """Invalidate every cache of this process (and their stamp files) watching one of ``tables`` (None: all)."""
    changed = None if tables is None else frozenset(tables)
    for cache in list(_CACHES):
        if changed is None or cache.tables & changed:
            cache.invalidate()


# -- what counts as a change ------------------------------------------------------------------


def _table(obj: Any) -> str | None:
    table = getattr(inspect(obj).mapper, "local_table", None)
    return getattr(table, "name", None)


_ALL_TABLES = WATCHED_TABLES | WORKFLOW_TABLES


def _changed_table(session: Session, obj: Any) -> str | None:
    """The watched table whose content flushing ``obj`` changes (None: nothing a cache holds)."""
    name = _table(obj)
    if name not in _ALL_TABLES:
        return None
    if name != "ab_user" or obj in session.new or obj in session.deleted:
        return name
    state = inspect(obj)
    return name if any(attr.key not in USER_COUNTERS and attr.history.has_changes() for attr in state.attrs) else None


def _pending_tables(session: Session) -> set[str]:
    return {name for obj in (*session.new, *session.dirty, *session.deleted)
            if (name := _changed_table(session, obj)) is not None}


def _mark(session: Session, tables: Iterable[str]) -> None:
    session.info[_CHANGED] = session.info.get(_CHANGED, frozenset()) | frozenset(tables)


def pending_changes(session: Session, tables: frozenset[str] = WATCHED_TABLES) -> bool:
    """True when the session's transaction holds changes of ``tables`` not yet committed."""
    if session.info.get(_CHANGED, frozenset()) & tables:
        return True
    return bool(_pending_tables(session) & tables)


def _after_flush(session: Session, flush_context: Any) -> None:
    changed = _pending_tables(session)
    if changed:
        _mark(session, changed)


def _orm_execute(state: Any) -> None:
    # Bulk statements (``session.execute(delete(UserOrganization)...)``) never pass through a flush.
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        if name in _ALL_TABLES:
            _mark(state.session, (name,))


def _after_commit(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        invalidate_all(changed)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    # A rolled back outermost transaction changed nothing; a savepoint's rollback may leave
    # earlier changes of the same transaction, so the mark stays until the outermost one ends.
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)


_installed = False


def install_listeners() -> None:
    """Attach the change listeners to every session (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _orm_execute)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
    _installed = True


def init_app(app: Flask) -> None:
    """Give ``app`` its permission cache (``app.extensions["permission_cache"]``)."""
    install_listeners()
    settings = app.config.get("ORGCARBON", {})
    ttl = settings.get("PERMISSION_CACHE_SECONDS", app.config.get("PERMISSION_CACHE_SECONDS", TTL_SECONDS))
    app.extensions["permission_cache"] = PermissionCache(Path(app.instance_path) / STAMP_FILE, float(ttl))
    app.extensions["workflow_cache"] = PermissionCache(Path(app.instance_path) / WORKFLOW_STAMP_FILE, float(ttl),
                                                       tables=WORKFLOW_TABLES)


def permission_cache() -> PermissionCache | None:
    """The current app's cache (None when the app has none)."""
    return current_app.extensions.get("permission_cache")  # type: ignore[no-any-return]


# -- building an entry --------------------------------------------------------------------------


def permission_pairs(sm: Any, role_ids: Iterable[int]) -> frozenset[tuple[str, str]]:
    """(permission, view) of every permission the roles ``role_ids`` hold, in one query."""
    from flask_appbuilder.security.sqla.models import assoc_permissionview_role as link

    ids = sorted(set(role_ids))
    if not ids:
        return frozenset()
    pv, perm, view = sm.permissionview_model, sm.permission_model, sm.viewmenu_model
    query = (select(perm.name, view.name).select_from(pv)
             .join(link, link.c.permission_view_id == pv.id).join(perm, perm.id == pv.permission_id)
             .join(view, view.id == pv.view_menu_id).where(link.c.role_id.in_(ids)))
    return frozenset((p, v) for p, v in sm.session.execute(query))


def build_grants(sm: Any, user: Any) -> Grants:
    """A user's entry, read from the database (six small queries)."""
    from orgcarbon.security.models import RoleSecurity, UserSecurity
    from orgcarbon.security.scope import org_scope

    session = sm.session
    roles = sm.get_user_roles(user)
    own_roles = list(getattr(user, "roles", ()) or ())
    state = session.get(UserSecurity, user.id)
    role_ids = [role.id for role in own_roles]
    role_ips = tuple(session.scalars(select(RoleSecurity.allowed_ips).where(RoleSecurity.role_id.in_(role_ids)))
                     ) if role_ids else ()
    return Grants(
        user_id=user.id,
        role_names=tuple(role.name for role in roles),
        permissions=permission_pairs(sm, [role.id for role in roles if role.name not in sm.builtin_roles]),
        own_ips=state.allowed_ips if state is not None else None,
        role_ips=role_ips,
        must_change_password=bool(state is not None and state.must_change_password),
        scope=org_scope(user, session),
    )


def grants_for(sm: Any, user: Any) -> Grants:
    """The cached entry of ``user`` (built and stored when missing, stale or expired)."""
    cache = permission_cache()
    if cache is None:
        return build_grants(sm, user)
    return cache.get(user.id, lambda: build_grants(sm, user),  # type: ignore[no-any-return]
                     lambda: not pending_changes(sm.session))


def public_permissions(sm: Any) -> frozenset[tuple[str, str]]:
    """(permission, view) pairs of the public role, cached like a user's entry."""

    def build() -> frozenset[tuple[str, str]]:
        role = sm.get_public_role()
        return permission_pairs(sm, [role.id]) if role is not None else frozenset()

    cache = permission_cache()
    if cache is None:
        return build()
    return cache.get(PUBLIC, build, lambda: not pending_changes(sm.session))  # type: ignore[no-any-return]


def remember_scope(grants: Grants) -> None:
    """Hand the cached data scope to ``org_scope`` for this request.

    ``org_scope`` keeps the scope of the request's user in ``g._org_scope`` (user id, scope) and
    answers from it; priming it spares a query of the user's roles (and, for everyone but an
    administrator, of the user's organisations and the organisation tree) per request.
    """
    from flask import g

    g._org_scope = (grants.user_id, grants.scope)


def derived(key: Any, build: Callable[[], Any], session: Session, cache_name: str = "permission_cache") -> Any:
    """A value read only from the tables of the cache ``cache_name`` (``WATCHED_TABLES`` of the
    ``permission_cache``: the organisation tree, say), cached like grants.

    ``key`` must not be an int (user ids are). Outside an application context, or without a
    cache, ``build()`` is called every time. The value is shared by threads: never mutate it.
    """
    from flask import has_app_context

    cache: PermissionCache | None = current_app.extensions.get(cache_name) if has_app_context() else None
    if cache is None:
        return build()
    tables = cache.tables
    return cache.get(key, build, lambda: not pending_changes(session, tables))
