"""Filling the official CBAM template by editing its sheet XML: nothing openpyxl drops is lost."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import warnings
import zipfile
from typing import Any

import openpyxl
import pytest
from test_regimes import CONTEXT, INSTALLATION, ROWS

from orgcarbon.regimes.export_cbam import cbam_workbook, cell_values, template_path
from orgcarbon.regimes.xlsx_cells import XlsxCellError, fill_cells, sheet_parts
from orgcarbon.rules import default_library
from orgcarbon.rules.regimes import compute_cbam, installation_from_dict, shipped_regimes


def _cells(source: Any, sheets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Value and lock of the named cells, reading the workbook once in read-only mode (fast)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(source, read_only=True)
    found: dict[str, dict[str, Any]] = {}
    for sheet, refs in sheets.items():
        wanted, ws = set(refs), wb[sheet]
        rows = [int(re.sub(r"[A-Z]", "", r)) for r in wanted]
        for row in ws.iter_rows(min_row=min(rows), max_row=max(rows)):
            for cell in row:
                if getattr(cell, "coordinate", None) in wanted:
                    found.setdefault(sheet, {})[cell.coordinate] = cell
    wb.close()
    return found


MARKERS = ("<dataValidation ", "<conditionalFormatting", "<extLst>", "<x14:", "<mergeCell ", "<sheetProtection")


def _small_workbook() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["B2"] = "label"
    ws["D2"] = 1
    ws["C4"] = "=D2*2"
    ws["A6"] = "end"
    wb.create_sheet("Other")["A1"] = "keep"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_cell_writer_writes_in_order_and_refuses_formulas() -> None:
    """New rows and cells go in order, values of every type read back, formula cells are refused."""
    filled = fill_cells(_small_workbook(), {"Data": {"C2": 3.25, "A2": "中文", "B5": True, "E3": dt.date(2024, 12, 31),
                                                     "D2": None, "A1": 7}})
    wb = openpyxl.load_workbook(io.BytesIO(filled))
    ws = wb["Data"]
    assert (ws["A1"].value, ws["A2"].value, ws["B2"].value, ws["C2"].value, ws["D2"].value) == (7, "中文", "label", 3.25, None)
    assert ws["B5"].value is True and ws["E3"].value == 45657  # an Excel date serial
    assert ws["C4"].value == "=D2*2" and wb["Other"]["A1"].value == "keep"
    package = zipfile.ZipFile(io.BytesIO(filled))
    sheet = package.read(sheet_parts(package)["Data"]).decode()
    rows = [int(r) for r in re.findall(r'<row r="(\d+)"', sheet)]
    assert rows == sorted(rows) and 3 in rows and 5 in rows
    assert re.findall(r'<c r="([A-Z]+)2"', sheet) == ["A", "B", "C", "D"]
    assert 'fullCalcOnLoad="1"' in package.read("xl/workbook.xml").decode()
    with pytest.raises(XlsxCellError, match="公式单元格"):
        fill_cells(_small_workbook(), {"Data": {"C4": 1}})
    with pytest.raises(XlsxCellError, match="没有工作表"):
        fill_cells(_small_workbook(), {"Nope": {"A1": 1}})
    with pytest.raises(XlsxCellError, match="引用无效"):
        fill_cells(_small_workbook(), {"Data": {"1A": 1}})


@pytest.fixture(scope="module")
def result() -> Any:
    cbam = shipped_regimes()["cbam_steel"]
    return compute_cbam(cbam, installation_from_dict(INSTALLATION, cbam), ROWS, default_library(), CONTEXT)


def test_shipped_template_is_the_official_file(result: Any) -> None:
    """The copy the platform fills is byte for byte the Commission's v2.1.1 (SHA-256 in the pack)."""
    template = result.regime.template()
    assert hashlib.sha256(template_path(result.regime).read_bytes()).hexdigest() == template.sha256


def test_filled_template_keeps_every_part_and_reads_back(result: Any) -> None:
    """Same parts; untouched parts identical; validations, formats and extensions of written sheets kept."""
    blank = template_path(result.regime).read_bytes()
    filled = cbam_workbook(result)
    a, b = zipfile.ZipFile(io.BytesIO(blank)), zipfile.ZipFile(io.BytesIO(filled))
    assert a.namelist() == b.namelist()
    parts = sheet_parts(a)
    written = {parts[s] for s in cell_values(result)} | {"xl/workbook.xml"}
    assert {n for n in a.namelist() if a.read(n) != b.read(n)} == written
    for part in written - {"xl/workbook.xml"}:
        before, after = a.read(part).decode(), b.read(part).decode()
        for marker in MARKERS:
            assert before.count(marker) == after.count(marker), (part, marker)
        assert before.count("<f>") + before.count("<f ") == after.count("<f>") + after.count("<f ")
    # The conditional-format extensions openpyxl drops ("Unknown extension is not supported") are all still there.
    extensions = [n for n in a.namelist() if n.endswith(".xml") and b"<x14:conditionalFormatting" in a.read(n)]
    assert extensions and all(a.read(n).count(b"<x14:") == b.read(n).count(b"<x14:") for n in extensions)

    refs = {"A_InstData": ["I9", "L9", "E62", "E63", "E64", "E65", "I63", "L85"],
            "D_Processes": ["L32", "L81", "L119", "M126", "L130", "L131", "L132"],
            "E_PurchPrec": ["L17", "L30", "L49", "M49"], "Summary_Products": ["D12", "F12", "H12", "I12"],
            "B_EmInst": ["D17", "E17", "F17", "G17"], "C_Emissions&Energy": ["M26"]}
    got = {sheet: {ref: c.value for ref, c in cells.items()} for sheet, cells in _cells(io.BytesIO(filled), refs).items()}
    inst, proc, purchased = got["A_InstData"], got["D_Processes"], got["E_PurchPrec"]
    assert inst["I9"] == dt.datetime(2025, 1, 1) and inst["L9"] == dt.datetime(2025, 12, 31)
    assert [inst[f"E{r}"] for r in range(62, 66)] == ["Sintered Ore", "Pig iron", "Crude steel", "Direct reduced iron"]
    assert inst["I63"] == "Blast furnace route" and inst["L85"] == "BOF"
    p2 = result.processes[1]
    assert proc["L81"] == 1800 and proc["L119"] == pytest.approx(p2.dir_em_star)
    assert proc["M126"] == pytest.approx(p2.wg_exported_tj) and proc["L130"] == 300
    assert proc["L131"] == 0.6 and proc["L132"] == "D.4(b)"
    assert proc["L32"] == 3000  # P1's sinter consumed by P2 (the first other process)
    assert purchased["L17"] == 20 and purchased["L30"] == 20  # into P3
    assert purchased["L49"] == 1.0 and purchased["M49"] == "Measured"
    products = got["Summary_Products"]
    assert [products["D12"], products["F12"], products["H12"]] == ["BOF", "72071114", "方坯"]
    assert products["I12"].startswith("=")  # the template computes SEE itself
    streams = got["B_EmInst"]
    assert [streams["D17"], streams["E17"], streams["F17"], streams["G17"]] == ["Combustion", "洗精煤", 2000, "t"]
    assert got["C_Emissions&Energy"]["M26"] == pytest.approx(540)


def test_only_unlocked_input_cells_are_written(result: Any) -> None:
    """Every cell the export writes is an unlocked, formula-free input cell of the blank template."""
    written = cell_values(result)
    blank = _cells(template_path(result.regime), {sheet: list(cells) for sheet, cells in written.items()})
    for sheet, cells in written.items():
        for ref in cells:
            cell = blank[sheet][ref]
            assert not cell.protection.locked, f"{sheet}!{ref}"
            assert not (isinstance(cell.value, str) and cell.value.startswith("=")), f"{sheet}!{ref}"
