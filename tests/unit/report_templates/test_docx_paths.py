"""The faster Word render gives the document docxtpl's own steps give, fallbacks included."""

from __future__ import annotations

import io
from typing import Any

import docx
import pytest
from docxtpl import DocxTemplate

from orgcarbon.report_templates import render_docx as module
from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.render_docx import render_docx
from tests.unit.report_templates.conftest import canonical_parts


def _both(
    template: bytes, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[bytes, bytes]:
    fast = render_docx(template, context).content
    with monkeypatch.context() as patch:
        patch.setattr(module, "_Template", DocxTemplate)  # docxtpl as shipped
        reference = render_docx(template, context).content
    return fast, reference


def _refuse(*_: Any) -> None:
    raise AssertionError("docxtpl's own step was used")


def test_group_report_equals_docxtpl_output(
    group_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    template = BUILTIN["gbt32151.5-report"][0].read_bytes()
    with monkeypatch.context() as patch:  # the shortcuts must not fall back to docxtpl here
        for name in ("fix_tables", "map_tree", "resolve_listing", "render_xml_part"):
            patch.setattr(DocxTemplate, name, _refuse)
        fast = render_docx(template, group_context).content
    _, reference = _both(template, group_context, monkeypatch)
    assert canonical_parts(fast) == canonical_parts(reference)
    document = docx.Document(io.BytesIO(fast))
    rows = max(len(t.rows) for t in document.tables)  # the activity data, one row a line
    assert rows == len(group_context["activity_data"]) + 1
    assert len(document.inline_shapes) == 1  # the chart, its docPr id renumbered as before


def _uneven_table_template() -> bytes:
    """A table whose grid has a column no row fills: docxtpl's ``fix_tables`` must remove it."""
    document = docx.Document()
    document.add_paragraph("{{ org_name }}")
    table = document.add_table(rows=2, cols=3)
    for row in table.rows:
        row._tr.remove(row._tr.tc_lst[-1])
    table.rows[0]._tr.tc_lst[0].get_or_add_tcPr()
    table.cell(0, 0).text = "{{ report_year }}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_table_needing_a_fix_takes_docxtpl_path(
    context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, reference = _both(_uneven_table_template(), context, monkeypatch)
    assert canonical_parts(fast) == canonical_parts(reference)
    table = docx.Document(io.BytesIO(fast)).tables[0]
    assert len(table._tbl.tblGrid.gridCol_lst) == 2
    assert table.rows[0].cells[0].text == "2022"


def test_grid_check_agrees_with_fix_tables() -> None:
    document = docx.Document(io.BytesIO(_uneven_table_template()))
    assert not module._grid_fits(document.tables[0]._tbl)
    fits = docx.Document().add_table(rows=3, cols=4)
    fits.cell(0, 0).merge(fits.cell(0, 1))  # a gridSpan row still fills the grid
    assert module._grid_fits(fits._tbl)
