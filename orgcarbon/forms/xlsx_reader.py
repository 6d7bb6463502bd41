"""A fast streaming reader of the cell values of an ``.xlsx`` workbook (lxml, no cell objects).

openpyxl's read-only mode builds a cell object per value and spends several microseconds on each:
reading a 100,000-row import with it alone took longer than the whole import may (10 s). An import
needs plain values only, so this module walks the sheet XML with lxml and returns them typed as
openpyxl would: ``str``, ``int``/``float``, ``bool``, ``datetime`` for date-formatted numbers, and
``None`` for empty cells. Shared and inline strings, formulas' cached values, the 1904 date system
and rows or cells written without their ``r`` reference are handled; styles are read only to tell
dates from numbers. Writing and annotating workbooks stays with openpyxl.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import zipfile
from collections.abc import Iterator
from typing import Any

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

__all__ = ["NotAWorkbook", "XlsxBook"]

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _C, _V, _IS, _T, _R = (_MAIN + n for n in ("row", "c", "v", "is", "t", "r"))
# A sheet's XML is refused beyond this size (a zip bomb would otherwise fill the memory).
MAX_PART_BYTES = 512 * 1024 * 1024


class NotAWorkbook(ValueError):
    """The content is not a readable ``.xlsx`` workbook."""


def _parser_args() -> dict[str, Any]:
    # No entity expansion and no network: the file comes from a user.
    return {"resolve_entities": False, "no_network": True}


def _number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _string_item(si: Any) -> str:
    """Text of a shared-string item: its ``t``, or its rich-text runs (phonetic hints left out)."""
    direct = si.find(_T)
    if direct is not None:
        return direct.text or ""
    return "".join(r.findtext(_T) or "" for r in si.iterfind(_R))


class XlsxBook:
    """One workbook's sheets, read lazily from the bytes of the file."""

    def __init__(self, content: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(content))
            workbook = self._xml("xl/workbook.xml")
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, OSError) as exc:
            raise NotAWorkbook(str(exc)) from None
        rels = self._relationships("xl/_rels/workbook.xml.rels")
        self._paths: dict[str, str] = {}
        self._states: dict[str, str] = {}
        for sheet in workbook.iter(_MAIN + "sheet"):
            target = rels.get(sheet.get(_REL + "id") or "")
            if target:
                self._paths[sheet.get("name") or ""] = target
                self._states[sheet.get("name") or ""] = sheet.get("state") or "visible"
        properties = workbook.find(_MAIN + "workbookPr")
        date1904 = properties is not None and properties.get("date1904") in ("1", "true")
        self._epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        self._shared: list[str] | None = None
        self._date_styles: frozenset[int] | None = None
        self._shared_path = next((t for t in rels.values() if t.endswith("sharedStrings.xml")), None)
        self._styles_path = next((t for t in rels.values() if t.endswith("styles.xml")), None)

    @property
    def sheet_names(self) -> list[str]:
        """The sheets in workbook order."""
        return list(self._paths)

    def sheet_state(self, name: str) -> str:
        """``visible``, ``hidden`` or ``veryHidden``."""
        return self._states.get(name, "visible")

    def _member(self, path: str) -> zipfile.ZipInfo:
        info = self._zip.getinfo(path)
        if info.file_size > MAX_PART_BYTES:
            raise NotAWorkbook(f"{path} is too large")
        return info

    def _xml(self, path: str) -> Any:
        self._member(path)
        with self._zip.open(path) as fh:
            return etree.parse(fh, etree.XMLParser(**_parser_args())).getroot()

    def _relationships(self, path: str) -> dict[str, str]:
        try:
            root = self._xml(path)
        except KeyError:
            return {}
        found = {}
        for rel in root.iter(_PKG_REL + "Relationship"):
            target = rel.get("Target") or ""
            # Targets are relative to xl/ unless absolute ("/xl/worksheets/sheet1.xml").
            found[rel.get("Id") or ""] = target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join("xl", target))
        return found

    def _strings(self) -> list[str]:
        if self._shared is None:
            self._shared = []
            if self._shared_path and self._shared_path in self._zip.namelist():
                self._member(self._shared_path)
                with self._zip.open(self._shared_path) as fh:
                    for _, si in etree.iterparse(fh, tag=_MAIN + "si", **_parser_args()):
                        self._shared.append(_string_item(si))
                        si.clear()
        return self._shared

    def _dates(self) -> frozenset[int]:
        """Indices of the cell formats that show a date (their numbers are read as datetimes)."""
        if self._date_styles is None:
            found: set[int] = set()
            if self._styles_path and self._styles_path in self._zip.namelist():
                styles = self._xml(self._styles_path)
                custom = {int(f.get("numFmtId") or 0): f.get("formatCode") or ""
                          for f in styles.iter(_MAIN + "numFmt")}
                xfs = styles.find(_MAIN + "cellXfs")
                for index, xf in enumerate(xfs if xfs is not None else ()):
                    fmt_id = int(xf.get("numFmtId") or 0)
                    if is_date_format(custom.get(fmt_id, BUILTIN_FORMATS.get(fmt_id))):
                        found.add(index)
            self._date_styles = frozenset(found)
        return self._date_styles

    def row_count(self, name: str) -> int:
        """How many rows the sheet stores (cheap: counts the row elements without parsing)."""
        path = self._paths[name]
        self._member(path)
        return self._zip.read(path).count(b"<row")

    def rows(self, name: str, *, min_row: int = 1, max_col: int = 64,
             skip: frozenset[int] = frozenset()) -> Iterator[tuple[int, list[Any]]]:
        """``(row number, values of columns 1..max_col)`` for each stored row from ``min_row`` on.

        Columns in ``skip`` are left ``None`` without being decoded (an import skips the
        informational columns of its template).
        """
        if name not in self._paths:
            raise KeyError(name)
        path = self._paths[name]
        self._member(path)
        strings, dates, epoch = self._strings(), self._dates(), self._epoch
        columns = {get_column_letter(i): i for i in range(1, max_col + 1)}
        date_styles = {str(i) for i in dates}
        number = 0
        with self._zip.open(path) as fh:
            for _, row in etree.iterparse(fh, tag=_ROW, **_parser_args()):
                ref = row.get("r")
                number = int(ref) if ref else number + 1
                if number >= min_row:
                    values: list[Any] = [None] * max_col
                    position = 0
                    # One tight loop, the common cases inline: it runs for every cell of a 100,000-row import.
                    for cell in row:
                        ref = cell.get("r")
                        if ref:
                            letters = ref.rstrip("0123456789")
                            position = columns.get(letters) or column_index_from_string(letters)
                        else:
                            position += 1
                        if position > max_col or position in skip:
                            continue
                        kind = cell.get("t")
                        if kind == "inlineStr" and len(cell) == 1 and len(cell[0]) == 1 and cell[0][0].tag == _T:
                            values[position - 1] = cell[0][0].text or ""
                        elif kind in (None, "n") and len(cell) == 1 and cell[0].tag == _V \
                                and cell.get("s") not in date_styles:
                            text = cell[0].text
                            values[position - 1] = _number(text) if text else None
                        elif cell.tag == _C:
                            values[position - 1] = _value(cell, strings, dates, epoch)
                    yield number, values
                row.clear()
                while row.getprevious() is not None:  # drop the emptied rows too: memory stays flat
                    del row.getparent()[0]


def _value(cell: Any, strings: list[str], dates: frozenset[int], epoch: dt.datetime) -> Any:
    """The typed value of one ``c`` element."""
    kind = cell.get("t")
    if not len(cell):
        return None
    first = cell[0]
    if kind == "inlineStr":
        if first.tag != _IS:
            first = cell.find(_IS)
            if first is None:
                return None
        # The common case, one plain <t>, without a search; rich text falls back to its runs.
        if len(first) == 1 and first[0].tag == _T:
            return first[0].text or ""
        return _string_item(first)
    text = first.text if first.tag == _V else cell.findtext(_V)  # a formula's <f> comes before its <v>
    if not text:
        return None
    if kind == "s":
        return strings[int(text)]
    if kind in ("str", "e"):
        return text
    if kind == "b":
        return text.strip() in ("1", "true")
    if kind == "d":
        return dt.datetime.fromisoformat(text)
    value = _number(text)
    style = cell.get("s")
    if style is not None and dates and int(style) in dates:
        return from_excel(value, epoch)
    return value
