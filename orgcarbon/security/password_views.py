"""FAB's two password forms with the history rule added (same class names, so the same permissions).

Complexity is checked by the forms' own validator (``FAB_PASSWORD_COMPLEXITY_VALIDATOR``); these
views add "not one of the last N passwords" and record the change as a security event.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_appbuilder.security.views import ResetMyPasswordView as FabResetMyPasswordView
from flask_appbuilder.security.views import ResetPasswordView as FabResetPasswordView

from orgcarbon.security.logstore import security_event
from orgcarbon.security.password_state import reused


def _reuse_refused(view: Any, user: Any, password: str, endpoint: str, **args: Any) -> Any:
    from flask import current_app

    keep = int(current_app.config["ORGCARBON"].get("PASSWORD_HISTORY", 0))
    if user is not None and reused(view.appbuilder.sm.session, user, password):
        flash(f"不能使用最近用过的 {keep} 个密码，请换一个新密码", "danger")
        return redirect(url_for(endpoint, **args))
    return None


class ResetMyPasswordView(FabResetMyPasswordView):
    """修改我的密码: also refuses a recently used password."""

    def form_post(self, form: Any) -> Any:
        sm = self.appbuilder.sm
        user = sm.get_user_by_id(g.user.id)
        refused = _reuse_refused(self, user, form.password.data, "ResetMyPasswordView.this_form_get")
        if refused is not None:
            return refused
        sm.reset_password(user.id, form.password.data)
        security_event("password_changed", "用户修改了自己的密码", username=user.username, user_id=user.id)
        flash(str(self.message), "info")
        return None


class ResetPasswordView(FabResetPasswordView):
    """重置用户密码 (administrators): the user must change it at the next login."""

    def form_post(self, form: Any) -> Any:
        sm = self.appbuilder.sm
        pk = request.args.get("pk")
        user = sm.get_user_by_id(pk) if pk else None
        if user is None:
            flash("用户不存在", "danger")
            return redirect(self.get_redirect())
        refused = _reuse_refused(self, user, form.password.data, "ResetPasswordView.this_form_get", pk=pk)
        if refused is not None:
            return refused
        sm.reset_password(user.id, form.password.data)
        security_event("password_reset", f"管理员重置了用户 {user.username} 的密码", target=user.username)
        flash(str(self.message), "info")
        return None
