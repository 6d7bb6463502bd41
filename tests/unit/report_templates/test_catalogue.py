"""Catalogue and context describe the same variables; number filters format as reports expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orgcarbon.report_templates.catalogue import CATALOGUE, catalogue_markdown, example_context
from orgcarbon.report_templates.numbers import cn_date, deduction, num, pct, qty, wan


def test_every_context_key_is_catalogued_and_vice_versa(context: dict[str, Any]) -> None:
    assert set(context) == {v.name for v in CATALOGUE}
    assert set(example_context()) == set(context)


def test_table_rows_have_exactly_the_catalogued_fields(context: dict[str, Any]) -> None:
    for variable in CATALOGUE:
        value = context[variable.name]
        if variable.kind == "table":
            assert value, variable.name
            assert {tuple(row) for row in value} == {tuple(f.name for f in variable.fields)}
        elif variable.kind == "list":
            assert isinstance(value, list)


def test_context_figures_equal_the_golden_result(context: dict[str, Any]) -> None:
    assert round(context["total_tco2"], 2) == 5163239.00
    assert round(context["total_direct_tco2"], 2) == 4568909.00
    assert context["indirect_tco2"] == 594330.0
    assert round(sum(r["tco2"] for r in context["by_process"]), 6) == round(
        context["total_tco2"], 6
    )
    assert round(sum(r["net_tco2"] for r in context["emissions_by_source"]), 6) == round(
        context["total_tco2"], 6
    )
    assert len(context["activity_data"]) == 20


def test_number_filters() -> None:
    assert num(5163238.99773) == "5,163,239.00"
    assert num(-0.001) == "0.00"
    assert num(None) == "—"
    assert qty(1.72107966, "tCO2/t") == "1.7211"
    assert wan(5163238.99773) == "516.32万"
    assert deduction(57030) == "-57,030.00" and deduction(-57030) == "-57,030.00"
    assert pct(0.54128692) == "54.13%"
    assert cn_date("2023-03-31") == "2023年3月31日"


def test_catalogue_markdown_lists_variables_and_fields() -> None:
    text = catalogue_markdown()
    assert (
        "| `total_tco2` | 排放量 | scalar | 排放总量（含净购入电力和热力） | tCO2 | 5163239.0 |"
        in text
    )
    assert "`by_process[].share`" in text


def test_docs_carry_the_current_catalogue() -> None:
    docs = Path(__file__).parents[3] / "docs/reports.md"
    assert catalogue_markdown() in docs.read_text(encoding="utf-8")
