"""The start page shown after login."""

from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from werkzeug.wrappers import Response


class HomeView(IndexView):
    """组织碳平台 start page: where to go next for each role; anonymous visitors go to the login."""

    index_template = "orgcarbon/home.html"

    @expose("/")
    def index(self) -> Response | str:
        from flask import g

        user = getattr(g, "user", None)
        if user is None or not user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
        self.update_redirect()
        roles = [role.name for role in user.roles]
        return self.render_template(self.index_template, appbuilder=self.appbuilder, roles=roles)
