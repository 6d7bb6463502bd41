"""orgcarbon's Flask-AppBuilder security manager: role seeding, per-user language, lockout, and FAB's
permission checks answered from the per-process permission cache (``permission_cache.py``)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import abort, current_app, flash, g, has_request_context, redirect, session
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import UserDBModelView
from flask_appbuilder.security.views import UserStatsChartView as FabUserStatsChartView
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import JWTManager

from orgcarbon.security.lockout import LockPolicy, locked_until
from orgcarbon.security.logstore import security_event
from orgcarbon.security.password_views import ResetMyPasswordView, ResetPasswordView
from orgcarbon.security.permission_cache import grants_for, public_permissions
from orgcarbon.security.roles import (
    ADMIN_ROLE,
    READ,
    ROLE_MATRIX,
    SELF_SERVICE,
    SENSITIVE_PERMISSION,
    SENSITIVE_ROLES,
)
from orgcarbon.security.token_cache import VerifiedTokenJWTManager

log = logging.getLogger(__name__)


class UserView(UserDBModelView):
    """FAB's user list with an 解锁 (unlock) action for accounts locked by failed logins."""

    @action("unlock", _l("Unlock"), _l("Unlock the selected accounts?"), "fa-unlock", multiple=True)
    def unlock(self, items: Any) -> Any:
        from orgcarbon.security.lockout import unlock

        users = items if isinstance(items, list) else [items]
        done = [u.username for u in users if unlock(self.datamodel.session, u, by=g.user.username)]
        flash(str(_l("Unlocked: %(names)s", names="、".join(done) or "—")), "info")
        return redirect(self.get_redirect())


class UserStatsChartView(FabUserStatsChartView):
    """FAB's login statistics chart; an unknown chart number is a 404, not FAB's 500."""

    @expose("/chart/<group_by>")
    @expose("/chart/")
    @has_access
    def chart(self, group_by: Any = 0) -> Any:
        if not str(group_by).isdigit() or int(group_by) >= len(self.definitions):
            abort(404)
        return super().chart(group_by)


class _Named:
    """A role as FAB's built-in role check reads it: only its name."""

    def __init__(self, name: str) -> None:
        self.name = name


class OrgcarbonSecurityManager(SecurityManager):
    """Security manager chosen through ``FAB_SECURITY_MANAGER_CLASS``."""

    userdbmodelview = UserView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView
    userstatschartview = UserStatsChartView

    def create_jwt_manager(self, app: Any) -> JWTManager:
        """FAB's JWT manager, remembering verified tokens (``token_cache.py``)."""
        jwt_manager = VerifiedTokenJWTManager()
        jwt_manager.init_app(app)
        jwt_manager.user_lookup_loader(self.load_user_jwt)
        return jwt_manager

    def on_user_login(self, user: Any) -> None:
        """Restore the user's language, log the login, expire an old password."""
        from orgcarbon.security.models import UserSetting
        from orgcarbon.security.password_state import expire_if_old

        setting = self.session.get(UserSetting, user.id)
        if setting is not None and setting.locale in self.appbuilder.bm.languages:
            session["locale"] = setting.locale
        security_event("login", f"用户 {user.username} 登录成功", username=user.username, user_id=user.id)
        days = int(current_app.config["ORGCARBON"].get("PASSWORD_EXPIRY_DAYS", 0))
        if expire_if_old(self.session, user, days):
            security_event("password_expired", f"用户 {user.username} 的密码已超过 {days} 天，须修改",
                           level=logging.WARNING, username=user.username, user_id=user.id)

    def on_user_login_failed(self, user: Any) -> None:
        """Log a failed login of a known user (wrong password)."""
        security_event("login_failed", f"用户 {user.username} 登录失败：密码错误（第 {user.fail_login_count} 次）",
                       level=logging.WARNING, username=user.username, user_id=user.id)

    def on_user_logout(self, user: Any) -> None:
        """Log a logout."""
        security_event("logout", f"用户 {user.username} 退出登录", username=user.username, user_id=user.id)

    def add_user(self, username: str, first_name: str, last_name: str, email: str, role: Any = None,
                 password: str = "", hashed_password: str = "", *args: Any, **kwargs: Any) -> Any:
        """FAB's ``add_user`` with the password rules applied to a clear-text password."""
        from orgcarbon.security.passwords import password_problems

        if password and not hashed_password and (problems := password_problems(password)):
            log.error("user %s not created: password breaks the rules: %s", username, "；".join(problems))
            return False
        return super().add_user(username, first_name, last_name, email, role, password, hashed_password,
                                *args, **kwargs)

    def oauth_user_info(self, provider: str, resp: Any = None) -> dict[str, Any]:  # type: ignore[override]
        """User info of the OpenID Connect provider (FAB only knows named providers)."""
        from orgcarbon.security.sso import OIDC_PROVIDER, oidc_user_info

        if provider == OIDC_PROVIDER:
            claims = (resp or {}).get("userinfo") or self.oauth_remotes[provider].userinfo()
            return oidc_user_info(claims)
        return self.get_oauth_user_info(provider, resp)

    def lock_policy(self) -> LockPolicy:
        """The login failure limit from the settings."""
        settings = current_app.config["ORGCARBON"]
        return LockPolicy(int(settings["LOGIN_MAX_FAILURES"]), int(settings["LOGIN_LOCK_MINUTES"]))

    def auth_user_db(self, username: str, password: str) -> Any:
        """Refuse a locked account before looking at its password (web form and API login alike)."""
        user = self.find_user(username=username) if username else None
        if user is None and username:
            security_event("login_failed", f"登录失败：用户 {username} 不存在", level=logging.WARNING,
                           username=username)
        if user is not None:
            until = locked_until(self.session, user, self.lock_policy())
            if until is not None:
                security_event("login_locked", f"账户 {username} 已锁定至 {until.isoformat()}，拒绝登录",
                               level=logging.WARNING, username=username, user_id=user.id)
                if has_request_context():
                    minutes = max(1, int((until - dt.datetime.now(dt.UTC)).total_seconds() // 60) + 1)
                    flash(str(_l("Account locked after too many failed logins; try again in %(minutes)d minutes "
                                 "or ask an administrator to unlock it.", minutes=minutes)), "danger")
                return None
        result = super().auth_user_db(username, password)
        if result is None and user is not None:
            self.session.refresh(user)
            if (user.fail_login_count or 0) == self.lock_policy().max_failures:
                security_event("account_locked", f"账户 {username} 连续 {user.fail_login_count} 次登录失败，已锁定",
                               level=logging.WARNING, username=username, user_id=user.id)
        return result

    def update_user_auth_stat(self, user: Any, success: bool = True) -> None:
        """Record login counters as changes made by the user logging in, not by "anonymous"."""
        from orgcarbon.security.audit import acting_as

        with acting_as(user.username, user.id):
            super().update_user_auth_stat(user, success)

    # -- permission checks answered from the per-process cache (permission_cache.py) ----------

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        """FAB's check of the public role's permissions, without its two queries per call."""
        return (permission_name, view_name) in public_permissions(self)

    def _has_view_access(self, user: Any, permission_name: str, view_name: str) -> bool:
        """FAB's rule (built-in roles by pattern, then the stored roles) over the cached grants."""
        grants = grants_for(self, user)
        if any(name in self.builtin_roles and self._has_access_builtin_roles(_Named(name), permission_name, view_name)
               for name in grants.role_names):
            return True
        return (permission_name, view_name) in grants.permissions

    def _get_user_permission_view_menus(self, user: Any, permission_name: str,
                                        view_menus_name: list[str]) -> set[str]:
        """The menu entries ``user`` (None: the public) may see, as FAB decides, from the cached grants."""
        if user is not None and not getattr(user, "is_authenticated", False):
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)  # type: ignore[no-any-return]
        if user is None:
            names: tuple[str, ...] = (self.auth_role_public,)
            pairs = public_permissions(self) if self.auth_role_public not in self.builtin_roles else frozenset()
        else:
            grants = grants_for(self, user)
            names, pairs = grants.role_names, grants.permissions
        result = {view for name in names if name in self.builtin_roles for view in view_menus_name or ()
                  if self._has_access_builtin_roles(_Named(name), permission_name, view)}
        result.update(view for perm, view in pairs if perm == permission_name)
        return result

    # -- role seeding -------------------------------------------------------------------------

    def _area_views(self) -> list[Any]:
        """Every registered view or API that declares a permission area."""
        return [v for v in self.appbuilder.baseviews if getattr(v, "class_permission_name", None)]

    def _menu_names_by_area(self) -> dict[str, set[str]]:
        """Menu item and category names, by the area of the view each one opens."""
        names: dict[str, set[str]] = {}
        for top in self.appbuilder.menu.get_list():
            items = top.childs or [top]
            for item in items:
                view = item.baseview
                area = getattr(view, "class_permission_name", None) if view else None
                if area:
                    names.setdefault(area, set()).update({item.name, top.name})
        return names

    def sync_roles(self) -> dict[str, int]:
        """Create the built-in roles and add the permissions the matrix gives them.

        Permissions are only added, never removed, so edits an administrator made stay.
        Returns the number of permissions each role holds afterwards.
        """
        # The admin role must exist first: FAB grants it each new permission as it creates it, and
        # rolls the whole session back when the role is missing.
        admin = self.add_role(ADMIN_ROLE)
        self.add_role(self.auth_role_public)
        self.appbuilder.add_permissions(update_perms=True)
        self.add_permission_view_menu(*SENSITIVE_PERMISSION)
        views = self._area_views()
        menus = self._menu_names_by_area()
        counts: dict[str, int] = {}

        for role_name, areas in ROLE_MATRIX.items():
            role = self.add_role(role_name)
            wanted: list[tuple[str, str]] = list(SELF_SERVICE)
            for view in views:
                perms = areas.get(view.class_permission_name, ())
                for perm in view.base_permissions or ():
                    if perm in perms:
                        wanted.append((perm, view.class_permission_name))
            for area, perms in areas.items():
                if READ in perms:
                    wanted.extend(("menu_access", name) for name in menus.get(area, ()))
            for perm_name, view_name in dict.fromkeys(wanted):
                pv = self.find_permission_view_menu(perm_name, view_name)
                if pv is None:
                    pv = self.add_permission_view_menu(perm_name, view_name)
                if pv is not None and pv not in role.permissions:
                    role.permissions.append(pv)
            if role_name in SENSITIVE_ROLES:
                pv = self.add_permission_view_menu(*SENSITIVE_PERMISSION)
                if pv is not None and pv not in role.permissions:
                    role.permissions.append(pv)
            counts[role_name] = len(role.permissions)

        for pv in self.session.query(self.permissionview_model).all():
            if pv not in admin.permissions:
                admin.permissions.append(pv)
        counts[ADMIN_ROLE] = len(admin.permissions)
        self.session.commit()
        log.info("roles synchronised: %s", counts)
        return counts
