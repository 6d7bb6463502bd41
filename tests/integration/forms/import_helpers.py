"""Shared set-up for import tests: a template of the test form, filled the way a user fills it."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import openpyxl
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.forms import imports
from orgcarbon.forms.models import FormDefinition, ImportBatch, Submission, SubmissionValue
from orgcarbon.forms.tasks import start_import

YEAR = 2025


def template(session: Session, form: FormDefinition, periods: list[int] | None = None) -> bytes:
    """The form's template for ``YEAR`` (all months, or ``periods``)."""
    return imports.template_for(session, form, YEAR, periods)


def full_values(form: FormDefinition, label: str) -> dict[tuple[str, str], Any]:
    """Every field of one period filled with a valid value: quantities 1250.5, NCV 38.9."""
    return {(label, f.code): 1250.5 if f.parameter == "quantity" else 38.9 for f in form.fields}


def fill(content: bytes, values: Mapping[tuple[str, str], Any], edits: Mapping[str, Any] | None = None) -> bytes:
    """Type ``values`` ((期间, 字段代码) → 数值) into the template, then any cell ``edits`` ({"G3": "kg"})."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    ws = wb["填报数据"]
    for row in ws.iter_rows(min_row=3):
        key = (row[0].value, row[1].value)
        if key in values:
            row[7].value = values[key]
    for ref, value in (edits or {}).items():
        ws[ref] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def row_of(content: bytes, label: str, code: str) -> int:
    """The sheet row of one period and field in a template."""
    ws = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["填报数据"]
    for number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        if row[0] == label and row[1] == code:
            return number
    raise AssertionError((label, code))


def run(app: Flask, session: Session, form: FormDefinition, content: bytes, user: Any,
        filename: str = "填报.xlsx") -> ImportBatch:
    """Receive and run an import as ``user`` the way the upload page does; the batch afterwards."""
    batch = imports.receive(session, app.instance_path, kind="excel", filename=filename, content=content,
                            organization_id=form.organization_id, user=user, form=form)
    start_import(session, app.instance_path, batch.id)
    found = session.get(ImportBatch, batch.id)
    assert found is not None
    session.refresh(found)
    return found


def written(session: Session, form: FormDefinition) -> tuple[int, int]:
    """(submissions, values) stored for the form."""
    subs = session.scalar(select(func.count()).select_from(Submission).where(Submission.form_id == form.id))
    values = session.scalar(select(func.count()).select_from(SubmissionValue).join(Submission)
                            .where(Submission.form_id == form.id))
    return int(subs or 0), int(values or 0)
