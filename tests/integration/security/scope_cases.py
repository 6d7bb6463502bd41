"""What the scope matrix sends to each endpoint: ids of the other organisation, bodies, exemptions.

Every registered endpoint falls in exactly one of these groups, or the matrix test fails:

* **generated** — FAB ``ModelView`` / ``ModelRestApi`` on a model with an organisation column: the
  object ids, the move and the insert come from the model (``MODEL_INSERTS``, ``MODEL_MOVES``);
* ``ID_ARGS`` — hand-written pages and APIs that take an object id: how to fill the URL;
* ``INSERTS`` — writes without an id that name an organisation (body per organisation);
* ``SHARED_ID_ARGS`` — pages and APIs of shared objects (report templates) that take their id;
* ``UNSCOPED_MODELS`` / ``EXEMPT`` — reviewed: no organisation data, with the reason.

Endpoints without an id that only read are called as they are (and with ``PROBES``), and their
answer must not contain the other organisation's data.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.integration.security.scope_world import EAST, MONTH, YEAR, World

Body = dict[str, Any]

# Query arguments that name an organisation or an object, tried one at a time on every read.
PROBES: dict[str, str] = {
    "org_id": "mm_organization", "organization_id": "mm_organization", "a_org_id": "mm_organization",
    "b_org_id": "mm_organization", "installation_id": "mm_organization", "run_id": "ac_run", "run": "dq_run",
    "wi_run": "dq_run", "form": "fm_form", "connector_id": "cn_connector", "api_client_id": "cn_api_client",
}

# Models without an organisation: shared reference data or the security system itself.
UNSCOPED_MODELS: dict[str, str] = {
    "mm_unit": "units are shared reference data of every organisation",
    "mm_material": "materials are shared reference data of every organisation",
    "mm_factor": "the emission-factor library is shared by every organisation",
    "mm_formula": "formulas are shared by every organisation",
    "audit_entry": "the audit trail (area Audit: 审计员 and administrators) covers the whole installation",
    "ab_user": "FAB security pages: administrators only, who see every organisation",
    "ab_role": "FAB security pages: administrators only",
    "ab_permission": "FAB security pages: administrators only",
    "ab_view_menu": "FAB security pages: administrators only",
    "ab_permission_view": "FAB security pages: administrators only",
    "ab_group": "FAB security pages: administrators only",
}

# Endpoints reviewed and left out, with the reason (exact endpoint names or a prefix ending in ".").
EXEMPT: dict[str, str] = {
    "static": "static files", "appbuilder.static": "static files", "HomeView.index": "start page",
    "UtilView.back": "redirect back", "LocaleView.index": "language choice", "HealthView.health": "status only",
    "AuthDBView.": "login and logout", "SecurityApi.": "token login and refresh",
    "OpenApi.get": "the API description, no data", "SwaggerView.show": "the API description, no data",
    "MenuApi.get_menu_data": "the menu of the signed-in user",
    "collection_api.": "ingest API: each request is authenticated by its API client's SM2/SM4 envelope and bound "
                       "to the client's organisation (tests/integration/collection/test_api.py: "
                       "test_a_client_of_the_east_cannot_stage_for_the_west)",
    "UserView.": "FAB user administration: administrators only", "RoleModelView.": "administrators only",
    "PermissionModelView.": "administrators only", "ViewMenuModelView.": "administrators only",
    "PermissionViewModelView.": "administrators only", "UserGroupModelView.": "administrators only",
    "UserStatsChartView.": "administrators only", "UserApi.": "administrators only", "RoleApi.": "administrators only",
    "GroupApi.": "administrators only", "PermissionApi.": "administrators only",
    "ViewMenuApi.": "administrators only", "PermissionViewMenuApi.": "administrators only",
    "ResetPasswordView.": "administrators only", "IpAllowlistView.": "IP allowlists: administrators only",
    "ResetMyPasswordView.": "the signed-in user's own password", "UserInfoEditView.": "the signed-in user's own profile",
    "AuditEntryView.": "the audit trail (area Audit) covers the whole installation",
    "AuditEntryApi.": "the audit trail (area Audit) covers the whole installation",
    "LogView.": "日志管理 (area Audit): the installation's logs for its auditors",
}
# FAB's file-column download of every ModelView: no model has a file column and the folder it serves
# (instance/uploads) holds nothing; evidence and imports are served by their own scoped pages.
EXEMPT_SUFFIXES: dict[str, str] = {".download": "FAB file-column download, no file columns exist"}

# Reports: a report, its files and a template activation belong to an organisation (ID_ARGS and
# INSERTS below). Templates, their versions and the variable catalogue are shared by every
# organisation (like units and formulas): their pages are read as lists (SHARED_ID_ARGS) and must
# show nothing of the other organisation (e.g. its activations); uploading one names no organisation.
REPORT_VERIFY = ("verifies a report file the caller already holds: the answer repeats what the signed file "
                 "states (report, plant, year, signer) and links to the report only within the caller's "
                 "scope; writes nothing")
EXEMPT |= {
    "ReportsApi.verify": REPORT_VERIFY, "ReportsView.verify_page": REPORT_VERIFY,
    "ReportTemplateApi.create_version": "uploads a shared report template (no organisation); needs write on Reports",
    "ReportTemplatesView.upload": "uploads a shared report template (no organisation); needs write on Reports",
}

# Leak text an endpoint may show, with the reason: the regime settings a plant inherits from its
# company are one document for the company's installation, whose note names both plants.
ALLOWED_TEXT: dict[str, tuple[str, ...]] = {"RegimesApi.": ("东区",), "RegimesView.": ("东区",)}

# Values of URL arguments that are not object ids.
NON_ID_VALUES: dict[str, tuple[Any, ...]] = {"version": ("v1",)}


def non_id_values(endpoint: str, name: str) -> tuple[Any, ...] | None:
    """Values to try for a URL argument that is not an object id (None: unknown, review it)."""
    if name == "chart":
        from orgcarbon.analysis import intensity, params

        return intensity.CHARTS if "intensity" in endpoint else params.CHARTS
    return NON_ID_VALUES.get(name)


# ---- hand-written pages and APIs that take an object id ------------------------------------------

COMMENT: Body = {"comment": "跨组织操作", "reason": "跨组织操作", "note": "跨组织操作"}
SUB = {"submission_id": "fm_submission"}
RESTATEMENT = {"restatement_id": "ac_restatement"}
IMPORT = {"import_id": "fm_import"}
RULE = {"rule_id": "dq_rule"}

# endpoint → URL arguments: a world table (the object of the organisation under test) or a literal;
# a list gives several variants. Arguments of ``any(...)`` converters are expanded automatically.
ID_ARGS: dict[str, dict[str, Any] | list[dict[str, Any]]] = {
    "ResultsView.run_page": {"run_id": "ac_run"}, "ResultsApi.run": {"run_id": "ac_run"},
    "ResultsView.explain_page": {"line_id": "ac_result_line"}, "ResultsApi.explain": {"line_id": "ac_result_line"},
    "ResultsView.restatement_page": RESTATEMENT, "ResultsView.approve_page": RESTATEMENT,
    "ResultsView.reject_page": RESTATEMENT, "ResultsApi.restatement": RESTATEMENT,
    "ResultsApi.approve_restatement": RESTATEMENT, "ResultsApi.reject_restatement": RESTATEMENT,
    "FormsView.fill": {"form_id": "fm_form", "year": YEAR, "period": MONTH},
    "FormsView.save": {"form_id": "fm_form", "year": YEAR, "period": MONTH},
    "FormsView.submission": SUB, "FormsView.revise": SUB, "FormsView.comment": SUB, "ReviewView.decide": SUB,
    "FormsView.download": {"evidence_id": "fm_evidence"}, "FormsView.remove_file": {"evidence_id": "fm_evidence"},
    "ReviewView.decide_reopen": {"period_id": "fm_period"},
    "FormsApi.get_submission": SUB, "FormsApi.submit": SUB, "FormsApi.review": SUB, "FormsApi.approve": SUB,
    "FormsApi.reject": SUB, "FormsApi.comment": SUB, "FormsApi.revise": SUB,
    "FormImportView.excel_form": {"form_id": "fm_form"}, "FormImportView.excel_upload": {"form_id": "fm_form"},
    "FormImportView.template": {"form_id": "fm_form"},
    "FormImportView.import_page": IMPORT, "FormImportView.original": IMPORT, "FormImportView.report": IMPORT,
    "FormImportView.resume": IMPORT, "FormImportApi.get_import": IMPORT, "FormImportApi.resume_import": IMPORT,
    "QualityRulesView.rule_page": RULE, "QualityRulesView.rule_edit": RULE, "QualityRulesView.rule_publish": RULE,
    "QualityApi.rule": RULE, "QualityApi.update_rule": RULE, "QualityApi.publish": RULE,
    "QualityRunsView.run_page": {"run_id": "dq_run"}, "QualityRunsView.report_page": {"run_id": "dq_run"},
    "QualityRunsView.report_export": {"run_id": "dq_run"}, "QualityApi.run": {"run_id": "dq_run"},
    "QualityRunsView.record_page": [{"dataset": "staging", "record_id": "st_row"},
                                    {"dataset": "activity", "record_id": "mm_activity"}],
    "ConnectorView.edit": {"pk": "cn_connector"}, "ConnectorView.delete": {"pk": "cn_connector"},
    "ConnectorView.check": {"pk": "cn_connector"}, "ConnectorView.sync": {"pk": "cn_connector"},
    "ApiClientView.edit": {"pk": "cn_api_client"}, "InterfaceLogView.entry": {"pk": "cn_interface_log"},
    "ReportsApi.get_report": {"report_id": "rp_report"}, "ReportsApi.get_file": {"file_id": "rp_report_file"},
    "ReportsView.show": {"report_id": "rp_report"}, "ReportsView.status": {"report_id": "rp_report"},
    "ReportsView.download": {"file_id": "rp_report_file"},
    "ReportTemplatesView.remove_activation": {"activation_id": "rp_activation"},
}

# Pages and APIs of shared objects that take their id: endpoint → URL arguments from
# ``world.ids["shared"]``. Reads are sent as lists (no refusal expected, no leak allowed); writes
# need an INSERTS entry naming the organisation they act for.
SHARED_ID_ARGS: dict[str, dict[str, str]] = {
    "ReportTemplateApi.get_template": {"template_id": "rp_template"},
    "ReportTemplateApi.get_file": {"version_id": "rp_template_version"},
    "ReportTemplateApi.get_preview": {"version_id": "rp_template_version"},
    "ReportTemplateApi.activate": {"version_id": "rp_template_version"},
    "ReportTemplatesView.template_page": {"template_id": "rp_template"},
    "ReportTemplatesView.version_file": {"version_id": "rp_template_version"},
    "ReportTemplatesView.preview": {"version_id": "rp_template_version"},
    "ReportTemplatesView.activate_version": {"template_id": "rp_template"},
}


def xlsx_upload(mark: str) -> Body:
    """A multipart body with a small workbook under ``file``."""
    from openpyxl import Workbook

    buffer = io.BytesIO()
    book = Workbook()
    book.active.append([mark])
    book.save(buffer)
    return {"file": (io.BytesIO(buffer.getvalue()), f"{mark}.xlsx")}


# Bodies of the writes above (page forms, or JSON under /api/); default: COMMENT.
ID_BODIES: dict[str, Callable[[], Body]] = {
    "FormsView.save": lambda: {"action": "submit", **COMMENT},
    "FormImportView.excel_upload": lambda: xlsx_upload("跨组织导入"),
    "QualityApi.update_rule": lambda: rule_body("cross-org-update", None),
    "QualityRulesView.rule_edit": lambda: rule_form("cross-org-update", ""),
}


def rule_body(code: str, org_id: int | None) -> Body:
    """A valid quality rule (JSON API)."""
    return {"id": code, "name": "跨组织规则", "kind": "validation", "action": "flag", "severity": "warning",
            "scope": {"materials": ["焦炭"]}, "condition": "ncv > high", "params": {"high": 40},
            "message": "{material} {ncv}", "order": 500, "organization_id": org_id,
            "tests": [{"name": "45 报出", "rows": [{"row_id": 1, "material": "焦炭", "quantity": 10, "unit": "t",
                                                  "ncv": 45}], "expect_findings": [1]}]}


def rule_form(code: str, org_id: int | str) -> Body:
    """The same rule as the editor page posts it."""
    body = rule_body(code, None)
    form = {k: body[k] for k in ("name", "kind", "action", "severity", "condition", "message")}
    return {**form, "code": code, "organization_id": str(org_id), "level": "record", "order": "500", "enabled": "y",
            "scope": json.dumps(body["scope"]), "params": json.dumps(body["params"]),
            "tests": json.dumps(body["tests"], ensure_ascii=False), "note": "跨组织"}


# ---- writes without an id that name an organisation ----------------------------------------------

@dataclass(frozen=True)
class Insert:
    """A write naming organisation ``org``; ``control`` also sends it for the user's own one."""

    body: Callable[[World, str], Body]
    query: Callable[[World, str], str] = lambda world, org: ""
    control: bool = True
    # Writes that act on "everything in scope" (recalculation): the other organisation's rows stay.
    scoped_effect: bool = False
    # Sent after the others: a new accounting run makes the restatement requests find nothing to restate.
    late: bool = False


def _tag(org: str, variant: str = "") -> str:
    """A short name part per organisation that is not the organisation's name (that is leak text)."""
    return ("e" if org == EAST else "w") + variant


def connector_form(world: World, org: str, name: str = "跨组织连接器") -> Body:
    """The connector page's form for an OData connector of ``org``."""
    from tests.integration.security.scope_world import ODATA

    mapping = {"fields": {"organization": {"value": "x"}, "sub_process": {"field": "Plant"},
                          "material": {"field": "Product"}, "quantity": {"field": "GrossWeight"},
                          "unit": {"field": "WeightUnit"}, "time": {"field": "LastChangeDate"}}}
    return {"type": "odata", "name": name, "organization_id": str(world.of(org, "mm_organization")),
            "enabled": "1", "cfg.service_url": ODATA, "cfg.entity_set": "A_Product", "cfg.page_size": "500",
            "cfg.watermark_field": "LastChangeDate",
            "mapping": json.dumps(mapping)}


def client_form(world: World, org: str, client_id: str = "cross-org-client") -> Body:
    """The API client page's form."""
    return {"client_id": client_id, "name": "跨组织客户端", "organization_id": str(world.of(org, "mm_organization")),
            "hmac": "1", "enabled": "1"}


def _org(world: World, org: str) -> int:
    return world.of(org, "mm_organization")


INSERTS: dict[str, Insert | list[Insert]] = {
    "ResultsApi.start": Insert(lambda w, o: {"organization_id": _org(w, o), "year": YEAR, "electricity_ef": 0.5703},
                               late=True),
    "ResultsView.start_page": Insert(lambda w, o: {"organization_id": str(_org(w, o)), "year": str(YEAR),
                                                   "electricity_ef": "0.5703"}, late=True),
    "ResultsApi.request_restatement": [
        Insert(lambda w, o: {"factor_id": w.of(o, "mm_factor_restated"), "policy": "restate"}),
        Insert(lambda w, o: {"factor_id": w.of(o, "mm_factor_restated"), "policy": "freeze"}, control=False,
               scoped_effect=True)],
    "ResultsView.request_page": [
        Insert(lambda w, o: {"factor_id": w.of(o, "mm_factor_restated"), "policy": "restate"}),
        Insert(lambda w, o: {"factor_id": w.of(o, "mm_factor_restated"), "policy": "freeze"}, control=False,
               scoped_effect=True)],
    "ResultsApi.recalc": Insert(lambda w, o: {}, control=False, scoped_effect=True),
    "ResultsView.recalc_page": Insert(lambda w, o: {}, control=False, scoped_effect=True),
    "FormsApi.put_submission": Insert(lambda w, o: {"form_id": w.of(o, "fm_form"), "organization_id": _org(w, o),
                                                    "year": YEAR, "period": MONTH + 2, "values": {}}),
    "FormsApi.validate": Insert(lambda w, o: {"field_id": w.of(o, "fm_form_field"), "value": "1"}, control=False),
    "FormImportView.package_upload": Insert(lambda w, o: {"organization_id": str(_org(w, o)),
                                                          **xlsx_upload("跨组织数据包")}),
    "FormsView.request_reopen": Insert(lambda w, o: {"organization_id": str(_org(w, o)), "year": YEAR - 1,
                                                     "month": 11, "reason": "跨组织"}, control=False),
    "ReviewView.close": Insert(lambda w, o: {"organization_id": str(_org(w, o)), "year": YEAR, "month": 7}),
    "QualityApi.create_rule": Insert(lambda w, o: rule_body(f"cross-api-{_tag(o)}", _org(w, o))),
    "QualityRulesView.rule_new": Insert(lambda w, o: rule_form(f"cross-page-{_tag(o)}", _org(w, o))),
    "QualityApi.start_run": Insert(lambda w, o: {"organization_id": _org(w, o), "year": YEAR, "month": MONTH}),
    "QualityRunsView.run_start": Insert(lambda w, o: {"organization_id": str(_org(w, o)), "year": str(YEAR),
                                                      "month": str(MONTH), "dataset": "activity"}),
    "RegimesApi.put_settings": Insert(lambda w, o: {}, lambda w, o: f"org_id={_org(w, o)}", control=False),
    "RegimesView.save_settings": Insert(lambda w, o: {"document": "{}"}, lambda w, o: f"org_id={_org(w, o)}",
                                        control=False),
    "ConnectorView.add": Insert(lambda w, o: connector_form(w, o), lambda w, o: "type=odata"),
    "ApiClientView.add": Insert(lambda w, o: client_form(w, o)),
    # A report of the organisation's run (kind "tables": the world's activations are of "report").
    "ReportsApi.create": Insert(lambda w, o: {"run_id": w.of(o, "ac_run"), "kind": "tables", "pdf": False}),
    "ReportsView.request_page": Insert(lambda w, o: {"run_id": str(w.of(o, "ac_run")), "kind": "tables"}),
    "ReportTemplateApi.activate": Insert(lambda w, o: {"organization_id": _org(w, o)}),
    "ReportTemplatesView.activate_version": Insert(lambda w, o: {
        "version_id": str(w.ids["shared"]["rp_template_version"]), "organization_id": str(_org(w, o))}),
    "AnalysisApi.whatif": Insert(lambda w, o: {"year": YEAR, "org_id": _org(w, o),
                                               "changes": [{"material": "焦炭", "ef_scale": 1.1}]}, control=False),
}

# ---- generated views and APIs: inserts and moves per model ---------------------------------------


def _diesel(world: World, org: str) -> int:
    return world.ids["shared"]["diesel"]


# table → the fields of a new row of ``org`` (API JSON; pages post the same as form fields); the
# third argument ("api" or "page") keeps the two new rows apart (unique names, codes, memberships).
MODEL_INSERTS: dict[str, Callable[[World, str, str], Body]] = {
    "mm_organization": lambda w, o, v: {"name": f"新厂区{_tag(o, v)}", "level": "厂区", "parent": _org(w, o)},
    "mm_user_organization": lambda w, o, v: {"user": w.ids["shared"]["reviewer" if v == "api" else "approver"],
                                           "organization": _org(w, o)},
    "mm_process": lambda w, o, v: {"name": f"新工序{_tag(o, v)}", "organization": _org(w, o), "status": "active"},
    "mm_subprocess": lambda w, o, v: {"name": f"新子工序{_tag(o, v)}", "main_process": w.of(o, "mm_process"),
                                   "status": "active"},
    "mm_binding": lambda w, o, v: {"code": f"cross/{_tag(o, v)}", "subprocess": w.of(o, "mm_subprocess"),
                                "material": _diesel(w, o), "direction": "in", "category": "fuel_combustion",
                                "formula": w.ids["shared"]["formula"]},
    "mm_accounting_model": lambda w, o, v: {"name": f"新模型{_tag(o, v)}", "standard": "GB/T 32151.5", "regime": "gbt",
                                         "organization": _org(w, o)},
    "mm_activity": lambda w, o, v: {"subprocess": w.of(o, "mm_subprocess"), "material": _diesel(w, o),
                                 "category": "fuel_combustion", "month": "2024-07", "quantity": 1.0, "unit": "t"},
    "an_benchmark": lambda w, o, v: {"name": f"新标杆{_tag(o, v)}", "organization": _org(w, o), "product": "粗钢", "value": 1.2,
                                  "unit": "tCO2/t", "scope": "total", "source": "跨组织"},
    "fm_form": lambda w, o, v: {"code": f"cross-{_tag(o, v)}", "name": "跨组织表单", "organization": _org(w, o),
                             "granularity": "month", "review_steps": 2, "due_day": 10, "active": True},
    "fm_form_section": lambda w, o, v: {"form": w.of(o, "fm_form"), "name": "跨组织分组", "order": 99},
    "fm_form_field": lambda w, o, v: {"form": w.of(o, "fm_form"), "section": w.of(o, "fm_form_section"),
                                   "binding": w.of(o, "mm_binding_published"), "code": f"cross{_tag(o, v)}",
                                   "label": "跨组织字段", "parameter": "quantity", "data_type": "number", "order": 99},
}
# table → the fields that move an own row into ``org`` (one variant per entry).
MODEL_MOVES: dict[str, list[Callable[[World, str], Body]]] = {
    # The own control keeps the parent (a plant's user may not write the company above it).
    "mm_organization": [lambda w, o: {"parent": _org(w, o) if o == EAST else w.ids["shared"]["company"]}],
    "mm_user_organization": [lambda w, o: {"organization": _org(w, o)}],
    "mm_process": [lambda w, o: {"organization": _org(w, o)}],
    "mm_subprocess": [lambda w, o: {"main_process": w.of(o, "mm_process")}],
    "mm_binding": [lambda w, o: {"subprocess": w.of(o, "mm_subprocess")}],
    "mm_accounting_model": [lambda w, o: {"organization": _org(w, o)},
                            lambda w, o: {"bindings": [w.of(o, "mm_binding")]}],
    "mm_activity": [lambda w, o: {"subprocess": w.of(o, "mm_subprocess")}],
    "an_benchmark": [lambda w, o: {"organization": _org(w, o)}],
    "fm_form": [lambda w, o: {"organization": _org(w, o)}],
    "fm_form_section": [lambda w, o: {"form": w.of(o, "fm_form")}],
    "fm_form_field": [lambda w, o: {"section": w.of(o, "fm_form_section")},
                      lambda w, o: {"binding": w.of(o, "mm_binding_published")}],
}
# Custom pages and APIs that change an existing own object: the body that moves it into ``org``.
CUSTOM_MOVES: dict[str, tuple[str, Callable[[World, str], Body]]] = {
    "ConnectorView.edit": ("cn_connector", lambda w, o: connector_form(w, o, "WESTSECRET连接器")),
    "ApiClientView.edit": ("cn_api_client", lambda w, o: client_form(w, o)),
    "QualityApi.update_rule": ("dq_rule", lambda w, o: rule_body("westsecret-rule", _org(w, o))),
    "QualityRulesView.rule_edit": ("dq_rule", lambda w, o: rule_form("westsecret-rule", _org(w, o))),
}
