"""Generate the built-in templates: ``python -m orgcarbon.report_templates.builtin.build``.

Each tag is written as one run so Word-style run splitting cannot occur in the shipped files;
the script checks both results with the same checks consultants' uploads go through.
"""

from __future__ import annotations

import io
import sys

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import Table

from orgcarbon.report_templates.builtin import REPORT_DOCX, TABLES_XLSX
from orgcarbon.report_templates.builtin.build_xlsx import build_tables
from orgcarbon.report_templates.checks import check_docx, check_xlsx

__all__ = ["build_all", "build_report"]

Row = tuple[str, ...]


def _fonts(doc: Document) -> None:
    # East Asian text needs its own font attribute; 宋体 is what Chinese reports use.
    for name, size in (("Normal", 10.5), ("Heading 1", 15), ("Heading 2", 12), ("Title", 22)):
        style = doc.styles[name]
        style.font.name = "SimSun" if name == "Normal" else "SimHei"
        style.font.size = Pt(size)
        rpr = style.element.get_or_add_rPr()
        rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "宋体" if name == "Normal" else "黑体")


def _table(
    doc: Document,
    header: Row,
    rows: list[Row],
    loop: tuple[str, Row] | None,
    right: set[int],
    footer: list[Row] = (),
    widths: tuple[float, ...] = (),
    size: float | None = None,
) -> Table:  # type: ignore[assignment]
    """A grid table: fixed ``rows``, then a docxtpl row loop (``{%tr for %}``), then ``footer``.

    ``widths`` (cm per column) fix the layout so long numbers never wrap mid-digit; ``size`` (pt)
    sets the table's font size (小五号 9 pt for the wide detail tables).
    """
    table = doc.add_table(rows=0, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    if widths:
        table.autofit = False
    body: list[Row] = [header, *rows]
    if loop:
        body += [(f"{{%tr for r in {loop[0]} %}}",), loop[1], ("{%tr endfor %}",)]
    body += list(footer)
    for i, values in enumerate(body):
        cells = table.add_row().cells
        for j, text in enumerate(values):
            cells[j].text = text
            para = cells[j].paragraphs[0]
            if i == 0:
                para.runs[0].bold = True
                para.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif j in right:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if size:
                for run in para.runs:
                    run.font.size = Pt(size)
            if widths and len(values) == len(widths):
                cells[j].width = Cm(widths[j])
    if widths:
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)
    return table


def _para(
    doc: Document, text: str, *, center: bool = False, bold: bool = False, size: float | None = None
) -> None:
    p = doc.add_paragraph()
    run = p.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _cover(doc: Document) -> None:
    header = doc.sections[0].header.paragraphs[0]
    header.add_run("{% if draft %}草稿——数据未经审核锁定，不得作为正式报告{% endif %}").bold = True
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer = doc.sections[0].footer.paragraphs[0]
    footer.add_run("{{ org_name }} {{ report_year }} 年度温室气体排放报告")
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for _ in range(4):
        doc.add_paragraph()
    _para(doc, "中国钢铁生产企业", center=True, size=16)
    _para(doc, "温室气体排放报告", center=True, bold=True, size=26)
    _para(doc, "（依据 GB/T 32151.5 编制）", center=True, size=12)
    for _ in range(6):
        doc.add_paragraph()
    for label, tag in (
        ("报告主体（盖章）：", "{{ org_name }}"),
        ("报告年度：", "{{ report_year }} 年"),
        ("编制日期：", "{{ compile_date|cn_date }}"),
    ):
        _para(doc, label + tag, center=True, size=14)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _declaration(doc: Document) -> None:
    doc.add_heading("声明", level=1)
    doc.add_paragraph("{{ declaration_text }}")
    for _ in range(3):
        doc.add_paragraph()
    for text in (
        "报告主体（盖章）：{{ org_name }}",
        "法定代表人（签字）：{{ declaration_signatory }}",
        "日期：{{ compile_date|cn_date }}",
    ):
        p = doc.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _basic(doc: Document) -> None:
    doc.add_heading("一、报告主体基本信息", level=1)
    rows = [
        ("报告主体名称", "{{ org_name }}"),
        ("统一社会信用代码", "{{ org_code }}"),
        ("单位性质", "{{ org_nature }}"),
        ("所属行业", "{{ org_sector }}"),
        ("地址", "{{ org_address }}"),
        ("法定代表人", "{{ legal_representative }}"),
        ("填报负责人", "{{ contact_person }}"),
        ("联系电话", "{{ contact_phone }}"),
        ("报告年度", "{{ report_year }}"),
        ("核算期", "{{ period_start|cn_date }} 至 {{ period_end|cn_date }}"),
        ("核算方法", "{{ standard }}（{{ model_name }}，版本 {{ model_version }}）"),
    ]
    _table(doc, ("项目", "内容"), rows, None, set())


def _emissions(doc: Document) -> None:
    doc.add_heading("二、温室气体排放量", level=1)
    doc.add_paragraph(
        "{{ org_name }} {{ report_year }} 年度温室气体排放总量为 {{ total_tco2|num }} 吨二氧化碳"
        "（{{ total_tco2|wan }}吨），其中直接排放 {{ total_direct_tco2|num }} 吨，"
        "净购入电力和热力的间接排放 {{ indirect_tco2|num }} 吨。"
    )
    doc.add_paragraph("{%p if intensity_total is not none %}")
    doc.add_paragraph(
        "{{ intensity_product }}产量 {{ product_output_t|num }} 吨，单位{{ intensity_product }}"
        "排放量 {{ intensity_total|qty('tCO2/t') }} tCO2/t（直接排放 "
        "{{ intensity_direct|qty('tCO2/t') }} tCO2/t）。"
    )
    doc.add_paragraph("{%p endif %}")
    doc.add_heading("（一）按排放源汇总", level=2)
    _table(
        doc,
        ("排放源", "排放量（tCO2）", "计入总量（tCO2）"),
        [],
        ("emissions_by_source", ("{{ r.name }}", "{{ r.tco2|num }}", "{{ r.net_tco2|num }}")),
        {1, 2},
        [
            ("排放总量", "", "{{ total_tco2|num }}"),
            ("其中：直接排放", "", "{{ total_direct_tco2|num }}"),
            ("其中：间接排放（净）", "", "{{ indirect_tco2|num }}"),
        ],
    )
    doc.add_heading("（二）分工序排放量", level=2)
    _table(
        doc,
        ("工序", "排放量（tCO2）", "占比"),
        [],
        ("by_process", ("{{ r.process }}", "{{ r.tco2|num }}", "{{ r.share|pct }}")),
        {1, 2},
    )
    p = doc.add_paragraph("{{ chart_by_process }}")
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _para(doc, "图 1  分工序二氧化碳排放量", center=True, size=9)
    doc.add_heading("（三）分子工序排放量", level=2)
    _table(
        doc,
        ("工序", "子工序", "排放量（tCO2）", "直接排放（tCO2）"),
        [],
        (
            "by_subprocess",
            (
                "{{ r.process }}",
                "{{ r.subprocess or '（未细分）' }}",
                "{{ r.tco2|num }}",
                "{{ r.direct_tco2|num }}",
            ),
        ),
        {2, 3},
    )
    doc.add_heading("（四）分月排放量", level=2)
    _table(
        doc,
        ("月份", "排放总量（tCO2）", "直接排放（tCO2）", "燃料燃烧（tCO2）", "工业过程（tCO2）"),
        [],
        (
            "by_month",
            (
                "{{ r.period }}",
                "{{ r.tco2|num }}",
                "{{ r.direct_tco2|num }}",
                "{{ r.e_combustion|num }}",
                "{{ r.e_process|num }}",
            ),
        ),
        {1, 2, 3, 4},
    )


def _data(doc: Document) -> None:
    doc.add_heading("三、活动数据及来源说明", level=1)
    _table(
        doc,
        ("工序", "子工序", "类别", "物料", "消耗量", "单位", "活动数据", "单位", "来源"),
        [],
        (
            "activity_data",
            (
                "{{ r.process }}",
                "{{ r.subprocess }}",
                "{{ r.category }}",
                "{{ r.material }}",
                "{{ r.quantity|num }}",
                "{{ r.unit }}",
                "{{ r.activity|num }}",
                "{{ r.activity_unit }}",
                "{{ r.source }}",
            ),
        ),
        {4, 6},
        widths=(2.0, 2.4, 2.2, 2.4, 3.3, 1.6, 3.5, 1.6, 5.6),
        size=9,
    )
    doc.add_heading("四、排放因子数据及来源说明", level=1)
    doc.add_paragraph("下表列出核算采用的每个参数，并注明其为实测值、缺省值或数据包指定值。")
    _table(
        doc,
        ("物料", "参数", "数值", "单位", "取值方式", "来源"),
        [],
        (
            "factors",
            (
                "{{ r.material }}",
                "{{ r.parameter }}",
                "{{ r.value }}",
                "{{ r.unit }}",
                "{{ r.origin }}",
                "{{ r.source }}",
            ),
        ),
        {2},
        widths=(3.0, 3.6, 2.8, 2.8, 2.4, 10.0),
        size=9,
    )
    doc.add_heading("五、其他希望说明的情况", level=1)
    doc.add_paragraph("{%p for t in other_explanations %}")
    doc.add_paragraph("{{ loop.index }}. {{ t }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p if not other_explanations %}")
    doc.add_paragraph("无。")
    doc.add_paragraph("{%p endif %}")


def _landscape(section: object) -> None:
    """Turn a section to A4 landscape (width and height swapped, margins kept)."""
    width, height = section.page_width, section.page_height  # type: ignore[attr-defined]
    section.orientation = WD_ORIENT.LANDSCAPE  # type: ignore[attr-defined]
    section.page_width, section.page_height = max(width, height), min(width, height)  # type: ignore[attr-defined]


def build_report() -> bytes:
    """The GB/T 32151.5 report template as .docx bytes."""
    doc = Document()
    doc.sections[0].page_width, doc.sections[0].page_height = Mm(210), Mm(297)  # A4, not python-docx's Letter
    _fonts(doc)
    _cover(doc)
    _declaration(doc)
    _basic(doc)
    _emissions(doc)
    _landscape(doc.add_section(WD_SECTION.NEW_PAGE))  # the wide detail tables read across the page
    _data(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def build_all() -> int:
    """Write both templates; return 1 if either fails its own checks."""
    report, tables = build_report(), build_tables()
    status = 0
    for path, data, check in ((REPORT_DOCX, report, check_docx), (TABLES_XLSX, tables, check_xlsx)):
        result = check(data)
        print(f"{path.name}: {result.summary()}")
        for issue in result.issues:
            print(f"  {issue}")
        status |= 0 if result.ok else 1
        path.write_bytes(data)
    return status


if __name__ == "__main__":
    sys.exit(build_all())
