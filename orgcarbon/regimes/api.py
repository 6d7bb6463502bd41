"""``/api/v1/regimes/``: the regimes, national carbon market, CBAM, reconciliation and settings.

Scoped by ``org_scope`` like the pages: an organisation outside the caller's scope answers 404, a
refusal 422 with the Chinese reasons, a malformed parameter 400. Reading needs read on Results;
``PUT settings`` needs write there and the organisation in the caller's writable scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, protect, safe
from werkzeug.wrappers import Response

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.regimes import service
from orgcarbon.regimes.export_cbam import cbam_workbook
from orgcarbon.regimes.export_ets import ets_workbook
from orgcarbon.regimes.loader import RegimeRefused
from orgcarbon.regimes.settings import save_settings
from orgcarbon.regimes.views import (
    AREA,
    PERMISSIONS,
    BadRequest,
    NotVisible,
    download,
    installation_for,
    org_year,
    settings_data,
)
from orgcarbon.rules.regimes import RegimeError
from orgcarbon.security.scope import org_scope


class RegimesApi(BaseApi):
    """``/api/v1/regimes/``: figures of every regime from the same activity records."""

    resource_name = "regimes"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Regimes"

    def _params(self) -> tuple[int, int] | Response:
        try:
            return org_year(request.args)
        except BadRequest as exc:
            return self.response_400(message=str(exc))
        except NotVisible:
            return self.response_404()

    def _figures(self, compute: Callable[[int, int], Response]) -> Response:
        """Parse ``org_id``/``year``, call ``compute``; a regime refusal answers 422 with its reasons."""
        params = self._params()
        if isinstance(params, Response):
            return params
        try:
            return compute(*params)
        except RegimeRefused as exc:
            return self.response_422(message=exc.reasons)

    def _cbam(self, org_id: int, year: int, answer: Callable[[Any, Any, dict[str, Any]], Response]) -> Response:
        """The CBAM installation of ``?installation_id=`` (404 when none is visible), computed."""
        inst = installation_for(org_id, request.args)
        if inst is None:
            return self.response_404()
        result, _inputs, data = service.cbam(db.session, current_app.instance_path, inst, year)
        return answer(inst, result, data)

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def regimes(self) -> Response:
        """The shipped regimes, with the organisation's choice (``?org_id=``).
        ---
        get:
          responses:
            200: {description: regimes with evidence grades and whether the organisation uses them}
        """
        params = self._params()
        if isinstance(params, Response):
            return params
        return self.response(200, result=settings_data(params[0]))

    @expose("/national-ets", methods=["GET"])
    @protect()
    @safe
    def national_ets(self) -> Response:
        """全国碳市场: summary table, process types, production lines, monthly key parameters with evidence.
        ---
        get:
          responses:
            200: {description: figures}
            404: {description: organisation outside the data scope}
            422: {description: refused, with the Chinese reasons}
        """
        return self._figures(lambda org_id, year: self.response(
            200, result=service.national_ets(db.session, current_app.instance_path, org_id, year)[2]))

    @expose("/national-ets.xlsx", methods=["GET"])
    @protect()
    @safe
    def national_ets_export(self) -> Response:
        """The monthly evidence workbook (月度存证工作簿).
        ---
        get:
          responses:
            200: {description: xlsx}
        """
        def workbook(org_id: int, year: int) -> Response:
            result, _inputs, data = service.national_ets(db.session, current_app.instance_path, org_id, year)
            return download(f"national-ets-{org_id}-{year}.xlsx", ets_workbook(result, data))

        return self._figures(workbook)

    @expose("/cbam", methods=["GET"])
    @protect()
    @safe
    def cbam(self) -> Response:
        """CBAM of an installation (``?org_id=&year=&installation_id=``): processes, SEE per CN code.
        ---
        get:
          responses:
            200: {description: figures}
            404: {description: no CBAM installation visible}
            422: {description: refused, with the Chinese reasons}
        """
        return self._figures(lambda org_id, year: self._cbam(
            org_id, year, lambda _inst, _result, data: self.response(200, result=data)))

    @expose("/cbam.xlsx", methods=["GET"])
    @protect()
    @safe
    def cbam_xlsx(self) -> Response:
        """The official communication template, filled.
        ---
        get:
          responses:
            200: {description: xlsx}
        """
        def workbook(org_id: int, year: int) -> Response:
            def filled(inst: Any, result: Any, _data: dict[str, Any]) -> Response:
                template = inst.found.settings.report_templates.get(inst.regime.key)
                return download(f"cbam-communication-{inst.node.id}-{year}.xlsx", cbam_workbook(result, template))

            return self._cbam(org_id, year, filled)

        return self._figures(workbook)

    @expose("/reconciliation", methods=["GET"])
    @protect()
    @safe
    def reconciliation(self) -> Response:
        """GB/T, national carbon market and CBAM totals with each difference explained by driver.
        ---
        get:
          responses:
            200: {description: totals and comparisons}
            422: {description: refused, with the Chinese reasons}
        """
        return self._figures(lambda org_id, year: self.response(
            200, result=service.reconciliation(db.session, current_app.instance_path, org_id, year, org_scope())[1]))

    @expose("/settings", methods=["GET"])
    @protect()
    @safe
    def settings(self) -> Response:
        """The regime settings in force for ``org_id`` and where they come from.
        ---
        get:
          responses:
            200: {description: settings}
        """
        params = self._params()
        if isinstance(params, Response):
            return params
        return self.response(200, result=settings_data(params[0]))

    @expose("/settings", methods=["PUT"])
    @protect()
    @safe
    def put_settings(self) -> Response:
        """Save the organisation's own settings (``orgcarbon-regime-settings/1``) after checking them.
        ---
        put:
          responses:
            200: {description: saved}
            403: {description: outside the writable scope}
            422: {description: refused, with the Chinese reason}
        """
        params = self._params()
        if isinstance(params, Response):
            return params
        org = db.session.get(Organization, params[0])
        if org is None or not org_scope().can_write(org.id):
            return self.response(403, message="无权修改该组织的口径设置（超出您的数据范围）")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.response_422(message="请求体应为口径设置 JSON 对象")
        try:
            save_settings(current_app.instance_path, org, body)
        except RegimeError as exc:
            return self.response_422(message=str(exc))
        return self.response(200, result=settings_data(org.id))
