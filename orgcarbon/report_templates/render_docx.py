"""Render a Word template (docxtpl) with a report context, the process chart included."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from docx.oxml.ns import nsmap
from docx.oxml.parser import element_class_lookup
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from lxml import etree

from orgcarbon.report_templates.chart import process_chart
from orgcarbon.report_templates.environment import RenderError, make_environment

__all__ = ["RenderedFile", "render_docx"]

CHART_WIDTH_MM = 150


@dataclass(frozen=True)
class RenderedFile:
    """A rendered report file and the warnings the user should see next to it."""

    content: bytes
    warnings: tuple[str, ...] = ()


# A text run holding a tab, line break, page break or paragraph mark that docxtpl turns into Word markup.
_LISTING = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Only namespace declarations: what ``etree.tostring`` puts on the body it cuts out of the document.
_BODY_START = re.compile(r'<w:body((?:\s+xmlns:\w+="[^"]*")*)\s*>')
_DECLARATION = re.compile(r'xmlns:(\w+)="([^"]*)"')


def _parser() -> etree.XMLParser:
    # Like docxtpl's (recover=True), with python-docx's element classes for the new document.
    parser = etree.XMLParser(recover=True)
    parser.set_element_class_lookup(element_class_lookup)
    return parser


def _row_width(row: Any) -> int:
    """Grid columns a table row covers (cells, with their ``gridSpan``)."""
    width = 0
    for cell in row.iterchildren(f"{_W}tc"):
        span = cell.find(f"{_W}tcPr/{_W}gridSpan")
        width += 1 if span is None else int(span.get(f"{_W}val"))
    return width


def _grid_fits(table: Any) -> bool:
    """True when docxtpl's ``fix_tables`` would leave ``table`` as it is.

    It adds grid columns when a row has more cells than the grid, and removes them when no row
    fills the grid; a row that fills the grid exactly settles the second question.
    """
    grid = table.find(f"{_W}tblGrid")
    columns = len(grid.findall(f"{_W}gridCol")) if grid is not None else 0
    filled = False
    for row in table.iter(f"{_W}tr"):
        if len(row.findall(f"{_W}tc")) > columns:
            return False
        filled = filled or _row_width(row) >= columns
    return filled or grid is None


class _Template(DocxTemplate):  # type: ignore[misc]
    """docxtpl's template with three shortcuts that leave the rendered document unchanged.

    - ``resolve_listing`` runs two regular expressions over every paragraph (a third of the
      render time of a 4,800-line report); the result is the same when no ``<w:t>`` text holds
      ``\t``, ``\a``, ``\n`` or ``\f``, which one search over the XML tells.
    - ``render_xml_part`` removes the line breaks it put before each ``<w:p`` with ``str.replace``
      instead of a regular expression with a group (44,000 matches in that report).
    - The rendered body is parsed inside a copy of the document element, which then replaces the
      template's, instead of being parsed alone and moved into the template's document (lxml
      re-resolves the namespaces of every moved node); ``fix_tables`` only walks its tables'
      cells when a quick count says one needs fixing.
    """

    def resolve_listing(self, xml: str) -> str:
        return super().resolve_listing(xml) if _LISTING.search(xml) else xml

    def render_xml_part(self, src_xml: str, part: Any, context: Any, jinja_env: Any = None) -> str:
        # docxtpl's steps; only the marks before <w:p go with str.replace, not re.sub with a group
        marked = re.sub(r"<w:p([ >])", r"\n<w:p\1", src_xml)
        self.current_rendering_part = part
        try:
            template = jinja_env.from_string(marked) if jinja_env else jinja2.Template(marked)
            dst_xml = template.render(context)
        except jinja2.TemplateError:  # docxtpl's own error, with the paragraphs around it
            return super().render_xml_part(src_xml, part, context, jinja_env)
        dst_xml = dst_xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        dst_xml = (
            dst_xml.replace("{_{", "{{")
            .replace("}_}", "}}")
            .replace("{_%", "{%")
            .replace("%_}", "%}")
        )
        return self.resolve_listing(dst_xml)

    def _shell(self, body_xml: str) -> str | None:
        """The document element around ``body_xml``, or None when another path is safer."""
        root = self.docx.element
        match = _BODY_START.match(body_xml)
        if len(root) != 1 or match is None or root.prefix != "w":
            return None
        if any(root.nsmap.get(p) != uri for p, uri in _DECLARATION.findall(match.group(1))):
            return None
        shell = etree.tostring(etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap))
        head = shell.decode().removesuffix("/>") + ">"
        return head + "<w:body>" + body_xml[match.end() :] + "</w:document>"

    def fix_tables(self, xml: str) -> Any:
        document = self._shell(xml)
        if document is None:
            return super().fix_tables(xml)
        root = etree.fromstring(document.encode(), parser=_parser())
        if not all(_grid_fits(t) for t in root.iter(f"{_W}tbl")):
            return super().fix_tables(xml)
        return root.find(f"{_W}body")

    def fix_docpr_ids(self, tree: Any) -> None:
        # docxtpl's, through lxml's xpath: python-docx's elements take no ``namespaces``.
        for elt in etree._Element.xpath(tree, "//wp:docPr", namespaces=nsmap):
            self.docx_ids_index += 1
            elt.attrib["id"] = str(self.docx_ids_index)

    def map_tree(self, tree: Any) -> None:
        root = tree.getparent()
        if root is None:  # docxtpl's own fix_tables made it
            super().map_tree(tree)
            return
        part = self.docx.part
        part._element = root
        self.docx = part.document  # a new python-docx Document over the new element


def render_docx(template: bytes, context: Mapping[str, Any]) -> RenderedFile:
    """Fill ``template`` (the .docx bytes) with ``context``; raise ``RenderError`` in Chinese."""
    try:
        doc = _Template(io.BytesIO(template))
    except Exception as exc:  # python-docx raises several unrelated types for a bad file
        raise RenderError(f"无法打开 Word 模板：{exc}") from exc
    values = dict(context)
    warnings: list[str] = []
    # Only draw the chart when the template asks for it: matplotlib is the slowest step.
    if "chart_by_process" in doc.get_undeclared_template_variables(make_environment()):
        chart = process_chart(values.get("by_process") or [])
        values["chart_by_process"] = InlineImage(
            doc, io.BytesIO(chart.png), width=Mm(CHART_WIDTH_MM)
        )
        if chart.warning:
            warnings.append(chart.warning)
    try:
        doc.render(values, jinja_env=make_environment(), autoescape=True)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"模板语法错误：{exc.message}（请先运行模板检查）") from exc
    except jinja2.UndefinedError as exc:
        raise RenderError(f"模板使用了不存在的变量或字段：{exc.message}") from exc
    out = io.BytesIO()
    doc.save(out)
    return RenderedFile(out.getvalue(), tuple(warnings))
