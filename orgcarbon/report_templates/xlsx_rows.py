"""Long table rows written as sheet XML next to openpyxl, instead of one openpyxl cell each.

A 4,800-line report fills about 63,000 cells; creating and saving them as openpyxl ``Cell``
objects took most of the render time. ``RowGrid`` takes the plain cells of the rows a table adds
(numbers, text, blanks) as the ``<c>`` markup openpyxl itself would write for them, and
``splice_rows`` puts them into the sheets of the workbook openpyxl saved: rows the saved sheet
already has are merged cell by cell, the others are inserted in row order, and the sheet's
``<dimension>`` is widened. Anything else (formulas, dates, error codes, NaN, text Excel refuses)
is left to openpyxl by ``accepts`` returning False, and so are the cells the workbook already has.
"""

from __future__ import annotations

import bisect
import io
import math
import zipfile
from collections.abc import Mapping
from typing import Any

from lxml import etree
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
    range_boundaries,
)

from orgcarbon.regimes.xlsx_cells import MAIN, replace_parts, sheet_parts

__all__ = ["RowGrid", "splice_rows"]

_MAX_TEXT = 32767  # openpyxl truncates longer text; leave such values to it
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _q(tag: str) -> str:
    return f"{{{MAIN}}}{tag}"


def _text_markup(value: str) -> str | None:
    """``<is>`` content as openpyxl writes it, or None when openpyxl must judge the text."""
    if (
        len(value) > _MAX_TEXT
        or (len(value) > 1 and value.startswith("="))
        or value in ERROR_CODES
        or ILLEGAL_CHARACTERS_RE.search(value)
    ):
        return None
    space = ' xml:space="preserve"' if value != value.strip() else ""
    text = value.translate(_TEXT_ESCAPES).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return f"<is><t{space}>{text}</t></is>"


class RowGrid:
    """The streamed cells of one sheet: row → column → ``<c>`` markup."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, str]] = {}
        self._texts: dict[str, str | None] = {}  # tables repeat their texts; check each once
        self._letters: dict[int, str] = {}

    def __bool__(self) -> bool:
        return bool(self.rows)

    def accepts(self, value: Any) -> bool:
        """True for a value this grid writes exactly as openpyxl would."""
        kind = type(value)
        if kind is float:
            return math.isfinite(value)
        if kind is str:
            if value not in self._texts:
                self._texts[value] = _text_markup(value)
            return self._texts[value] is not None
        return value is None or kind is int

    def put(self, row: int, col: int, value: Any, style: int | None) -> None:
        """Write an accepted ``value`` with cell format ``style`` (None: unstyled) at (row, col)."""
        if value is None and style is None:  # openpyxl skips a blank cell without a format
            self.discard(row, col)
            return
        letter = self._letters.get(col) or self._letters.setdefault(col, get_column_letter(col))
        s = "" if style is None else f' s="{style}"'
        if value is None or value == "":
            kind = "inlineStr" if value == "" else "n"
            markup = f'<c r="{letter}{row}"{s} t="{kind}"></c>'
        elif type(value) is str:
            markup = f'<c r="{letter}{row}"{s} t="inlineStr">{self._texts[value]}</c>'
        else:
            markup = f'<c r="{letter}{row}"{s} t="n"><v>{value:.16g}</v></c>'
        self.rows.setdefault(row, {})[col] = markup

    def discard(self, row: int, col: int) -> None:
        """Forget (row, col): openpyxl writes that cell after all."""
        self.rows.get(row, {}).pop(col, None)


def _column(cell: Any) -> int:
    return column_index_from_string(coordinate_from_string(cell.get("r"))[0])


def _merge_row(row: Any, cells: Mapping[int, str]) -> None:
    """Add the streamed ``cells`` to a row the saved sheet has, keeping column order."""
    present = [(_column(c), c) for c in row.iterchildren(_q("c"))]
    for col, markup in sorted(cells.items()):
        cell = etree.fromstring(markup.replace("<c ", f'<c xmlns="{MAIN}" ', 1))
        later = [c for n, c in present if n > col]
        if later:
            later[0].addprevious(cell)
        else:
            row.append(cell)


def _row_markup(number: int, cells: Mapping[int, str]) -> str:
    return f'<row r="{number}">' + "".join(cells[c] for c in sorted(cells)) + "</row>"


def _widen_dimension(root: Any, grid: RowGrid) -> None:
    dimension = root.find(_q("dimension"))
    if dimension is None or not grid.rows:
        return
    min_col, min_row, max_col, max_row = range_boundaries(dimension.get("ref"))
    max_row = max(max_row, max(grid.rows))
    max_col = max(max_col, *(max(cells) for cells in grid.rows.values() if cells))
    end = f"{get_column_letter(max_col)}{max_row}"
    dimension.set("ref", f"{get_column_letter(min_col)}{min_row}:{end}")


def _splice_sheet(xml: bytes, grid: RowGrid) -> bytes:
    root = etree.fromstring(xml)
    data = root.find(_q("sheetData"))
    existing = {int(r.get("r")): r for r in data.iterchildren(_q("row"))}
    numbers = sorted(existing)
    runs: dict[int, list[str]] = {}  # index of the saved row a run of new rows goes before
    for number in sorted(n for n, cells in grid.rows.items() if cells):
        cells = grid.rows[number]
        if number in existing:
            _merge_row(existing[number], cells)
        else:
            runs.setdefault(bisect.bisect(numbers, number), []).append(_row_markup(number, cells))
    tokens = {}
    for index in runs:
        token = etree.Comment(f"orgcarbon-rows-{index}")
        if index < len(numbers):
            existing[numbers[index]].addprevious(token)
        else:
            data.append(token)
        tokens[index] = f"<!--orgcarbon-rows-{index}-->".encode()
    _widen_dimension(root, grid)
    out = etree.tostring(root)  # ASCII with character references, as openpyxl writes sheets
    for index, token in tokens.items():
        out = out.replace(token, "".join(runs[index]).encode("ascii"), 1)
    return bytes(out)


def splice_rows(content: bytes, grids: Mapping[str, RowGrid]) -> bytes:
    """The saved workbook ``content`` with each sheet's streamed rows ({sheet title: grid}) in it."""
    grids = {title: grid for title, grid in grids.items() if grid}
    if not grids:
        return content
    source = zipfile.ZipFile(io.BytesIO(content))
    parts = sheet_parts(source)
    changed = {
        parts[title]: _splice_sheet(source.read(parts[title]), grid)
        for title, grid in grids.items()
    }
    return replace_parts(source, changed)
