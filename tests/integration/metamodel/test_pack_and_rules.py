"""Pack export/import round trip, a refused pack, and the DB → rules bridge on the demo year."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.metamodel.rules_inputs import rules_inputs
from orgcarbon.metamodel.versioned import AccountingModel, Factor
from orgcarbon.platform.extensions import db
from orgcarbon.rules import RecordRow, Records, compute
from orgcarbon.rules.accounting import AccountingContext
from tests.conftest import build_app, dispose, run_cli


def test_export_import_round_trip_into_an_empty_database(app: Flask, db_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = tmp_path / "pack.jsonl"
    assert run_cli(app, ["pack", "export", str(first)]).exit_code == 0
    assert run_cli(app, ["pack", "import", str(first)]).output.startswith("导入完成：没有新内容")
    url = db_factory.empty()
    other = build_app(url, tmp_path / "other")
    try:
        with other.app_context():
            from flask_migrate import upgrade

            from orgcarbon.platform.extensions import MIGRATIONS_DIR

            upgrade(directory=str(MIGRATIONS_DIR))
        result = run_cli(other, ["pack", "import", str(first)])
        assert result.exit_code == 0, result.output
        second = tmp_path / "again.jsonl"
        run_cli(other, ["pack", "export", str(second)])
        assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    finally:
        dispose(other)
        db_factory.drop(url)


def test_bad_pack_lists_file_line_reason_and_changes_nothing(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "material", "name": "氨", "category": "fuel", "unit": "t"}\n'
        '{"type": "factor", "code": "x/氨/of", "version": 1, "kind": "of", "material": "氨", "value": 93, '
        '"unit": "1", "regime": "测试", "grade": "C"}\n'
        "not json\n",
        encoding="utf-8",
    )
    result = run_cli(app, ["pack", "import", str(bad)])
    assert result.exit_code != 0
    assert f"{bad} 第 3 行：不是有效的 JSON" in result.output
    bad.write_text(bad.read_text(encoding="utf-8").replace("not json\n", ""), encoding="utf-8")
    result = run_cli(app, ["pack", "import", str(bad)])
    assert f"{bad} 第 2 行：value：碳氧化率应为 0 到 1 之间的小数" in result.output
    with app.app_context():
        from orgcarbon.metamodel.models import Material

        assert db.session.scalar(select(func.count()).select_from(Material).where(Material.name == "氨")) == 0


def test_demo_year_through_rules_matches_the_golden_total(app: Flask) -> None:
    with app.app_context():
        model = db.session.scalar(select(AccountingModel).where(AccountingModel.status == "published"))
        inputs = rules_inputs(db.session, model.id)
        rows = [
            RecordRow(category=a.category, material=a.material.name, quantity=a.quantity, unit=a.unit,
                      process=a.subprocess.main_process.name, subprocess=a.subprocess.name,
                      site=a.organization.name, month=a.month, purity=a.purity, row=i)
            for i, a in enumerate(db.session.scalars(select(ActivityRecord)), start=1)
        ]
        assert len(rows) == 240
        factors = db.session.scalar(select(func.count()).select_from(Factor))
        assert factors > 100
        result = compute(inputs.model, Records.from_rows(rows), inputs.library,
                         AccountingContext(year=2024, electricity_ef=0.5703))
    # The golden case's base variant (EF_grid 0.5703): 5,163,239.00 tCO2.
    assert abs(result.total_tco2 - 5_163_239.00) < 0.05
