"""Activity packages (``orgcarbon-activity/1``, JSON or xlsx) imported through the import pages.

The same path as a workbook (``imports.receive`` keeps the file, ``imports.run_import`` runs it):
the package is validated with the rules' package reader, every rejected record is reported with
its row, column and Chinese reason (the xlsx annotated like a template), a file already imported
for the organisation is refused, and the records are written by the accounting transfer module's
``import_package`` — all of them in one transaction, or none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from orgcarbon.accounting.transfer import import_package
from orgcarbon.forms.excel_check import CellIssue
from orgcarbon.forms.imports import (
    duplicate_message,
    lock_for_write,
    original_bytes,
    previous_batch,
    reject,
    user_and_scope,
)
from orgcarbon.forms.models import ImportBatch, utcnow
from orgcarbon.forms.periods import WorkflowError
from orgcarbon.forms.xlsx_reader import NotAWorkbook, XlsxBook
from orgcarbon.metamodel.rules_inputs import factor_library, unit_table
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.package import PackageError, read_package
from orgcarbon.rules.package_fields import HEADERS, KEY_BY_HEADER

RECORDS_SHEET = "records"


def _columns(content: bytes) -> dict[str, str]:
    """Package key → column letter of the ``records`` sheet (empty for JSON or an unreadable file)."""
    try:
        book = XlsxBook(content)
        first = next(book.rows(RECORDS_SHEET, max_col=64), None) if RECORDS_SHEET in book.sheet_names else None
    except (NotAWorkbook, KeyError, ValueError):
        return {}
    if first is None:
        return {}
    found = {}
    for index, header in enumerate(first[1], start=1):
        key = KEY_BY_HEADER.get(str(header).strip()) if header is not None else None
        if key is not None:
            found[key] = get_column_letter(index)
    return found


def count_records(filename: str, content: bytes) -> int:
    """Records in a package (0 when unreadable: the run reports why): decides task or in-process."""
    if Path(filename).suffix.lower() == ".json":
        try:
            records = json.loads(content.decode("utf-8-sig")).get("records")
        except (ValueError, AttributeError):
            return 0
        return len(records) if isinstance(records, list) else 0
    try:
        book = XlsxBook(content)
        return max(book.row_count(RECORDS_SHEET) - 1, 0) if RECORDS_SHEET in book.sheet_names else 0
    except (NotAWorkbook, KeyError):
        return 0


def package_issues(issues: Iterable[Issue], content: bytes, workbook: bool) -> list[CellIssue]:
    """The package reader's issues in the import's shape (sheet, row, column letter, field label)."""
    columns = _columns(content) if workbook else {}
    found = []
    for issue in issues:
        name = HEADERS.get(issue.field, issue.field)
        if issue.row is None:
            found.append(CellIssue("", None, "", name, issue.value, issue.reason, issue.field))
        else:
            sheet = RECORDS_SHEET if workbook else "records（JSON，第几条记录）"
            found.append(CellIssue(sheet, issue.row, columns.get(issue.field, "A" if workbook else ""), name,
                                   issue.value, issue.reason, issue.field))
    return found


def run_package(session: Session, instance_path: str | os.PathLike[str], batch: ImportBatch) -> None:
    """Validate the kept package and write its records under the batch's organisation, or nothing."""
    batch_id, organization_id = batch.id, batch.organization_id
    content = original_bytes(instance_path, batch)
    path = Path(instance_path) / batch.stored_path
    workbook = path.suffix.lower() in (".xlsx", ".xlsm")
    _, scope = user_and_scope(session, batch)
    if scope is not None and not scope.can_write(organization_id):
        raise WorkflowError("无权向该组织导入数据")
    try:
        package = read_package(path, factor_library(session), unit_table(session))
    except PackageError as exc:
        reject(session, instance_path, batch_id, package_issues(exc.issues, content, workbook),
               content if workbook else None)
        return
    count = len(package.rows)
    lock_for_write(session, batch_id, None)
    batch = session.get(ImportBatch, batch_id)  # type: ignore[assignment]
    if (done := previous_batch(session, batch, ("done",))) is not None:
        raise WorkflowError(duplicate_message(done))
    # Set before the transfer module commits its rows, so that the batch is marked in that same commit.
    batch.status, batch.finished_at = "done", utcnow()
    batch.total_rows = batch.done_rows = batch.created_count = count
    batch.message = f"已导入 {count} 条活动记录（{package.organization} {package.year} 年）"
    try:
        import_package(session, path, organization_id)
    except PackageError as exc:
        session.rollback()
        reject(session, instance_path, batch_id, package_issues(exc.issues, content, workbook),
               content if workbook else None)
        return
    session.commit()  # a no-op when import_package committed; the commit when it leaves that to the caller
