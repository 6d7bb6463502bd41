"""Two sibling plants with one object of every organisation-scoped kind each, for the scope matrix.

``build_world`` gives 东区 (the other organisation, B) and 西区 (the user's own, A) the same set of
objects, made through the modules' own services: a process, sub-process, draft binding and model,
a benchmark, a form with a submitted submission, evidence file, a period waiting to be reopened and
a rejected Excel import, an accounting run with its lines and a pending restatement, a quality rule,
dry run and staging row, a connector, an API client and an interface-log entry, a rendered report
with its signed file and an activation of the one shared report template. Every object of B
carries ``MARKS["东区"]`` where it has text, so a page, JSON answer or export that leaks it is found.

The user ``west`` holds every non-administrator role and belongs to 西区 only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.platform.extensions import db

EAST, WEST = "东区", "西区"
MARKS = {EAST: "EASTSECRET", WEST: "WESTSECRET"}
# Text that only objects of 东区 carry: the marker, demo names of 东区's sub-processes, its name.
EAST_TEXT = (MARKS[EAST], "1#高炉", "干熄焦", EAST)
WEST_USER = ("west", "Demo-west-1")
WEST_ROLES = ("建模管理员", "数据填报员", "数据审核员", "报告顾问", "审计员")
YEAR, MONTH = 2024, 3
# A material of each plant's own demo data: its NCV gets a new version, so each plant's run is stale.
RESTATED_MATERIAL = {EAST: "焦炭", WEST: "天然气"}
ODATA = "http://127.0.0.1:9/sap/opu/odata/sap/API_PRODUCT_SRV"


@dataclass
class World:
    """Object ids by table name, per organisation name; the west user's id."""

    ids: dict[str, dict[str, int]] = field(default_factory=dict)
    west_user_id: int = 0

    def of(self, org: str, table: str) -> int:
        """The id of ``org``'s object of ``table``."""
        return self.ids[org][table]


def _org(session: Session, name: str) -> Any:
    from orgcarbon.metamodel.models import Organization

    return session.execute(select(Organization).where(Organization.name == name)).scalar_one()


def _user(session: Session, name: str) -> Any:
    from flask_appbuilder.security.sqla.models import User

    return session.execute(select(User).where(User.username == name)).scalar_one()


def _metamodel(session: Session, org: Any, mark: str) -> dict[str, int]:
    from orgcarbon.analysis.models import Benchmark
    from orgcarbon.metamodel.models import (
        ActivityRecord,
        Material,
        Process,
        SubProcess,
        UserOrganization,
    )
    from orgcarbon.metamodel.versioned import AccountingModel, Binding, Formula

    process = Process(organization=org, name=f"{mark}工序", status="active", description=mark)
    sub = SubProcess(main_process=process, organization=org, name=f"{mark}子工序", status="active")
    diesel = session.execute(select(Material).where(Material.name == "柴油")).scalar_one()
    formula = session.execute(select(Formula).where(Formula.name == "gbt32151.5/燃料燃烧",
                                                    Formula.status == "published")).scalar_one()
    binding = Binding(code=f"{mark}/binding", organization=org, subprocess=sub, material=diesel, direction="in",
                      category="fuel_combustion", formula=formula)
    model = AccountingModel(name=f"{mark}模型", standard="GB/T 32151.5", regime="gbt32151", organization=org,
                            description=mark, bindings=[binding])
    benchmark = Benchmark(name=f"{mark}标杆", organization=org, value=1.5, source=mark)
    session.add_all([process, sub, binding, model, benchmark])
    session.flush()
    activity = session.scalars(select(ActivityRecord.id).where(ActivityRecord.organization_id == org.id)
                               .order_by(ActivityRecord.id)).first()
    published = session.scalars(select(Binding.id).where(Binding.organization_id == org.id,
                                                         Binding.status == "published").order_by(Binding.id)).first()
    membership = session.scalars(select(UserOrganization.id).where(UserOrganization.organization_id == org.id)
                                 .order_by(UserOrganization.id)).first()
    return {"mm_organization": org.id, "mm_process": process.id, "mm_subprocess": sub.id, "mm_binding": binding.id,
            "mm_accounting_model": model.id, "an_benchmark": benchmark.id, "mm_activity": activity,
            "mm_binding_published": published,
            "mm_user_organization": membership}


def _forms(session: Session, app: Flask, org: Any, mark: str, admin: Any) -> dict[str, int]:
    """The plant's demo form renamed with the mark; a submitted submission with evidence; a period."""
    from orgcarbon.forms import periods, service
    from orgcarbon.forms.evidence import add_evidence
    from orgcarbon.forms.models import FormDefinition

    form = session.execute(select(FormDefinition).where(FormDefinition.organization_id == org.id)).scalar_one()
    form.name = f"{form.name} {mark}"
    form.sections[0].name = f"{form.sections[0].name} {mark}"
    draft = service.get_or_create_draft(session, form, org.id, YEAR, MONTH, admin)
    values = {f.id: "100" for f in form.fields if f.required}
    service.save_draft(session, draft, values, admin)
    evidence = add_evidence(session, app.instance_path, draft, f"{mark}.txt", f"{mark} 化验单".encode(), admin)
    service.add_comment(session, draft, admin, f"{mark} 备注")
    service.submit(session, draft, admin)
    period = periods.close_period(session, org.id, YEAR - 1, 12, admin)
    periods.request_reopen(session, period, admin, f"{mark} 更正")
    session.flush()
    return {"fm_form": form.id, "fm_form_section": form.sections[0].id, "fm_form_field": form.fields[0].id,
            "fm_submission": draft.id, "fm_evidence": evidence.id, "fm_period": period.id}


def _import(session: Session, app: Flask, org_id: int, mark: str, admin: Any) -> dict[str, int]:
    """A rejected Excel import (one value is text): its original and annotated workbook are kept."""
    from openpyxl import load_workbook

    from orgcarbon.forms import imports
    from orgcarbon.forms.excel import DATA_SHEET, HEADER_ROWS
    from orgcarbon.forms.models import FormDefinition

    form = session.execute(select(FormDefinition).where(FormDefinition.organization_id == org_id)).scalar_one()
    workbook = load_workbook(io.BytesIO(imports.template_for(session, form, YEAR, [MONTH + 1])))
    workbook[DATA_SHEET].cell(row=HEADER_ROWS + 1, column=8, value=f"{mark}-不是数字")
    buffer = io.BytesIO()
    workbook.save(buffer)
    batch = imports.receive(session, app.instance_path, kind="excel", filename=f"{mark}.xlsx",
                            content=buffer.getvalue(), organization_id=org_id, user=admin, form=form)
    done = imports.run_import(session, app.instance_path, batch.id)
    assert done is not None and done.status == "rejected" and done.report_path, (done and done.message)
    return {"fm_import": batch.id}


def _accounting(session: Session, orgs: dict[str, Any], admin: Any) -> dict[str, dict[str, int]]:
    """A run per plant; a new NCV of a material only that plant uses; a pending restatement each."""
    from orgcarbon.accounting import restatement
    from orgcarbon.accounting.command import AccountOrganisation
    from orgcarbon.accounting.models import ResultLine
    from orgcarbon.metamodel.models import Material
    from orgcarbon.metamodel.versioned import Factor
    from orgcarbon.metamodel.versioning import new_version, publish
    from orgcarbon.security.scope import OrgScope

    found: dict[str, dict[str, int]] = {}
    for name, org in orgs.items():
        run = AccountOrganisation(session, org.id, YEAR, electricity_ef=0.5703).run()
        line = session.scalars(select(ResultLine.id).where(ResultLine.run_id == run.id).order_by(ResultLine.id)).first()
        found[name] = {"ac_run": run.id, "ac_result_line": line}
    for name, org in orgs.items():
        material = session.execute(select(Material.id).where(Material.name == RESTATED_MATERIAL[name])).scalar_one()
        factor = session.execute(select(Factor).where(Factor.material_id == material, Factor.kind == "ncv",
                                                      Factor.status == "published")).scalar_one()
        draft = new_version(factor, session)
        draft.value = factor.value * 1.01
        publish(draft, session)
        session.commit()
        only = OrgScope(frozenset({org.id}), frozenset({org.id}))
        made = restatement.request_restatement(session, draft, admin, only, f"{MARKS[name]} 重述")
        session.commit()
        found[name] |= {"ac_restatement": made.id, "mm_factor_restated": draft.id}
    return found


def _quality(session: Session, org_id: int, mark: str, admin: Any) -> dict[str, int]:
    from orgcarbon.metamodel.models import ActivityRecord
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.rules_store import save_rule
    from orgcarbon.quality.tasks import start_dry_run
    from orgcarbon.security.scope import EVERYTHING

    rule = save_rule(session, {
        "id": f"{mark.lower()}-rule", "name": f"{mark} 焦炭热值过高", "kind": "validation", "action": "flag",
        "severity": "warning", "scope": {"materials": ["焦炭"]}, "condition": "ncv > high", "params": {"high": 40},
        "message": "{material}的低位发热量 {ncv} 高于 {high}", "order": 500,
        "tests": [{"name": "45 报出", "rows": [{"row_id": 1, "material": "焦炭", "quantity": 10, "unit": "t", "ncv": 45}],
                   "expect_findings": [1]}],
    }, admin, EVERYTHING, None, org_id, mark)
    session.commit()
    row = session.execute(select(ActivityRecord).where(ActivityRecord.organization_id == org_id)
                          .order_by(ActivityRecord.id)).scalars().first()
    staged = StagingRow(source="api", batch_id=f"{mark}-batch", reference=f"{mark}#1", record_key=f"{mark}-1",
                        row=1, organization_id=org_id, subprocess_id=row.subprocess_id, material_id=row.material_id,
                        category=row.category, month=f"{YEAR}-{MONTH:02d}", quantity=1.0, unit=row.unit,
                        tags=mark, status="new")
    session.add(staged)
    session.commit()
    run_id = start_dry_run(session, org_id, YEAR, MONTH, "activity", admin)
    return {"dq_rule": rule.id, "dq_run": run_id, "st_row": staged.id}


def _collection(session: Session, org_id: int, mark: str) -> dict[str, int]:
    from orgcarbon.collection.keys import seal_client_secret
    from orgcarbon.collection.models import ApiClient, ConnectorInstance, InterfaceLog
    from orgcarbon.collection.store import write_log

    mapping = {"fields": {"organization": {"value": str(org_id)}, "sub_process": {"field": "Plant"},
                          "material": {"field": "Product"}, "quantity": {"field": "GrossWeight"},
                          "unit": {"field": "WeightUnit"}, "time": {"field": "LastChangeDate"}}}
    connector = ConnectorInstance(name=f"{mark}连接器", type="odata", organization_id=org_id, mapping=mapping,
                                  config={"service_url": ODATA, "entity_set": "A_Product", "page_size": 500},
                                  enabled=True, note=mark)
    client = ApiClient(client_id=f"{mark.lower()}-client", name=f"{mark}客户端", organization_id=org_id,
                       hmac_secret=seal_client_secret(f"{mark}-hmac-secret-value"), enabled=True)
    session.add_all([connector, client])
    session.flush()
    write_log(session, kind="push", api_client_id=client.id, organization_id=org_id, status="refused",
              request_path=f"/api/v1/ingest/activity?{mark}", error=f"{mark} 签名错误", details={"mark": mark})
    session.commit()
    log = session.scalar(select(func.max(InterfaceLog.id)).where(InterfaceLog.organization_id == org_id))
    return {"cn_connector": connector.id, "cn_api_client": client.id, "cn_interface_log": log}


def _reports(session: Session, app: Flask, orgs: dict[str, Any], runs: dict[str, int], admin: Any
             ) -> dict[str, dict[str, int]]:
    """A shared, checked template activated at each plant; a rendered report of each plant's run."""
    from orgcarbon.accounting.models import AccountingRun
    from orgcarbon.reports import templates_service
    from orgcarbon.reports.models import Report, TemplateActivation
    from orgcarbon.reports.tasks import start_report
    from tests.integration.reports.template_files import good_docx

    version = templates_service.upload_version(
        session, app.instance_path, name="范围矩阵共用模板", authority=None, standard=None, kind="report",
        filename="shared.docx", content=good_docx(), user=admin)
    assert version.status == "checked", version.check_result
    found: dict[str, dict[str, int]] = {"shared": {"rp_template": version.template_id,
                                                   "rp_template_version": version.id}}
    for name, org in orgs.items():
        activation: TemplateActivation = templates_service.activate(session, version, org.id, admin)
        session.commit()
        report_id = start_report(session, session.get(AccountingRun, runs[name]), admin, kind="report",
                                 want_pdf=False)
        session.expire_all()
        report = session.get(Report, report_id)
        assert report is not None and report.status == "done" and report.files, report and report.message
        found[name] = {"rp_activation": activation.id, "rp_report": report.id, "rp_report_file": report.files[0].id}
    return found


def _west_user(session: Session, app: Flask, west_id: int) -> int:
    from orgcarbon.metamodel.models import UserOrganization

    sm = app.appbuilder.sm  # type: ignore[attr-defined]
    roles = [sm.find_role(name) for name in WEST_ROLES]
    user = sm.add_user(WEST_USER[0], "西", "全角色", "west@example.invalid", roles, password=WEST_USER[1])
    assert user, "west user not created"
    session.add(UserOrganization(user_id=user.id, organization_id=west_id))
    session.commit()
    return int(user.id)


def _shared(session: Session) -> dict[str, int]:
    """Ids of shared reference rows the bodies of the matrix need."""
    from orgcarbon.metamodel.models import Material
    from orgcarbon.metamodel.versioned import Formula

    diesel = session.execute(select(Material.id).where(Material.name == "柴油")).scalar_one()
    formula = session.execute(select(Formula.id).where(Formula.name == "gbt32151.5/燃料燃烧",
                                                       Formula.status == "published")).scalar_one()
    return {"diesel": diesel, "formula": formula, "company": _org(session, "华钢钢铁股份有限公司").id,
            "reviewer": _user(session, "reviewer").id, "approver": _user(session, "approver").id}


def build_world(app: Flask) -> World:
    """Create the objects of both plants and the west user (committed); returns their ids."""
    from orgcarbon.security.audit import acting_as

    world = World()
    with app.app_context(), acting_as("test:scope-world"):
        session = db.session
        admin = _user(session, "admin")
        orgs = {name: _org(session, name) for name in (EAST, WEST)}
        for name, org in orgs.items():
            mark = MARKS[name]
            world.ids[name] = _metamodel(session, org, mark) | _forms(session, app, org, mark, admin)
            session.commit()
        for name, found in _accounting(session, orgs, admin).items():
            world.ids[name] |= found
        for name, org in orgs.items():
            mark = MARKS[name]
            world.ids[name] |= _import(session, app, org.id, mark, admin)
            world.ids[name] |= _quality(session, org.id, mark, admin)
            world.ids[name] |= _collection(session, org.id, mark)
        reports = _reports(session, app, orgs, {n: world.of(n, "ac_run") for n in orgs}, admin)
        for name in orgs:
            world.ids[name] |= reports[name]
        world.west_user_id = _west_user(session, app, orgs[WEST].id)
        world.ids["shared"] = _shared(session) | reports["shared"]
        session.commit()
    return world
