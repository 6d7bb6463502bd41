"""质量评分: the six dimensions of spec 6.2.3 on stored data, each drilling down to its records."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from orgcarbon.collection.models import ConnectorInstance
from orgcarbon.forms.models import FormDefinition, Submission
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingRow
from tests.conftest import login
from tests.integration.quality.helpers import Api, demo_row, org_id

COKE_MAY = "东区/炼铁/1#高炉/fuel_combustion/焦炭/2024-05"


def _scores(body: dict) -> dict[str, tuple]:
    return {name: (d["score"], d["checked"], d["passed"]) for name, d in body["dimensions"].items()}


def test_demo_year_scores_and_completeness_drops_when_a_month_is_deleted(app: Flask) -> None:
    """240 of 240 binding-months, then 239 with the deleted one listed as missing (API, page, drill-down)."""
    with app.app_context():
        group = org_id("华钢集团")
    api = Api(app, "modeller")
    full = api.get(f"scorecard?organization_id={group}&year=2024").get_json()["result"]
    assert full["rows"] == 240
    assert _scores(full) == {"completeness": (1.0, 240, 240), "accuracy": (1.0, 240, 240),
                             "consistency": (1.0, 240, 240), "timeliness": (None, 0, 0),
                             "accessibility": (1.0, 240, 240), "traceability": (1.0, 240, 240)}
    with app.app_context():
        db.session.delete(demo_row("焦炭", "2024-05", "1#高炉"))
        db.session.commit()
    gap = api.get(f"scorecard?organization_id={group}&year=2024").get_json()["result"]
    completeness = gap["dimensions"]["completeness"]
    assert (completeness["checked"], completeness["passed"], completeness["missing"]) == (240, 239, [COKE_MAY])
    assert completeness["score"] == 239 / 240
    may = next(c for c in gap["by_month"] if c["organization"] == "东区" and c["period"] == "2024-05")
    assert may["scores"]["completeness"] < 1.0
    month = api.get(f"scorecard?organization_id={group}&year=2024&month=5").get_json()["result"]
    assert month["dimensions"]["completeness"]["missing"] == [COKE_MAY] and month["rows"] == 19
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    page = client.get(f"/quality/scorecard?organization_id={group}&year=2024&dataset=activity")
    assert page.status_code == 200 and "99.6%" in page.get_data(as_text=True)
    drill = client.get(f"/quality/scorecard/drill?organization_id={group}&year=2024&dimension=completeness")
    assert COKE_MAY in drill.get_data(as_text=True)


def test_accuracy_and_timeliness_drill_down_to_the_records(app: Flask) -> None:
    """An NCV out of range lowers accuracy on its record; a form submitted after its due date is late."""
    with app.app_context():
        east = org_id("东区")
        form = db.session.scalar(select(FormDefinition).where(FormDefinition.code == "demo/东区/monthly"))
        late = Submission(form_id=form.id, organization_id=east, year=2024, period=5, status="approved",
                          submitted_at=dt.datetime(2024, 6, 12, 9, 0, tzinfo=dt.UTC))
        on_time = Submission(form_id=form.id, organization_id=east, year=2024, period=4, status="approved",
                             submitted_at=dt.datetime(2024, 5, 8, 9, 0, tzinfo=dt.UTC))
        db.session.add_all([late, on_time])
        db.session.flush()
        may, april = demo_row("焦炭", "2024-05"), demo_row("焦炭", "2024-04")
        may.source, may.submission_id, may.ncv = "form", late.id, 80.0
        april.source, april.submission_id = "form", on_time.id
        orphan = demo_row("焦炭", "2024-06")
        orphan.source = "form"  # claims a form but names no submission: not traceable
        db.session.commit()
        ids = {"may": may.id, "april": april.id, "orphan": orphan.id}
    body = Api(app, "modeller").get(f"scorecard?organization_id={east}&year=2024").get_json()["result"]
    dims = body["dimensions"]
    assert dims["accuracy"]["failing_rows"] == [ids["may"]] and dims["accuracy"]["passed"] == dims["accuracy"]["checked"] - 1
    assert (dims["timeliness"]["checked"], dims["timeliness"]["passed"]) == (2, 1)
    assert dims["timeliness"]["failing_rows"] == [ids["may"]]
    assert dims["traceability"]["failing_rows"] == [ids["orphan"]]
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    drill = client.get(f"/quality/scorecard/drill?organization_id={east}&year=2024&dimension=accuracy")
    html = drill.get_data(as_text=True)
    assert f"/quality/record/activity/{ids['may']}" in html and "ncv-solid-range" in html
    late_page = client.get(f"/quality/scorecard/drill?organization_id={east}&year=2024&dimension=timeliness")
    assert "2024-06-10 23:59" in late_page.get_data(as_text=True)


def test_staging_scorecard_uses_provenance(app: Flask) -> None:
    """Staging: late arrival, a failed connector and a missing reference each lower their dimension."""
    with app.app_context():
        east = org_id("东区")
        connector = ConnectorInstance(name="东区 MES", type="odata", organization_id=east, config={}, mapping={},
                                      enabled=True, last_status="failed")
        db.session.add(connector)
        db.session.flush()
        coke = demo_row("焦炭", "2024-05")

        def staged(quantity: float, received: dt.datetime, **extra: object) -> StagingRow:
            values = {"source": "api", "request_id": "req-7", **extra}
            row = StagingRow(batch_id="b-7", received_at=received, organization_id=east,
                             subprocess_id=coke.subprocess_id, material_id=coke.material_id,
                             category="fuel_combustion", month="2024-05", quantity=quantity, unit="t", **values)
            db.session.add(row)
            return row

        on_time = staged(1000.0, dt.datetime(2024, 6, 5, tzinfo=dt.UTC))
        late = staged(1100.0, dt.datetime(2024, 6, 20, tzinfo=dt.UTC))
        unreachable = staged(1200.0, dt.datetime(2024, 6, 1, tzinfo=dt.UTC), source="odata",
                             connector_id=connector.id, reference="MES#42")
        untraced = staged(1300.0, dt.datetime(2024, 6, 1, tzinfo=dt.UTC), request_id=None)
        db.session.commit()
        ids = {n: r.id for n, r in (("on_time", on_time), ("late", late), ("unreachable", unreachable),
                                    ("untraced", untraced))}
    body = Api(app, "modeller").get(f"scorecard?organization_id={east}&year=2024&month=5&dataset=staging")
    dims = body.get_json()["result"]["dimensions"]
    assert body.get_json()["result"]["rows"] == 4
    assert (dims["timeliness"]["checked"], dims["timeliness"]["failing_rows"]) == (4, [ids["late"]])
    assert dims["accessibility"]["failing_rows"] == [ids["unreachable"]]
    assert dims["traceability"]["failing_rows"] == [ids["untraced"]]
    assert (dims["completeness"]["checked"], dims["completeness"]["passed"]) == (1, 1)
