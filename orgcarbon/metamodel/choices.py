"""Closed lists of values as data: stored key → Chinese label (the form shows the label)."""

from __future__ import annotations

from orgcarbon.rules.factors import GRID_REGIONS
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.units import DIMENSION_NAMES

Choices = dict[str, str]

ORG_LEVELS: Choices = {"集团": "集团", "公司": "公司", "厂区": "厂区"}
# The seven regional grids of the MEE/NBS notices; keys are what the factor rows carry.
GRID_REGION_CHOICES: Choices = {r: r for r in GRID_REGIONS}
FACTOR_REGIONS: Choices = {"全国": "全国", **GRID_REGION_CHOICES}
STATUS_ACTIVE: Choices = {"active": "运行", "idle": "停用", "planned": "规划"}

MATERIAL_CATEGORIES: Choices = {
    "fuel": "燃料",
    "flux": "熔剂",
    "electrode": "电极",
    "carbon_raw_material": "含碳原料",
    "electricity": "电力",
    "heat": "热力",
    "product": "产品",
    "byproduct_gas": "副产煤气",
    "other": "其他",
}
MATERIAL_STATES: Choices = {"solid": "固态", "liquid": "液态", "gas": "气态", "energy": "能源"}
DIMENSIONS: Choices = dict(DIMENSION_NAMES)

# Fuel parameters (ncv, cc, of) and emission factors. There is deliberately no "fuel EF" kind:
# a fuel's EF is always CC × OF × 44/12, derived and never typed.
FACTOR_KINDS: Choices = {
    "ncv": "低位发热量 NCV",
    "cc": "单位热值含碳量 CC",
    "of": "碳氧化率 OF",
    "process": "过程排放因子",
    "fixed_carbon": "固碳产品排放因子",
    "electricity": "电网排放因子",
    "heat": "热力排放因子",
}
FUEL_PARAMETER_KINDS = ("ncv", "cc", "of")
EVIDENCE_GRADES: Choices = {
    "A": "A 实测（检测报告）",
    "B": "B 官方发布值",
    "C": "C 标准推荐值",
    "D": "D 参考值（未核实）",
}
VERSION_STATUS: Choices = {"draft": "草稿", "published": "已发布", "superseded": "已被取代"}
DIRECTIONS: Choices = {"in": "投入", "out": "产出"}
CATEGORIES: Choices = dict(CATEGORY_NAMES)
