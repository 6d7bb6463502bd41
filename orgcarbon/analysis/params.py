"""Request parameters of the analysis pages and APIs, and the tables behind each chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.analysis.queries import ORG, RUN, Period, wanted_nodes
from orgcarbon.security.scope import OrgScope


class BadRequest(ValueError):
    """A parameter is malformed; the message is Chinese."""


@dataclass(frozen=True)
class Side:
    """A period of an organisation subtree, restricted to what the caller may read."""

    period: Period
    org_id: int | None
    nodes: frozenset[int]


def _int(args: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"参数 {name} 应为整数") from None


def default_year(session: Session, scope: OrgScope) -> int:
    """The newest year with a finished run the caller may read (this year when none)."""
    import datetime as dt

    query = select(func.max(RUN.c.year)).where(RUN.c.status == "done")
    if scope.readable is not None:
        query = query.where(RUN.c.organization_id.in_(sorted(scope.readable)))
    return int(session.scalar(query) or dt.date.today().year)


def side(session: Session, scope: OrgScope, args: Mapping[str, Any], prefix: str = "",
         year: int | None = None) -> Side:
    """Read ``{prefix}year``, ``{prefix}org_id``, ``{prefix}month_from``, ``{prefix}month_to``."""
    year = _int(args, prefix + "year", year) or default_year(session, scope)
    try:
        period = Period(year, _int(args, prefix + "month_from", 1) or 1, _int(args, prefix + "month_to", 12) or 12)
    except ValueError:
        raise BadRequest("月份范围应满足 1 ≤ 起始月 ≤ 截止月 ≤ 12") from None
    org_id = _int(args, prefix + "org_id", None)
    if org_id is not None and not scope.can_read(org_id):
        raise BadRequest(f"组织 {org_id} 不存在或超出您的数据范围")
    return Side(period, org_id, wanted_nodes(session, org_id, scope.readable))


def organizations(session: Session, scope: OrgScope) -> list[tuple[int, str]]:
    """The organisation nodes the caller may pick, by name."""
    query = select(ORG.c.id, ORG.c.name).order_by(ORG.c.id)
    if scope.readable is not None:
        query = query.where(ORG.c.id.in_(sorted(scope.readable)))
    return [(int(i), n) for i, n in session.execute(query)]


def chart_labels() -> dict[str, str]:
    """Translated labels the page's ECharts options use."""
    return {
        "tco2": _("tCO2"), "this_year": _("This year"), "last_year": _("Last year"),
        "by_category": _("Emissions by category"), "by_process": _("Emissions by process"),
        "trend": _("Monthly emissions against last year"), "top_sources": _("Largest sources"),
        "intensity_trend": _("Intensity by month (tCO2/t crude steel)"), "save": _("Save as image"),
        "by_organization": _("Emissions by organisation"), "share": _("Contribution rate (%)"),
        "activity_effect": _("Activity effect"), "factor_effect": _("Factor effect"),
        "scope_effect": _("Scope effect"), "difference": _("Difference"),
        "drivers": _("Differences by driver"), "tco2_per_t": _("tCO2/t"), "benchmark": _("Benchmark"),
        "total_intensity": _("Intensity (tCO2/t)"), "direct_intensity": _("Direct intensity (tCO2/t)"),
        "intensity_by_plant": _("Intensity by plant"), "intensity_by_process": _("Intensity by process"),
        "intensity_by_year": _("Intensity by year"), "intensity_by_month": _("Intensity by month"),
    }


def chart_table(data: dict[str, Any], chart: str) -> tuple[str, list[str], list[list[Any]]]:
    """(sheet title, headers, rows) of one panorama chart; KeyError for an unknown chart."""
    tco2, share = _("tCO2"), _("Contribution rate (%)")
    if chart == "trend":
        return (_("Monthly emissions against last year"), [_("Month"), _("This year"), _("Last year"), _("Change (%)")],
                [[r["month"], r["value"], r["last_year"], r["change"]] for r in data["trend"]])
    if chart == "by_category":
        return (_("Emissions by category"), [_("Category"), tco2, share],
                [[r["name"], r["value"], r["share"]] for r in data["by_category"]])
    if chart == "by_process":
        return (_("Emissions by process"), [_("Organisation"), _("Process"), tco2, share],
                [[r["organization"], r["name"], r["value"], r["share"]] for r in data["by_process"]])
    if chart == "by_subprocess":
        return (_("Emissions by sub-process"), [_("Process"), _("Sub-process"), tco2, share],
                [[r["process"], r["name"], r["value"], r["share"]] for r in data["by_subprocess"]])
    if chart == "by_organization":
        return (_("Emissions by organisation"), [_("Organisation"), tco2, share],
                [[r["name"], r["value"], r["share"]] for r in data["by_organization"]])
    if chart == "top_sources":
        return (_("Largest sources"), [_("Organisation"), _("Process"), _("Material"), _("Category"), tco2, share],
                [[r["organization"], r["process"], r["material"], r["category"], r["value"], r["share"]]
                 for r in data["top_sources"]])
    if chart == "intensity_trend":
        return (_("Intensity by month"), [_("Month"), _("tCO2/t crude steel")],
                [[r["month"], r["value"]] for r in data["intensity_trend"]])
    raise KeyError(chart)


CHARTS = ("trend", "by_category", "by_process", "by_subprocess", "by_organization", "top_sources",
          "intensity_trend")
