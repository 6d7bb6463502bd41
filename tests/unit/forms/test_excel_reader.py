"""The fast ``.xlsx`` value reader gives what openpyxl gives, for files written by openpyxl and by others."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest

from orgcarbon.forms.xlsx_reader import NotAWorkbook, XlsxBook


def _save(wb: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sample() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["期间", "代码", "数值", "备注"])
    ws.append(["2025-01", "q1", 1250.5, "盘点"])
    ws.append(["2025-02", 123, -3, None])
    ws.append([dt.datetime(2025, 3, 1), "q3", True, "  有空格  "])
    ws["E4"] = 1e-7
    ws["C6"] = "跳过第 5 行"
    wb.create_sheet("隐藏").sheet_state = "hidden"
    return wb


def _openpyxl_rows(content: bytes, sheet: str, width: int) -> list[tuple[int, list[object]]]:
    ws = openpyxl.load_workbook(io.BytesIO(content), data_only=True)[sheet]
    rows = []
    for number, row in enumerate(ws.iter_rows(max_col=width, values_only=True), start=1):
        if any(v is not None for v in row):
            rows.append((number, list(row)))
    return rows


def test_values_match_openpyxl_for_shared_strings_numbers_dates_and_booleans() -> None:
    content = _save(_sample())
    book = XlsxBook(content)
    assert book.sheet_names == ["数据", "隐藏"] and book.sheet_state("隐藏") == "hidden"
    assert list(book.rows("数据", max_col=5)) == _openpyxl_rows(content, "数据", 5)
    assert next(book.rows("数据", min_row=4, max_col=5))[1] == [dt.datetime(2025, 3, 1), "q3", True, "  有空格  ",
                                                                 1e-7]


def test_inline_strings_of_write_only_workbooks_and_skipped_columns() -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(["甲", "乙", 3])
    ws.append([None, "丁", 4.5])
    book = XlsxBook(_save(wb))
    assert list(book.rows("s", max_col=3, skip=frozenset({2}))) == [(1, ["甲", None, 3]), (2, [None, None, 4.5])]
    assert book.row_count("s") == 2


def test_rows_and_cells_without_references_are_numbered_in_order() -> None:
    content = _save(_sample())
    with zipfile.ZipFile(io.BytesIO(content)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb' r="[A-Z]*\d+"', b"", parts[sheet])  # the spec allows both to be left out
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    rows = list(XlsxBook(out.getvalue()).rows("数据", max_col=4))
    assert rows[1] == (2, ["2025-01", "q1", 1250.5, "盘点"])
    # Without references rows and cells count as stored: the lone cell of sheet row 6 is now (5, A).
    assert rows[4] == (5, ["跳过第 5 行", None, None, None])


def test_a_file_that_is_not_a_workbook_is_refused() -> None:
    for content in (b"", b"hello", _zip_without_workbook()):
        with pytest.raises(NotAWorkbook):
            XlsxBook(content)


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    return out.getvalue()


def _hand_made(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return out.getvalue()


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PNS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'


def test_excel_style_parts_shared_rich_text_date_styles_1904_and_formula_results() -> None:
    """A file as Excel or WPS writes it: shared strings, phonetic hints, custom date formats, absolute targets."""
    content = _hand_made({
        "xl/workbook.xml": f'<workbook {_NS} {_RNS}><workbookPr date1904="1"/><sheets>'
                           '<sheet name="填报数据" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships {_PNS}>'
            '<Relationship Id="rId1" Type="worksheet" Target="/xl/worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="sharedStrings" Target="sharedStrings.xml"/>'
            '<Relationship Id="rId3" Type="styles" Target="styles.xml"/></Relationships>',
        "xl/sharedStrings.xml": f'<sst {_NS}><si><t>焦炭</t></si>'
            '<si><r><t>天然</t></r><r><rPr><b/></rPr><t>气</t></r><rPh sb="0" eb="1"><t>てん</t></rPh></si></sst>',
        "xl/styles.xml": f'<styleSheet {_NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy/mm/dd"/>'
            '</numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/></cellXfs>'
            '</styleSheet>',
        "xl/worksheets/sheet1.xml": f'<worksheet {_NS}><sheetData><row r="2">'
            '<c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c><c r="C2" s="1"><v>1.5</v></c>'
            '<c r="D2" s="2"><v>2</v></c><c r="E2" t="b"><v>1</v></c><c r="F2" t="str"><f>A2&amp;""</f><v>abc</v></c>'
            '<c r="G2" t="e"><v>#DIV/0!</v></c><c r="H2" s="0"><v>2.5</v></c>'
            '<c r="I2" t="d"><v>2025-03-01T00:00:00</v></c><c r="J2" t="inlineStr"><is><r><t>富</t></r>'
            '<r><t>文本</t></r></is></c></row></sheetData></worksheet>',
    })
    book = XlsxBook(content)
    assert list(book.rows("填报数据", max_col=10)) == [(2, [
        "焦炭", "天然气", dt.datetime(1904, 1, 2, 12), dt.datetime(1904, 1, 3), True, "abc", "#DIV/0!", 2.5,
        dt.datetime(2025, 3, 1), "富文本"])]
