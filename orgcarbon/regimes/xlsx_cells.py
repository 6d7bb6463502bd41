"""Write values into cells of an existing .xlsx by editing its sheet XML inside the zip.

openpyxl drops what it does not understand on save (the CBAM template's conditional-format
extensions among them), so the official template is filled this way instead: every part of the
package is copied byte for byte except the sheets written to (and ``workbook.xml``, only to ask
Excel to recalculate on open). In a sheet only the target ``<c>`` elements change; rows and cells
are created in order where missing, styles are kept, and a cell holding a formula is refused —
the template's own formulas compute its results.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Mapping
from typing import Any

from lxml import etree

__all__ = [
    "MAIN", "CellValue", "XlsxCellError", "column_index", "fill_cells", "replace_parts", "sheet_parts"
]

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]*)$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)

CellValue = str | int | float | bool | dt.date | None


class XlsxCellError(ValueError):
    """A cell cannot be written (bad reference, formula cell, unknown sheet); the message is Chinese."""


def _q(tag: str) -> str:
    return f"{{{MAIN}}}{tag}"


def column_index(letters: str) -> int:
    """1-based column number of column letters (A → 1, AA → 27)."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _split(ref: str) -> tuple[int, int]:
    match = _REF.match(ref)
    if match is None:
        raise XlsxCellError(f"单元格引用无效：{ref}")
    return int(match.group(2)), column_index(match.group(1))


def sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the path of its part inside the package."""
    workbook = etree.fromstring(package.read("xl/workbook.xml"))
    rels = etree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG_REL}}}Relationship")}
    found = {}
    for sheet in workbook.iter(_q("sheet")):
        target = targets.get(sheet.get(f"{{{REL}}}id")) or ""
        found[sheet.get("name") or ""] = (
            target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        )
    return found


def _set(cell: Any, value: CellValue, sheet: str) -> None:
    ref = cell.get("r")
    if cell.find(_q("f")) is not None:
        raise XlsxCellError(f"{sheet}!{ref} 是公式单元格，不能写入")
    for child in list(cell):
        cell.remove(child)
    cell.attrib.pop("t", None)
    if value is None:
        return
    if isinstance(value, bool):
        cell.set("t", "b")
        etree.SubElement(cell, _q("v")).text = "1" if value else "0"
    elif isinstance(value, int | float):
        etree.SubElement(cell, _q("v")).text = repr(float(value)) if isinstance(value, float) else str(value)
    elif isinstance(value, dt.date):
        etree.SubElement(cell, _q("v")).text = str((value - _EXCEL_EPOCH).days)
    else:
        cell.set("t", "inlineStr")
        text = etree.SubElement(etree.SubElement(cell, _q("is")), _q("t"))
        text.text = str(value)
        text.set(XML_SPACE, "preserve")


def _fill_sheet(xml: bytes, values: Mapping[str, CellValue], sheet: str) -> bytes:
    root = etree.fromstring(xml)
    data = root.find(_q("sheetData"))
    if data is None:
        raise XlsxCellError(f"工作表 {sheet} 没有 sheetData")
    rows = {int(r.get("r")): r for r in data.findall(_q("row"))}
    for ref, value in values.items():
        row_no, col = _split(ref)
        row = rows.get(row_no)
        if row is None:
            row = etree.Element(_q("row"), r=str(row_no))
            later = [r for n, r in rows.items() if n > row_no]
            if later:
                min(later, key=lambda r: int(r.get("r"))).addprevious(row)
            else:
                data.append(row)
            rows[row_no] = row
        cells = {_split(c.get("r"))[1]: c for c in row.findall(_q("c"))}
        cell = cells.get(col)
        if cell is None:
            cell = etree.Element(_q("c"), r=ref)
            style = row.get("s") if row.get("customFormat") in ("1", "true") else None
            if style:
                cell.set("s", style)
            later_cells = [c for n, c in cells.items() if n > col]
            if later_cells:
                min(later_cells, key=lambda c: _split(c.get("r"))[1]).addprevious(cell)
            else:
                row.append(cell)
        _set(cell, value, sheet)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _recalculate_on_open(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    calc = root.find(_q("calcPr"))
    if calc is None:
        calc = etree.SubElement(root, _q("calcPr"))
    calc.set("fullCalcOnLoad", "1")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def fill_cells(template: bytes, values: Mapping[str, Mapping[str, CellValue]]) -> bytes:
    """A copy of ``template`` with ``values`` ({sheet: {"I20": value}}) written into its cells."""
    source = zipfile.ZipFile(io.BytesIO(template))
    parts = sheet_parts(source)
    unknown = sorted(set(values) - set(parts))
    if unknown:
        raise XlsxCellError(f"模板中没有工作表：{'、'.join(unknown)}")
    changed = {parts[sheet]: _fill_sheet(source.read(parts[sheet]), cells, sheet)
               for sheet, cells in values.items() if cells}
    changed["xl/workbook.xml"] = _recalculate_on_open(source.read("xl/workbook.xml"))
    return replace_parts(source, changed)


def replace_parts(source: zipfile.ZipFile, changed: Mapping[str, bytes]) -> bytes:
    """A copy of the package ``source`` with the parts named in ``changed`` replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = changed.get(info.filename)
            target.writestr(info, data if data is not None else source.read(info.filename),
                            compress_type=info.compress_type)
    return out.getvalue()
