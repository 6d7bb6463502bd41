"""Benchmark: import a 100,000-row filled Excel template; generate a 500-field template.

Shape of the import: one form of 10,000 fields (a group-level monthly report: quantities and
measured parameters of many sub-processes; every 50th field a choice, every 10th a bounded NCV)
filled for 10 months (January–October, a template of chosen periods) = 100,000 rows of 填报数据,
every cell valid. The file is kept, every row validated with the form's field rules and written as
10 drafts in one transaction, into a throw-away SQLite database (``--postgresql`` adds a run on
the PostgreSQL server of ``ORGCARBON_DATABASE_URL``). The template is a 500-field monthly form for
12 months (6,000 rows). Prints a readable summary and, as the last line, one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIELDS, MONTHS, YEAR = 10_000, 10, 2025
TEMPLATE_FIELDS = 500
SECRETS = {"SECRET_KEY": "benchmark-only-secret", "DATA_KEY": "00112233445566778899aabbccddeeff"}


def build_app(database_url: str, instance: Path) -> Any:
    """A migrated, initialised app on ``database_url`` (no demo data)."""
    from orgcarbon.platform.app import create_app
    from orgcarbon.platform.cli import cli

    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "REDIS_URL": None,
                      "ADMIN_PASSWORD": "Bench-admin-1", "LOG_LEVEL": "WARNING", **SECRETS})
    result = app.test_cli_runner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    return app


def make_form(session: Any, org_id: int, code: str, fields: int) -> Any:
    """A monthly form with ``fields`` fields, inserted in bulk (set-up, not timed)."""
    from orgcarbon.forms.models import FormDefinition, FormField, FormSection

    form = FormDefinition(code=code, name=f"基准月报（{fields} 个字段）", organization_id=org_id, granularity="month")
    section = FormSection(form=form, organization_id=org_id, name="全部", order=1)
    session.add_all([form, section])
    session.flush()
    rows = []
    for i in range(1, fields + 1):
        choice, ncv = i % 50 == 0, i % 10 == 0 and i % 50 != 0
        rows.append({
            "form_id": form.id, "section_id": section.id, "organization_id": org_id, "code": f"f{i:05d}",
            "label": f"{i // 40 + 1}#子工序 物料{i % 40 + 1} {'是否计量' if choice else '低位发热量' if ncv else '消耗量'}",
            "parameter": "note" if choice else "ncv" if ncv else "quantity",
            "data_type": "choice" if choice else "number", "choices": "是,否" if choice else None,
            "unit": None if choice else "GJ/t" if ncv else "t", "required": not ncv,
            "min_value": 1.0 if ncv else None, "max_value": 60.0 if ncv else None, "allow_negative": False,
            "evidence_required": False, "order": i})
    session.execute(insert(FormField), rows)
    session.commit()
    session.expire_all()
    return form


def filled_workbook(form: Any) -> bytes:
    """The form's template for January–October with every value cell filled (as a user returns it)."""
    from orgcarbon.forms import excel, imports, service

    spec = imports.form_spec(form)
    periods = [excel.PeriodSpec(m, service.period_label("month", YEAR, m)) for m in range(1, MONTHS + 1)]
    values = {(m, f.id): "是" if f.data_type == "choice" else 30.0 + (f.id % 17) / 10 if f.min_value
              else round(100 + f.id * 0.37 + m, 3) for m in range(1, MONTHS + 1) for f in spec.fields}
    return excel.build_template(spec, YEAR, periods, values)


def run(database_url: str, instance: Path) -> dict[str, Any]:
    """Import the 100,000-row workbook and generate the 500-field template on one database."""
    from flask_appbuilder.security.sqla.models import User

    from orgcarbon.forms import imports
    from orgcarbon.forms.models import ImportBatch, SubmissionValue
    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.extensions import db

    app = build_app(database_url, instance)
    with app.app_context():
        s = db.session
        org = Organization(name="基准钢铁集团（虚构）", level="集团")
        s.add(org)
        s.commit()
        admin = s.scalar(select(User).where(User.username == "admin"))
        form = make_form(s, org.id, "bench-import", FIELDS)
        content = filled_workbook(form)
        start, cpu = time.perf_counter(), time.process_time()
        batch = imports.receive(s, app.instance_path, kind="excel", filename="基准.xlsx", content=content,
                                organization_id=org.id, user=admin, form=form)
        done = imports.run_import(s, app.instance_path, batch.id)
        import_s, import_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        assert done is not None and done.status == "done", (done.status, done.message, (done.errors or [])[:3])
        stored = s.scalar(select(func.count()).select_from(SubmissionValue))
        assert stored == FIELDS * MONTHS == done.created_count, stored
        again = imports.receive(s, app.instance_path, kind="excel", filename="again.xlsx", content=content,
                                organization_id=org.id, user=admin, form=form)
        assert again.status == "rejected" and s.scalar(select(func.count()).select_from(ImportBatch)) == 2

        small = make_form(s, org.id, "bench-template", TEMPLATE_FIELDS)
        imports.template_for(s, small, YEAR)  # warm-up: imports, styles
        start = time.perf_counter()
        template = imports.template_for(s, small, YEAR)
        template_s = time.perf_counter() - start
    from orgcarbon.platform.extensions import db as database

    with app.app_context():
        database.session.remove()
        database.engine.dispose()
    return {"import_s": import_s, "import_cpu_s": import_cpu_s, "template_s": template_s, "bytes": len(content), "template_bytes": len(template)}


def postgres_database() -> tuple[Any, str] | None:
    """A throw-away PostgreSQL database when ``--postgresql`` is given (server from the environment)."""
    if "--postgresql" not in sys.argv:
        return None
    from tests.databases import DatabaseFactory

    server = os.environ.get("ORGCARBON_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    factory = DatabaseFactory("postgresql", Path(tempfile.gettempdir()), server_url=server)
    return factory, factory.empty()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run(f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp) / "instance")
        pg = postgres_database()
        postgresql = None
        if pg is not None:
            factory, url = pg
            try:
                postgresql = run(url, Path(tmp) / "instance-pg")
            finally:
                factory.drop(url)
    rows = FIELDS * MONTHS
    print(f"import: {rows:,} rows ({FIELDS:,} fields × {MONTHS} months, {sqlite['bytes'] / 1e6:.1f} MB workbook) "
          f"kept, validated and written as {MONTHS} drafts in one transaction")
    print(f"  SQLite:      {sqlite['import_s']:6.2f} s (CPU of this process {sqlite['import_cpu_s']:.2f} s; "
          f"target < 10 s)")
    if postgresql is not None:
        print(f"  PostgreSQL:  {postgresql['import_s']:6.2f} s (CPU of this process {postgresql['import_cpu_s']:.2f} s)")
    print(f"template: {TEMPLATE_FIELDS} fields × 12 months ({sqlite['template_bytes'] / 1e3:.0f} kB) "
          f"in {sqlite['template_s']:.3f} s (target < 2 s)")
    figures: dict[str, Any] = {"benchmark": "import", "rows": rows, "import_s": round(sqlite["import_s"], 3),
                               "template_fields": TEMPLATE_FIELDS, "template_s": round(sqlite["template_s"], 3)}
    if postgresql is not None:
        figures["import_postgresql_s"] = round(postgresql["import_s"], 3)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
