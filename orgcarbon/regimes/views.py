"""多口径 pages: 全国碳市场, CBAM, 口径对账 and 口径设置 (``/regimes/``), scoped by ``org_scope``.

Reading needs read on Results (核算结果); saving an organisation's settings needs write there.
An organisation outside the caller's scope answers 404. A refusal (no data, no factor, a setting
the rules cannot use) is shown as its Chinese reasons. The JSON API is in ``api.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from orgcarbon.accounting.views import check_csrf, flash_refusal
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.regimes import service
from orgcarbon.regimes.export_cbam import cbam_workbook
from orgcarbon.regimes.export_ets import ets_workbook
from orgcarbon.regimes.loader import RegimeRefused, default_org, default_year, organizations
from orgcarbon.regimes.settings import document, settings_for
from orgcarbon.regimes.settings import save_settings as store_settings
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.regimes import DRIVER_NAMES, GRADE_NAMES, RegimeError, shipped_regimes
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Results"
READ = ("index", "ets_page", "ets_export", "cbam_page", "cbam_export", "reconcile_page", "settings_page",
        "regimes", "national_ets", "national_ets_export", "cbam", "cbam_xlsx", "reconciliation", "settings")
PERMISSIONS = {**METHOD_PERMISSIONS, **dict.fromkeys(READ, "read"), "save_settings": "write",
               "put_settings": "write"}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(filename: str, content: bytes) -> Response:
    """An .xlsx download; the name is ASCII so every browser keeps it."""
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class BadRequest(ValueError):
    """A parameter is malformed; the message is Chinese."""


class NotVisible(LookupError):
    """The organisation does not exist or lies outside the caller's scope."""


def org_year(args: Mapping[str, Any]) -> tuple[int, int]:
    """``org_id`` (default: the top of the caller's tree) and ``year`` (default: newest with data)."""
    scope = org_scope()
    try:
        org_id = int(args["org_id"]) if args.get("org_id") not in (None, "") else default_org(db.session, scope)
        year = int(args["year"]) if args.get("year") not in (None, "") else None
    except (TypeError, ValueError):
        raise BadRequest("参数 org_id、year 应为整数") from None
    if org_id is None or not scope.can_read(org_id) or db.session.get(Organization, org_id) is None:
        raise NotVisible("组织不存在或超出您的数据范围")
    return org_id, year or default_year(db.session, org_id)


def installation_for(org_id: int, args: Mapping[str, Any]) -> service.Installation | None:
    """The CBAM installation the request names (``installation_id``), else the first one found."""
    found = service.installations(db.session, current_app.instance_path, org_id, org_scope())
    wanted = args.get("installation_id")
    if wanted not in (None, ""):
        return next((i for i in found if str(i.node.id) == str(wanted)), None)
    return found[0] if found else None


def settings_data(org_id: int) -> dict[str, Any]:
    """The settings in force for a node, with where they come from and the shipped regimes."""
    found = settings_for(db.session, current_app.instance_path, org_id)
    return {
        "organization_id": org_id,
        "settings": service.settings_dict(found),
        "document": document(found),
        "regimes": [{"key": r.key, "name": r.name, "kind": r.kind, "standard": r.standard,
                     "enabled": found.settings.enabled(r.key), "evidence": r.evidence.as_dict(),
                     "report_templates": [{"key": t.key, "name": t.name} for t in r.report_templates]}
                    for r in shipped_regimes().values()],
    }


class RegimesView(BaseView):
    """全国碳市场, CBAM, 口径对账 and 口径设置 pages."""

    route_base = "/regimes"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = str(Path(__file__).resolve().parent / "templates")
    default_view = "ets_page"

    def _common(self, org_id: int, year: int) -> dict[str, Any]:
        return {"orgs": organizations(db.session, org_scope()), "org_id": org_id, "year": year,
                "grades": GRADE_NAMES, "drivers": DRIVER_NAMES, "categories": CATEGORY_NAMES}

    def _params(self) -> tuple[int, int]:
        try:
            return org_year(request.args)
        except BadRequest:
            abort(400)
        except NotVisible:
            abort(404)

    @expose("/ets")
    @has_access
    def ets_page(self) -> str:
        org_id, year = self._params()
        try:
            _result, _inputs, data = service.national_ets(db.session, current_app.instance_path, org_id, year)
        except RegimeRefused as exc:
            return self.render_template("regimes/ets.html", data=None, reasons=exc.reasons, **self._common(org_id, year))
        return self.render_template("regimes/ets.html", data=data, reasons=[], **self._common(org_id, year))

    @expose("/ets.xlsx")
    @has_access
    def ets_export(self) -> Response:
        org_id, year = self._params()
        try:
            result, _inputs, data = service.national_ets(db.session, current_app.instance_path, org_id, year)
        except RegimeRefused as exc:
            flash_refusal(exc.reasons)
            return redirect(url_for("RegimesView.ets_page", org_id=org_id, year=year))
        return download(f"national-ets-{org_id}-{year}.xlsx", ets_workbook(result, data))

    @expose("/cbam")
    @has_access
    def cbam_page(self) -> str:
        org_id, year = self._params()
        found = service.installations(db.session, current_app.instance_path, org_id, org_scope())
        inst = installation_for(org_id, request.args)
        data, reasons = None, []
        if inst is not None:
            try:
                _result, _inputs, data = service.cbam(db.session, current_app.instance_path, inst, year)
            except RegimeRefused as exc:
                reasons = exc.reasons
        return self.render_template("regimes/cbam.html", data=data, reasons=reasons,
                                    installations=[(i.node.id, i.node.name) for i in found],
                                    installation_id=inst.node.id if inst else None, **self._common(org_id, year))

    @expose("/cbam.xlsx")
    @has_access
    def cbam_export(self) -> Response:
        org_id, year = self._params()
        inst = installation_for(org_id, request.args)
        if inst is None:
            abort(404)
        try:
            result, _inputs, _data = service.cbam(db.session, current_app.instance_path, inst, year)
        except RegimeRefused as exc:
            flash_refusal(exc.reasons)
            return redirect(url_for("RegimesView.cbam_page", org_id=org_id, year=year))
        template = inst.found.settings.report_templates.get(inst.regime.key)
        return download(f"cbam-communication-{inst.node.id}-{year}.xlsx", cbam_workbook(result, template))

    @expose("/reconcile")
    @has_access
    def reconcile_page(self) -> str:
        org_id, year = self._params()
        try:
            _rec, data = service.reconciliation(db.session, current_app.instance_path, org_id, year, org_scope())
        except RegimeRefused as exc:
            return self.render_template("regimes/reconcile.html", data=None, reasons=exc.reasons,
                                        **self._common(org_id, year))
        return self.render_template("regimes/reconcile.html", data=data, reasons=[], **self._common(org_id, year))

    @expose("/settings")
    @has_access
    def settings_page(self) -> str:
        org_id, year = self._params()
        data = settings_data(org_id)
        text = request.args.get("draft") or json.dumps(data["document"], ensure_ascii=False, indent=2)
        can_write = bool(self.appbuilder.sm.has_access("can_write", AREA)) and org_scope().can_write(org_id)
        return self.render_template("regimes/settings.html", data=data, text=text, can_write=can_write,
                                    csrf_token=generate_csrf, **self._common(org_id, year))

    @expose("/settings", methods=["POST"])
    @has_access
    def save_settings(self) -> Response:
        """Save the organisation's own copy of its settings, after checking everything can be used."""
        check_csrf()
        org_id, year = self._params()
        org = db.session.get(Organization, org_id)
        if org is None or not org_scope().can_write(org_id):
            abort(403)
        try:
            data = json.loads(request.form.get("document") or "")
            if not isinstance(data, dict):
                raise RegimeError("设置应为 JSON 对象")
            store_settings(current_app.instance_path, org, data)
        except (ValueError, RegimeError) as exc:
            flash_refusal([f"设置未保存：{exc}"])
            return self.render_template(
                "regimes/settings.html", data=settings_data(org_id), text=request.form.get("document") or "",
                can_write=True, csrf_token=generate_csrf, **self._common(org_id, year))
        flash(_("Regime settings saved."), "success")
        return redirect(url_for("RegimesView.settings_page", org_id=org_id, year=year))


def register_regimes(appbuilder: AppBuilder) -> None:
    """Attach the 多口径 pages, menu entries and API."""
    from orgcarbon.regimes.api import RegimesApi

    category = {"category": "Regimes", "category_label": _l("Regimes"), "category_icon": "fa-random"}
    view = appbuilder.add_view(RegimesView, "National carbon market", label=_l("National carbon market"),
                               icon="fa-industry", **category)
    # The links name the view, so ``init`` grants their menu entries with the Results area.
    appbuilder.add_link("CBAM", label=_l("CBAM"), href="/regimes/cbam", icon="fa-globe", category="Regimes",
                        baseview=view)
    appbuilder.add_link("Regime reconciliation", label=_l("Regime reconciliation"), href="/regimes/reconcile",
                        icon="fa-balance-scale", category="Regimes", baseview=view)
    appbuilder.add_link("Regime settings", label=_l("Regime settings"), href="/regimes/settings", icon="fa-cog",
                        category="Regimes", baseview=view)
    appbuilder.add_api(RegimesApi)
