"""The same data gives the same results on SQLite and PostgreSQL (one database of each kind per run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.intensity import process_intensity
from orgcarbon.accounting.models import ResultLine
from orgcarbon.metamodel.models import Organization, Process, SubProcess
from orgcarbon.platform.extensions import db
from tests.conftest import backend, build_app, dispose, make_factory, run_cli
from tests.databases import DatabaseFactory

KINDS = ("sqlite", "postgresql")


def _account_demo(url: str, instance: Path) -> dict[str, Any]:
    """Account the demo group's 2024 (grid factor looked up, with its fallback); return every figure."""
    app = build_app(url, instance)
    try:
        with app.app_context():
            group = db.session.scalar(select(Organization.id).where(Organization.name == "华钢集团"))
            run = AccountOrganisation(db.session, group, 2024).run()
            query = (select(ResultLine, Organization.name, Process.name, SubProcess.name)
                     .join(Organization, ResultLine.organization_id == Organization.id)
                     .join(Process, ResultLine.process_id == Process.id)
                     .join(SubProcess, ResultLine.subprocess_id == SubProcess.id)
                     .where(ResultLine.run_id == run.id))
            lines = {(org, process, sub, line.month, line.category, line.material): (line.tco2, line.net_tco2)
                     for line, org, process, sub in db.session.execute(query)}
            return {
                "lines": lines, "count": run.line_count, "notes": run.notes,
                "totals": (run.total_tco2, run.direct_tco2, run.indirect_tco2), "by_category": run.by_category,
                "factors": run.factor_versions,
                "intensity": {(i["organization"], i["process"]): i["total_tco2_per_t"]
                              for i in process_intensity(db.session, run.id)},
            }
    finally:
        dispose(app)


def _close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_demo_year_gives_the_same_results_on_sqlite_and_postgresql(
    db_factory: DatabaseFactory, template_database: str, tmp_path: Path
) -> None:
    """Every result line (same keys, tCO2 within 1e-6 relative), the totals and the terms agree."""
    results: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        if kind == backend():  # this run's own backend: a copy of the session's migrated demo database
            factory, url = db_factory, db_factory.copy(template_database)
        else:  # the other one: a new database, migrated and loaded here (skips if its server is absent)
            factory = make_factory(kind, tmp_path / kind)
            (tmp_path / kind).mkdir(exist_ok=True)
            url = factory.empty()
            setup = build_app(url, tmp_path / f"{kind}-setup")
            for command in (["init"], ["demo"]):
                outcome = run_cli(setup, command)
                assert outcome.exit_code == 0, outcome.output
            dispose(setup)
        try:
            results[kind] = _account_demo(url, tmp_path / f"{kind}-instance")
        finally:
            factory.drop(url)

    lite, pg = results["sqlite"], results["postgresql"]
    assert lite["count"] == pg["count"] == len(lite["lines"]) == 240
    assert lite["lines"].keys() == pg["lines"].keys()
    for key, (tco2, net) in lite["lines"].items():
        assert _close(tco2, pg["lines"][key][0]) and _close(net, pg["lines"][key][1]), key
    assert all(_close(a, b) for a, b in zip(lite["totals"], pg["totals"], strict=True))
    assert lite["by_category"].keys() == pg["by_category"].keys()
    assert all(_close(v, pg["by_category"][k]) for k, v in lite["by_category"].items())
    assert lite["factors"] == pg["factors"] and lite["notes"] == pg["notes"]
    assert "沿用最近的 2023 年因子" in lite["notes"]
    assert lite["intensity"].keys() == pg["intensity"].keys() == {("东区", "转炉炼钢")}
    assert all(_close(v, pg["intensity"][k]) for k, v in lite["intensity"].items())
