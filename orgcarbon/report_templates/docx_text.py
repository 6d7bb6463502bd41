"""The text of a .docx as Word stores it: paragraphs, their runs, and where each one is.

Checks need the run boundaries, which python-docx hides and docxtpl silently patches over:
a tag Word split across runs may render as literal text, so it must be found and located.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

__all__ = ["DocxParagraph", "docx_paragraphs", "normalise_docxtpl", "split_tags"]

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PART = re.compile(r"word/(document|header\d*|footer\d*)\.xml$")
# docxtpl's paragraph/row/cell/run prefixes ({%tr for %}, {{r x}}) are not Jinja syntax.
_DOCXTPL_PREFIX = re.compile(r"(\{[{%]-?)\s*(?:tr|tc|p|r|tch)\s(?=\s*\S)")


@dataclass(frozen=True)
class DocxParagraph:
    """One w:p: its location for people, and the text of each of its runs in order."""

    location: str
    runs: tuple[str, ...]

    @property
    def text(self) -> str:
        """The paragraph's text as Word shows it."""
        return "".join(self.runs)


def _part_label(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].removesuffix(".xml")
    if stem == "document":
        return "正文"
    kind = "页眉" if stem.startswith("header") else "页脚"
    return f"{kind}（{stem}.xml）"


def _runs(p: etree._Element) -> tuple[str, ...]:
    out = []
    for r in p.iter(f"{W}r"):
        # a run inside a nested paragraph (text box) belongs to that paragraph
        if next(r.iterancestors(f"{W}p")) is not p:
            continue
        text = "".join(t.text or "" for t in r.iter(f"{W}t"))
        if text:
            out.append(text)
    return tuple(out)


def _paragraphs(label: str, root: etree._Element) -> Iterator[DocxParagraph]:
    # lxml proxies stay the same objects only while referenced, so keep the list alive
    tables = list(root.iter(f"{W}tbl"))
    for number, p in enumerate(root.iter(f"{W}p"), start=1):
        cell = next(p.iterancestors(f"{W}tc"), None)
        where = f"{label} 第 {number} 段"
        if cell is not None:
            row = cell.getparent()
            table = row.getparent()
            r = [x for x in table if x.tag == f"{W}tr"].index(row) + 1
            c = [x for x in row if x.tag == f"{W}tc"].index(cell) + 1
            where = f"{label} 表格 {tables.index(table) + 1} 第 {r} 行第 {c} 列（第 {number} 段）"
        yield DocxParagraph(where, _runs(p))


def docx_paragraphs(data: bytes | zipfile.ZipFile) -> list[DocxParagraph]:
    """All paragraphs of the body, then headers and footers, in document order."""
    archive = data if isinstance(data, zipfile.ZipFile) else zipfile.ZipFile(io.BytesIO(data))
    names = sorted((n for n in archive.namelist() if _PART.match(n)), key=_part_order)
    out: list[DocxParagraph] = []
    for name in names:
        root = etree.fromstring(archive.read(name))
        out.extend(_paragraphs(_part_label(name), root))
    return out


def _part_order(name: str) -> tuple[int, str]:
    return (0 if name.endswith("document.xml") else 1, name)


def split_tags(paragraph: DocxParagraph) -> list[tuple[str, tuple[str, ...]]]:
    """Each tag of the paragraph that spans several runs: (tag text, the run pieces)."""
    bounds, start = [], 0
    for run in paragraph.runs:
        bounds.append((start, start + len(run)))
        start += len(run)
    found = []
    for match in TAG.finditer(paragraph.text):
        pieces = tuple(
            paragraph.text[max(a, match.start()) : min(b, match.end())]
            for a, b in bounds
            if a < match.end() and b > match.start()
        )
        if len(pieces) > 1:
            found.append((match.group(0), pieces))
    return found


def normalise_docxtpl(text: str) -> str:
    """Strip docxtpl's tr/tc/p/r prefixes so plain Jinja can parse the tag."""
    return _DOCXTPL_PREFIX.sub(r"\1 ", text)
