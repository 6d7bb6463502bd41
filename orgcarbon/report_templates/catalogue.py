"""The variable catalogue: every name a report template may use, described once.

``context.build_context`` fills exactly these names (it checks itself against this list at
import), the template checks accept exactly these names, and the docs table is generated from
here, so catalogue, context, checks and docs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "Field",
    "Kind",
    "Variable",
    "catalogue_markdown",
    "example_context",
]

Kind = Literal["scalar", "list", "table", "image"]


@dataclass(frozen=True)
class Field:
    """One column of a table variable (``{{ row.<name> }}`` inside a loop)."""

    name: str
    description: str
    unit: str
    example: Any


@dataclass(frozen=True)
class Variable:
    """One top-level name of the render context."""

    name: str
    group: str
    description: str
    unit: str
    kind: Kind
    example: Any
    fields: tuple[Field, ...] = ()

    def example_value(self) -> Any:
        """The example as the context would hold it (a table is a list of row dicts)."""
        if self.kind == "table":
            return [{f.name: f.example for f in self.fields}]
        return self.example


def _s(name: str, group: str, description: str, unit: str, example: Any) -> Variable:
    return Variable(name, group, description, unit, "scalar", example)


def _t(name: str, group: str, description: str, *fields: tuple[str, str, str, Any]) -> Variable:
    return Variable(name, group, description, "", "table", None, tuple(Field(*f) for f in fields))


_INFO, _TOTAL, _TABLE, _DECL = "报告主体基本信息", "排放量", "明细表", "声明与说明"

CATALOGUE: tuple[Variable, ...] = (
    _s("org_name", _INFO, "报告主体名称", "", "示例联合钢铁有限公司"),
    _s("org_code", _INFO, "统一社会信用代码", "", "91130200MA0XXXXXXX"),
    _s("org_nature", _INFO, "单位性质", "", "有限责任公司"),
    _s("org_sector", _INFO, "所属行业", "", "钢铁生产"),
    _s("org_address", _INFO, "注册地址 / 经营地址", "", "河北省唐山市××区××路1号"),
    _s("legal_representative", _INFO, "法定代表人", "", "张三"),
    _s("contact_person", _INFO, "填报负责人", "", "李四"),
    _s("contact_phone", _INFO, "联系电话", "", "0315-1234567"),
    _s("report_year", _INFO, "报告年度", "年", 2022),
    _s("period_start", _INFO, "核算期开始日期（ISO 日期）", "", "2022-01-01"),
    _s("period_end", _INFO, "核算期结束日期（ISO 日期）", "", "2022-12-31"),
    _s("compile_date", _INFO, "编制日期（ISO 日期，可用 cn_date 过滤器）", "", "2023-03-31"),
    _s("standard", _INFO, "核算方法标准", "", "GB/T 32151.5-2015"),
    _s("model_name", _INFO, "核算模型名称", "", "GB/T 32151.5-2015 默认模型"),
    _s("model_version", _INFO, "核算模型版本", "", "1"),
    _s("draft", _INFO, "是否为草稿（数据未审核锁定时为真，模板应显示“草稿”）", "", False),
    _s("total_tco2", _TOTAL, "排放总量（含净购入电力和热力）", "tCO2", 5163239.0),
    _s("total_direct_tco2", _TOTAL, "直接排放量（燃烧 + 过程 − 固碳）", "tCO2", 4568909.0),
    _s("indirect_tco2", _TOTAL, "净购入电力和热力间接排放量", "tCO2", 594330.0),
    _s("e_combustion", _TOTAL, "化石燃料燃烧排放量 E燃烧", "tCO2", 4257061.86),
    _s("e_process", _TOTAL, "工业生产过程排放量 E过程", "tCO2", 366647.14),
    _s("e_purchased_electricity", _TOTAL, "购入电力排放量 E购入电", "tCO2", 684360.0),
    _s("e_purchased_heat", _TOTAL, "购入热力排放量 E购入热", "tCO2", 0.0),
    _s("e_exported_electricity", _TOTAL, "输出电力排放量 E输出电（扣减，正数）", "tCO2", 57030.0),
    _s("e_exported_heat", _TOTAL, "输出热力排放量 E输出热（扣减，正数）", "tCO2", 33000.0),
    _s("r_fixed_carbon", _TOTAL, "固碳产品隐含排放量 R固碳（扣减，正数）", "tCO2", 54800.0),
    _s("intensity_product", _TOTAL, "排放强度的产品", "", "粗钢"),
    _s("product_output_t", _TOTAL, "产品产量", "t", 3000000.0),
    _s("intensity_total", _TOTAL, "单位产品排放量（含间接）", "tCO2/t", 1.7211),
    _s("intensity_direct", _TOTAL, "单位产品直接排放量", "tCO2/t", 1.5230),
    _t(
        "emissions_by_source",
        _TABLE,
        "按排放源汇总（GB/T 32151.5 各项，扣减项 sign 为 -1）",
        ("key", "排放项代码", "", "fuel_combustion"),
        ("name", "排放项名称", "", "化石燃料燃烧 E燃烧"),
        ("tco2", "排放量（按标准计，扣减项为正数）", "tCO2", 4257061.86),
        ("sign", "计入总量的符号（1 计入，-1 扣减）", "", 1),
        ("net_tco2", "计入总量的带符号排放量", "tCO2", 4257061.86),
    ),
    _t(
        "activity_data",
        _TABLE,
        "活动数据及来源（每条记录一行）",
        ("row", "数据包行号", "", 1),
        ("process", "工序", "", "焦化"),
        ("subprocess", "子工序", "", "1#焦炉"),
        ("month", "月份（年度数据为空）", "", ""),
        ("category", "排放类别", "", "燃料燃烧"),
        ("material", "物料 / 能源品种", "", "洗精煤"),
        ("quantity", "消耗量 / 产量（原始单位）", "见 unit", 1350000.0),
        ("unit", "原始单位", "", "t"),
        ("activity", "活动数据（换算后）", "见 activity_unit", 35564400.0),
        ("activity_unit", "活动数据单位", "", "GJ"),
        ("ef", "综合排放因子", "见 ef_unit", 0.08382),
        ("ef_unit", "排放因子单位", "", "tCO2/GJ"),
        ("tco2", "计入总量的带符号排放量", "tCO2", 2981008.01),
        ("source", "活动数据来源说明", "", "活动数据包第 1 行"),
    ),
    _t(
        "factors",
        _TABLE,
        "排放因子及来源（实测值 / 缺省值 / 指定值）",
        ("material", "物料 / 能源品种", "", "洗精煤"),
        ("parameter", "参数", "", "低位发热量"),
        ("value", "数值", "见 unit", 26.344),
        ("unit", "单位", "", "GJ/t"),
        ("origin", "取值方式：实测值、缺省值或指定值", "", "缺省值"),
        ("measured", "是否实测", "", False),
        ("source", "来源（标准表号或实测说明）", "", "GB/T 32151.5-2015 表B.1"),
        ("grade", "数据可信度等级", "", "C"),
    ),
    _t(
        "by_process",
        _TABLE,
        "分工序排放量",
        ("process", "工序", "", "焦化"),
        ("tco2", "净排放量", "tCO2", 2794793.73),
        ("share", "占排放总量比例（小数）", "", 0.5413),
    ),
    _t(
        "by_subprocess",
        _TABLE,
        "分子工序排放量",
        ("process", "工序", "", "焦化"),
        ("subprocess", "子工序（空为未细分）", "", "1#焦炉"),
        ("tco2", "净排放量", "tCO2", 2981008.01),
        ("direct_tco2", "直接排放量", "tCO2", 2981008.01),
    ),
    _t(
        "by_month",
        _TABLE,
        "分月排放量（年度数据只有一行）",
        ("period", "月份（YYYY-MM）或年份", "", "2022-01"),
        ("tco2", "排放总量", "tCO2", 430269.92),
        ("direct_tco2", "直接排放量", "tCO2", 380742.42),
        ("e_combustion", "化石燃料燃烧排放量", "tCO2", 354755.16),
        ("e_process", "工业生产过程排放量", "tCO2", 30553.93),
    ),
    Variable(
        "other_explanations",
        _DECL,
        "其他希望说明的情况（每项一段）",
        "",
        "list",
        ["本报告采用 GB/T 32151.5-2015 缺省排放因子。"],
    ),
    _s("declaration_text", _DECL, "真实性声明正文", "", "本单位郑重承诺……"),
    _s("declaration_signatory", _DECL, "声明签署人（法定代表人）", "", "张三"),
    _s("generated_at", _DECL, "报告生成时间（ISO 时间）", "", "2023-03-31T10:00:00+08:00"),
    Variable("chart_by_process", _TABLE, "分工序排放量柱状图（仅 Word）", "", "image", None),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in CATALOGUE}


def example_context() -> dict[str, Any]:
    """A context from the catalogue's examples, for previews and template checks."""
    return {v.name: v.example_value() for v in CATALOGUE}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table (pasted into docs/reports.md)."""
    out = ["| 变量 | 分组 | 类型 | 说明 | 单位 | 示例 |", "|---|---|---|---|---|---|"]
    for v in CATALOGUE:
        example = "" if v.kind in ("table", "image") else _cell(v.example)
        out.append(
            f"| `{v.name}` | {v.group} | {v.kind} | {_cell(v.description)} | {v.unit} | {example} |"
        )
        for f in v.fields:
            out.append(
                f"| `{v.name}[].{f.name}` | | 列 | {_cell(f.description)} | {f.unit} "
                f"| {_cell(f.example)} |"
            )
    return "\n".join(out) + "\n"
