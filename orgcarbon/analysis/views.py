"""碳分析 pages (``/analysis/``) and JSON API (``/api/v1/analysis/``), all scoped by ``org_scope``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, request
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from orgcarbon.analysis import benchmarks, intensity, params, pieces
from orgcarbon.analysis import cache as analysis_cache
from orgcarbon.analysis.benchmark_views import BenchmarkView
from orgcarbon.analysis.compare import Change, decompose, fetch, what_if
from orgcarbon.analysis.export import download, workbook
from orgcarbon.analysis.ledger import EXPORT_LIMIT, PAGE_SIZE, LedgerFilter, facets, lines
from orgcarbon.analysis.panorama import panorama, panorama_json
from orgcarbon.analysis.queries import select_lines
from orgcarbon.platform.extensions import db
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Analysis"
READ = ("panorama", "panorama_export", "ledger", "ledger_export", "compare", "compare_export", "whatif",
        "intensity", "intensity_export", "index", "ledger_page", "compare_page", "intensity_page")
PERMISSIONS = {**METHOD_PERMISSIONS, **dict.fromkeys(READ, "read")}


def _side(prefix: str = "", args: Any = None, year: int | None = None) -> params.Side:
    return params.side(db.session, org_scope(), request.args if args is None else args, prefix, year)


def _ledger_filter(args: Any) -> LedgerFilter:
    def number(name: str) -> int | None:
        value = args.get(name)
        return int(value) if value not in (None, "") and str(value).isdigit() else None

    return LedgerFilter(number("line_org_id"), number("process_id"), args.get("category") or None,
                        args.get("material") or None, args.get("month") or None)


def _ledger_export(side: params.Side, flt: LedgerFilter) -> Response:
    rows, _count, _total = lines(db.session, select_lines(db.session, side.period, side.nodes), flt, 0, EXPORT_LIMIT)
    headers = [_("Line"), _("Month"), _("Organisation"), _("Process"), _("Sub-process"), _("Material"), _("Category"),
               _("Activity"), _("Activity unit"), _("Emission factor"), _("EF unit"), _("tCO2 (signed)"), _("Formula")]
    content = workbook(_("Carbon ledger"), headers, (
        [r["id"], r["month"], r["organization"], r["process"], r["subprocess"], r["material"],
         CATEGORY_NAMES.get(r["category"], r["category"]), r["activity"], r["activity_unit"], r["ef"], r["ef_unit"],
         r["net_tco2"], f'{r["formula_name"]} v{r["formula_version"]}'] for r in rows))
    return download(f"ledger-{side.period.year}.xlsx", content)


def _comparison(args: Any) -> dict[str, Any]:
    a = _side("a_", args)
    b = _side("b_", args, year=a.period.year)
    old = fetch(db.session, select_lines(db.session, a.period, a.nodes))
    new = fetch(db.session, select_lines(db.session, b.period, b.nodes))
    return decompose(old, new, with_org=a.nodes == b.nodes).as_dict(limit=200)


def _compare_export(args: Any) -> Response:
    r = _comparison(args)
    rows = [[_("Baseline total"), r["total_old"]], [_("Compared total"), r["total_new"]],
            [_("Activity effect"), r["activity_effect"]], [_("Factor effect"), r["factor_effect"]],
            [_("Scope effect"), r["scope_effect"]], [_("Difference"), r["difference"]]]
    return download("compare-drivers.xlsx", workbook(_("Differences by driver"), [_("Item"), _("tCO2")], rows))


def _intensity(side: params.Side) -> dict[str, Any]:
    matcher = benchmarks.Matcher(db.session, benchmarks.visible_rows(db.session, org_scope()))
    return intensity.comparison(db.session, side.period, side.nodes, matcher)


def _scenario(body: dict[str, Any]) -> dict[str, Any]:
    base = _side("", body)
    try:
        changes = [Change.from_json(c) for c in body.get("changes") or []]
    except (TypeError, ValueError) as exc:
        raise params.BadRequest(str(exc)) from None
    if not changes:
        raise params.BadRequest("需要至少一项变更（changes）")
    return what_if(fetch(db.session, select_lines(db.session, base.period, base.nodes)), changes)


class AnalysisApi(BaseApi):
    """``/api/v1/analysis/``: panorama figures, ledger lines, comparisons, what-if; Excel downloads."""

    resource_name = "analysis"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Analysis"

    def _bad(self, exc: Exception) -> Response:
        return self.response_400(message=str(exc))

    @expose("/panorama", methods=["GET"])
    @protect()
    @safe
    def panorama(self) -> Response:
        """碳全景 figures: ``?year=&org_id=&month_from=&month_to=``.
        ---
        get:
          responses:
            200: {description: totals, trend, categories, processes, sources, intensity, completeness}
            400: {description: bad parameters}
        """
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        # The cached aggregate's JSON text goes out as stored (see panorama_json).
        body = '{"result":' + panorama_json(db.session, side.period, side.nodes) + "}"
        return Response(body, status=200, content_type="application/json; charset=utf-8")

    @expose("/panorama/<chart>.xlsx", methods=["GET"])
    @protect()
    @safe
    def panorama_export(self, chart: str) -> Response:
        """One panorama chart's data as Excel.
        ---
        get:
          responses:
            200: {description: xlsx}
            404: {description: unknown chart}
        """
        if chart not in params.CHARTS:
            return self.response_404()
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        title, headers, rows = params.chart_table(panorama(db.session, side.period, side.nodes), chart)
        return download(f"{chart}-{side.period.year}.xlsx", workbook(title, headers, rows))

    @expose("/ledger", methods=["GET"])
    @protect()
    @safe
    def ledger(self) -> Response:
        """碳账本 lines: period, ``line_org_id``, ``process_id``, ``category``, ``material``, ``month``, ``page``.
        ---
        get:
          responses:
            200: {description: lines, count and signed sum}
        """
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        page = request.args.get("page", 0, type=int)
        rows, count, total = lines(db.session, select_lines(db.session, side.period, side.nodes),
                                   _ledger_filter(request.args), page)
        return self.response(200, result=rows, count=count, total_tco2=total, page=page, page_size=PAGE_SIZE)

    @expose("/ledger.xlsx", methods=["GET"])
    @protect()
    @safe
    def ledger_export(self) -> Response:
        """The filtered ledger as Excel.
        ---
        get:
          responses:
            200: {description: xlsx}
        """
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        return _ledger_export(side, _ledger_filter(request.args))

    @expose("/compare", methods=["GET"])
    @protect()
    @safe
    def compare(self) -> Response:
        """碳比对: side ``a_*`` against side ``b_*`` with activity, factor and scope effects.
        ---
        get:
          responses:
            200: {description: totals, effects, rows}
        """
        try:
            return self.response(200, result=_comparison(request.args))
        except params.BadRequest as exc:
            return self._bad(exc)

    @expose("/compare.xlsx", methods=["GET"])
    @protect()
    @safe
    def compare_export(self) -> Response:
        """The comparison's driver chart data as Excel.
        ---
        get:
          responses:
            200: {description: xlsx}
        """
        try:
            return _compare_export(request.args)
        except params.BadRequest as exc:
            return self._bad(exc)

    @expose("/intensity", methods=["GET"])
    @protect()
    @safe
    def intensity(self) -> Response:
        """Intensity by plant, process, year and month against the benchmarks: ``?year=&org_id=&month_…``.
        ---
        get:
          responses:
            200: {description: enterprise, by_plant, by_process, by_year, trend, benchmarks}
            400: {description: bad parameters}
        """
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        return self.response(200, result=_intensity(side))

    @expose("/intensity/<chart>.xlsx", methods=["GET"])
    @protect()
    @safe
    def intensity_export(self, chart: str) -> Response:
        """One intensity chart's data as Excel.
        ---
        get:
          responses:
            200: {description: xlsx}
            404: {description: unknown chart}
        """
        if chart not in intensity.CHARTS:
            return self.response_404()
        try:
            side = _side()
        except params.BadRequest as exc:
            return self._bad(exc)
        title, headers, rows = intensity.chart_table(_intensity(side), chart)
        return download(f"intensity-{chart}-{side.period.year}.xlsx", workbook(title, headers, rows))

    @expose("/whatif", methods=["POST"])
    @protect()
    @safe
    def whatif(self) -> Response:
        """What-if: ``{year, org_id?, month_from?, month_to?, changes: [{material?, …, ef|ef_scale|activity_scale}]}``.
        ---
        post:
          responses:
            200: {description: baseline, scenario, effects and the changed lines; nothing is stored}
        """
        try:
            return self.response(200, result=_scenario(request.get_json(silent=True) or {}))
        except params.BadRequest as exc:
            return self._bad(exc)


class AnalysisView(BaseView):
    """碳全景, 碳账本 and 碳比对 pages."""

    route_base = "/analysis"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = str(Path(__file__).resolve().parent / "templates")
    default_view = "index"

    def _common(self, side: params.Side) -> dict[str, Any]:
        return {"side": side, "orgs": params.organizations(db.session, org_scope()),
                "labels": params.chart_labels()}

    @expose("/")
    @has_access
    def index(self) -> str:
        try:
            side = _side()
        except params.BadRequest:
            abort(400)
        data = panorama(db.session, side.period, side.nodes)
        return self.render_template("analysis/panorama.html", data=data, charts=params.CHARTS, **self._common(side))

    @expose("/ledger")
    @has_access
    def ledger_page(self) -> Any:
        try:
            side = _side()
        except params.BadRequest:
            abort(400)
        flt = _ledger_filter(request.args)
        if request.args.get("export"):
            return _ledger_export(side, flt)
        sel = select_lines(db.session, side.period, side.nodes)
        page = max(0, request.args.get("page", 0, type=int))
        rows, count, total = lines(db.session, sel, flt, page)
        args = {k: v for k, v in request.args.items() if k != "page"}
        return self.render_template("analysis/ledger.html", rows=rows, count=count, total=total, page=page,
                                    pages=max(1, -(-count // PAGE_SIZE)), flt=flt, facets=facets(db.session, sel),
                                    args=args, categories=CATEGORY_NAMES, **self._common(side))

    @expose("/intensity")
    @has_access
    def intensity_page(self) -> str:
        try:
            side = _side()
        except params.BadRequest:
            abort(400)
        return self.render_template("analysis/intensity.html", data=_intensity(side), charts=intensity.CHARTS,
                                    scopes=benchmarks.SCOPES, **self._common(side))

    @expose("/compare")
    @has_access
    def compare_page(self) -> str:
        try:
            a = _side("a_")
            b = _side("b_", year=a.period.year)
            result = _comparison(request.args) if request.args.get("run") else None
            scenario = None
            if request.args.get("wi_run"):
                change = {k[3:]: v for k, v in request.args.items() if k.startswith("wi_") and k != "wi_run"}
                scenario = _scenario({"year": a.period.year, "org_id": a.org_id, "month_from": a.period.month_from,
                                      "month_to": a.period.month_to, "changes": [change]})
        except params.BadRequest as exc:
            return self.render_template("analysis/compare.html", error=str(exc), a=None, b=None, result=None,
                                        scenario=None, **self._common(_side()))
        return self.render_template("analysis/compare.html", a=a, b=b, result=result, scenario=scenario, error=None,
                                    args=request.args, **self._common(a))


def register_analysis(appbuilder: AppBuilder) -> None:
    """Attach the analysis cache, pages, menu entries and API."""
    # The ledger and comparison menu entries name the view, so ``init`` grants them with the area.
    analysis_cache.init_app(appbuilder.app)
    pieces.init_app(appbuilder.app)     # per-run aggregates every selection is summed from
    category = {"category": "Analysis", "category_label": _l("Carbon analysis"), "category_icon": "fa-line-chart"}
    view = appbuilder.add_view(AnalysisView, "Carbon panorama", label=_l("Carbon panorama"), icon="fa-globe", **category)
    appbuilder.add_link("Carbon ledger", label=_l("Carbon ledger"), href="/analysis/ledger", icon="fa-book",
                        category="Analysis", baseview=view)
    appbuilder.add_link("Carbon comparison", label=_l("Carbon comparison"), href="/analysis/compare",
                        icon="fa-balance-scale", category="Analysis", baseview=view)
    appbuilder.add_link("Intensity comparison", label=_l("Intensity comparison"), href="/analysis/intensity",
                        icon="fa-tachometer", category="Analysis", baseview=view)
    # Benchmark values are model data (area Metamodel), listed here beside the comparison that uses them.
    appbuilder.add_view(BenchmarkView, "Benchmark values", label=_l("Benchmark values"), icon="fa-flag-checkered",
                        category="Analysis")
    appbuilder.add_api(AnalysisApi)
