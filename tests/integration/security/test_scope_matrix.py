"""Data scope on every endpoint: a user of 西区 gets nothing of 东区 and cannot write into it.

The endpoints are enumerated from ``app.url_map`` (``scope_plan``), so a new page or API that takes
an object id, or a new write, fails ``test_every_endpoint_is_placed`` until it has a case in
``scope_cases`` or a reviewed exemption. For each case the west user (every role but the
administrator's, scope 西区) asks for 东区's object — read, change, delete, export — and inserts or
moves rows into 东区: the answer must be a refusal without 东区's data, and nothing may be written
(database and instance files unchanged). Each case is also sent for 西区's own object, which must
work, so a refusal for the wrong reason cannot pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask_appbuilder import ModelView

from orgcarbon.platform.extensions import db
from tests.conftest import build_app, dispose
from tests.databases import DatabaseFactory
from tests.integration.security import scope_cases as cases
from tests.integration.security.scope_plan import Call, Plan, plan
from tests.integration.security.scope_probe import (
    Caller,
    alerts,
    changed,
    edit_values,
    is_refusal,
    leaks,
    shown_text,
    state,
)
from tests.integration.security.scope_world import EAST, World, build_world

# Cases that fail today in modules other engineers own: (endpoint, reason). Strict: fixing one
# makes the test fail until it is taken off this list.
KNOWN_HOLES: dict[str, str] = {}


@dataclass
class WorldDb:
    """The template database with the world built on it, and its instance folder."""

    url: str
    instance: Path
    world: World


@pytest.fixture(scope="module")
def world_db(db_factory: DatabaseFactory, template_database: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldDb]:
    url = db_factory.copy(template_database)
    instance = tmp_path_factory.mktemp("scope-world")
    app = build_app(url, instance)
    world = build_world(app)
    dispose(app)
    yield WorldDb(url, instance, world)
    db_factory.drop(url)


@pytest.fixture()
def world(world_db: WorldDb) -> World:
    return world_db.world


@pytest.fixture()
def app(world_db: WorldDb, db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Flask]:
    """The application on a private copy of the world (database and instance files)."""
    url = db_factory.copy(world_db.url)
    shutil.copytree(world_db.instance, tmp_path / "instance")
    application = build_app(url, tmp_path / "instance")
    yield application
    dispose(application)
    db_factory.drop(url)


@pytest.fixture()
def matrix(app: Flask, world: World) -> Plan:
    return plan(app, world)


def _hole(call: Call) -> str | None:
    return KNOWN_HOLES.get(call.endpoint)


def _report(problems: list[str], holes: set[str]) -> None:
    expected = {p for p in problems if p.split(" ", 1)[0] in holes}
    unexpected = [p for p in problems if p not in expected]
    fixed = sorted(h for h in holes if not any(p.startswith(h + " ") for p in problems))
    assert not fixed, f"known holes no longer fail, take them off KNOWN_HOLES: {fixed}"
    assert not unexpected, "\n".join(unexpected)


def _holes(calls: list[Call]) -> set[str]:
    return {c.endpoint for c in calls if _hole(c)}


def test_every_endpoint_is_placed(matrix: Plan, app: Flask) -> None:
    """Each endpoint with an object id or a write has a case or a reviewed exemption."""
    assert matrix.unplaced == []
    assert len(matrix.reads) > 60 and len(matrix.writes) > 60 and len(matrix.inserts) > 20
    assert len(matrix.moves) > 15 and len(matrix.lists) > 40
    for endpoint in KNOWN_HOLES:
        assert endpoint in app.view_functions, endpoint


# Report endpoints on objects of one organisation (reports, their files, activations): each must be
# sent for the other organisation's object or in its name, not only listed or exempted.
REPORT_READS = {"ReportsApi.get_report", "ReportsApi.get_file", "ReportsView.show", "ReportsView.status",
                "ReportsView.download"}
REPORT_INSERTS = {"ReportsApi.create", "ReportsView.request_page", "ReportTemplateApi.activate",
                  "ReportTemplatesView.activate_version"}


def test_report_endpoints_are_placed_as_scoped_or_shared(matrix: Plan, app: Flask) -> None:
    """Reports, report files and activations are organisation-scoped; templates and the catalogue shared."""
    def endpoints(calls: Iterable[Call]) -> set[str]:
        return {c.endpoint for c in calls}

    assert endpoints(c for c in matrix.reads if c.control) >= REPORT_READS
    assert endpoints(c for c in matrix.inserts if c.control) >= REPORT_INSERTS
    assert "ReportTemplatesView.remove_activation" in endpoints(matrix.writes)
    placed = endpoints(matrix.reads + matrix.writes + matrix.inserts + matrix.moves + matrix.lists)
    reports = {e for e in app.view_functions if e.startswith(("Report", "VariableCatalogueView."))}
    assert len(reports) >= 27 and reports - placed - set(matrix.exempt) == set()
    assert {e for e in reports if e in matrix.exempt} == {"ReportsApi.verify", "ReportsView.verify_page",
                                                          "ReportTemplateApi.create_version", "ReportTemplatesView.upload"}


def test_a_new_endpoint_with_an_object_id_fails_until_reviewed(app: Flask, world: World) -> None:
    """The enumeration is data-driven: a page added tomorrow with ``<int:...>`` is not silently skipped."""
    from flask_appbuilder import BaseView, expose, has_access

    class LaterView(BaseView):
        route_base = "/later"
        class_permission_name = "Results"

        @expose("/thing/<int:thing_id>", methods=["GET", "POST"])
        @has_access
        def thing(self, thing_id: int) -> str:
            return str(thing_id)

        @expose("/things", methods=["POST"])
        @has_access
        def things(self) -> str:
            return ""

    with app.app_context():
        app.appbuilder.add_view_no_menu(LaterView)  # type: ignore[attr-defined]
    unplaced = plan(app, world).unplaced
    assert any(p.startswith("LaterView.thing /later/thing/<int:thing_id>") for p in unplaced), unplaced
    assert any(p.startswith("LaterView.things /later/things") for p in unplaced), unplaced


@pytest.mark.slow
def test_objects_of_the_other_organisation_cannot_be_read(app: Flask, matrix: Plan) -> None:
    """Detail pages, JSON, downloads and exports of 东区's objects: refused, without its data."""
    caller, problems = Caller.west(app), []
    for call in matrix.reads:
        own = caller.send("GET", call.own_url or call.url)
        if own.status_code != 200:
            problems.append(f"{call.endpoint} own object not shown: GET {call.own_url} → {own.status_code}")
        answer = caller.send("GET", call.url)
        if not is_refusal(answer) or leaks(answer, call.endpoint):
            problems.append(f"{call.endpoint} GET {call.url} → {answer.status_code} {leaks(answer, call.endpoint)}")
    _report(problems, _holes(matrix.reads))


@pytest.mark.slow
def test_lists_exports_and_dashboards_hold_nothing_of_the_other_organisation(app: Flask, matrix: Plan,
                                                                             world: World) -> None:
    """Every read without an id, plain and with each organisation/object query argument of 东区."""
    caller, problems = Caller.west(app), []
    for call in matrix.lists:
        sep = "&" if "?" in call.url else "?"
        urls = [call.url] + [f"{call.url}{sep}{arg}={world.of(EAST, table)}" for arg, table in cases.PROBES.items()]
        for url in urls:
            answer = caller.send("GET", url)
            if answer.status_code >= 500 or leaks(answer, call.endpoint):
                problems.append(f"{call.endpoint} GET {url} → {answer.status_code} {leaks(answer, call.endpoint)}")
    _report(problems, _holes(matrix.lists))


def _write_refused(app: Flask, caller: Caller, call: Call, body: dict | None = None) -> str | None:
    before = state(app)
    answer = caller.send(call.method, call.url, body if body is not None else call.body)
    after = state(app)
    problems = []
    if answer.status_code >= 500:
        problems.append(f"server error {answer.status_code}")
    if found := leaks(answer, call.endpoint):
        problems.append(f"shows {found}")
    if diff := changed(before, after):
        problems.append(f"wrote {diff}")
    if problems:
        return f"{call.endpoint} {call.method} {call.url}: " + ", ".join(problems)
    return None


@pytest.mark.slow
def test_objects_of_the_other_organisation_cannot_be_changed(app: Flask, matrix: Plan) -> None:
    """Edit, delete, workflow steps, actions, uploads on 东区's objects: nothing is written."""
    caller = Caller.west(app)
    problems = [p for call in matrix.writes if (p := _write_refused(app, caller, call))]
    _report(problems, _holes(matrix.writes))


def _own_succeeds(app: Flask, caller: Caller, call: Call, body: dict | None) -> str | None:
    before = state(app)
    answer = caller.send(call.method, call.own_url or call.url, body)
    after = state(app)
    if answer.status_code >= 400 or not changed(before, after):
        shown = caller.send("GET", answer.headers["Location"]) if answer.status_code == 302 else answer
        return (f"{call.endpoint} {call.method} {call.own_url} (own organisation) → {answer.status_code}, "
                f"wrote {changed(before, after)}: {alerts(shown)}")
    return None


@pytest.mark.slow
def test_rows_cannot_be_inserted_into_the_other_organisation(app: Flask, matrix: Plan, world: World) -> None:
    """New rows naming 东区 (organisation, form, process...) are refused; the same for 西区 works."""
    caller, problems = Caller.west(app), []
    east_id = world.of(EAST, "mm_organization")
    # Writes on "everything in scope" (recalculation) last: they would change what the others find.
    for call in sorted(matrix.inserts, key=lambda c: (c.scoped_effect, c.late)):
        if call.scoped_effect:
            before = state(app, east_id)
            answer = caller.send(call.method, call.url, call.body)
            if answer.status_code >= 500 or changed(before, state(app, east_id)) or leaks(answer, call.endpoint):
                problems.append(f"{call.endpoint}: changed 东区's rows {changed(before, state(app, east_id))}")
            continue
        if problem := _write_refused(app, caller, call):
            problems.append(problem)
        if call.control and (problem := _own_succeeds(app, caller, call, call.own_body)):
            problems.append(problem)
    _report(problems, _holes(matrix.inserts))


def _page_body(app: Flask, call: Call, body: dict) -> dict:
    """A generated edit page posts every field: the row's own values, then the change."""
    view = app.view_functions[call.endpoint].__self__
    with app.app_context():
        item = db.session.get(view.datamodel.obj, int(call.url.rstrip("/").rsplit("/", 1)[-1]))
        return edit_values(view, item, list(view.edit_columns)) | body


@pytest.mark.slow
def test_own_rows_cannot_be_moved_into_the_other_organisation(app: Flask, matrix: Plan) -> None:
    """Changing an own row's organisation (or parent, form, process...) to 东区's is refused."""
    caller, problems = Caller.west(app), []
    for call in matrix.moves:
        generated = isinstance(app.view_functions[call.endpoint].__self__, ModelView)
        body = _page_body(app, call, call.body or {}) if generated else call.body
        own = _page_body(app, call, call.own_body or {}) if generated else call.own_body
        if problem := _write_refused(app, caller, call, body):
            problems.append(problem)
        answer = caller.send(call.method, call.own_url or call.url, own)
        if answer.status_code >= 400 or (answer.status_code == 200 and "alert-danger" in shown_text(answer)):
            problems.append(f"{call.endpoint} {call.method} {call.own_url} (own) → {answer.status_code}: "
                            f"{alerts(answer)}")
    _report(problems, _holes(matrix.moves))
